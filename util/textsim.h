/*
 * textsim.h — how close a generated reply is to a reference reply: chrF
 * (character n-gram F-score) and ROUGE-L (longest common subsequence of
 * words), both over UTF-8 text taken as code points, never bytes.
 *
 * chrF follows the definition sacreBLEU uses by default (chrF2: n = 1..6,
 * β = 2, whitespace removed before counting):
 *   for each order n, the hypothesis and reference n-gram multisets H_n
 *   and R_n and their matches M_n = Σ_g min(H_n(g), R_n(g));
 *   over the orders where both have at least one n-gram ("effective"
 *   orders), the mean precision P = mean(M_n / |H_n|) and mean recall
 *   R = mean(M_n / |R_n|);
 *   chrF = 100 (1 + β²) P R / (β² P + R), 0 when P + R = 0 or no order is
 *   effective (so an empty text on either side scores 0).
 * Whitespace is every code point Python's str.isspace() accepts (ASCII
 * \t \n \v \f \r space and 0x1C-0x1F, U+0085, U+00A0, U+1680, U+2000-200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000).
 *
 * ROUGE-L F1: tokens split on that whitespace, compared byte for byte;
 * L the length of their longest common subsequence; P = L / |hyp|,
 * R = L / |ref|, F1 = 2 P R / (P + R) in [0, 1]; 0 when either side has no
 * token or L = 0.
 *
 * Invalid UTF-8 counts as U+FFFD per bad byte (util_utf8_decode).  Pure
 * functions; memory is allocated per call and out-of-memory aborts.
 */
#ifndef FRONTDESK_TEXTSIM_H
#define FRONTDESK_TEXTSIM_H

#include <stdbool.h>
#include <stdint.h>

/* chrF of hyp against ref, 0..100 (see above). */
double textsim_chrf(const char *hyp, const char *ref);

/* ROUGE-L F1 of hyp against ref, 0..1 (see above). */
double textsim_rouge_l(const char *hyp, const char *ref);

/* Whether code point cp is whitespace as both measures count it. */
bool textsim_is_space(uint32_t cp);

#endif
