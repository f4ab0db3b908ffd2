/*
 * unicode.c — code-point classes, llama.cpp-compatible UTF-8 decoding and the
 * GPT-2 byte alphabet.  See unicode.h.
 */
#include "engine/unicode.h"

unsigned uni_flags(uint32_t cp)
{
    if (cp < 0x80)
        return uni_ascii_flags[cp];
    if (cp >= 0x110000)
        return UNI_UNDEFINED;
    /* The last range whose start is <= cp. */
    size_t lo = 0, hi = uni_ranges_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (uni_ranges[mid].start <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return uni_ranges[lo].flags;
}

size_t uni_seq_len(unsigned char lead)
{
    static const unsigned char by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                     1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[lead >> 4];
}

static int is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

uint32_t uni_decode(const unsigned char *s, size_t len, size_t *adv)
{
    unsigned char b0 = s[0];
    if (!(b0 & 0x80)) {
        *adv = 1;
        return b0;
    }
    if ((b0 & 0xE0) == 0xC0 && len >= 2 && is_cont(s[1])) {
        *adv = 2;
        return ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if ((b0 & 0xF0) == 0xE0 && len >= 3 && is_cont(s[1]) && is_cont(s[2])) {
        *adv = 3;
        return ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    if ((b0 & 0xF8) == 0xF0 && len >= 4 && is_cont(s[1]) && is_cont(s[2]) && is_cont(s[3])) {
        *adv = 4;
        return ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
    /* A continuation byte, 0xF8-0xFF, or a truncated/broken sequence. */
    *adv = 1;
    return 0xFFFD;
}

/* Bytes that are their own code point in GPT-2's alphabet. */
static int byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

/* The 68 other bytes, in order, are 0x00-0x20, 0x7F-0xA0 and 0xAD. */
uint32_t uni_byte_to_cp(unsigned char byte)
{
    if (byte_is_printable(byte))
        return byte;
    if (byte <= 0x20)
        return 0x100 + byte;
    if (byte <= 0xA0)
        return 0x100 + 33 + (byte - 0x7F);
    return 0x100 + 67; /* 0xAD */
}

int uni_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68)
        return -1;
    unsigned n = cp - 0x100;
    if (n < 33)
        return (int)n;
    if (n < 67)
        return (int)(0x7F + n - 33);
    return 0xAD;
}
