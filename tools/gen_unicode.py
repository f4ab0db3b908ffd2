#!/usr/bin/env python3
"""gen_unicode.py — generate engine/unicode_data.c, the code-point class table
the tokenizer's pre-tokenizers match against.

    python3 tools/gen_unicode.py > engine/unicode_data.c
    python3 tools/gen_unicode.py --ucd /usr/share/unicode > engine/unicode_data.c

Each code point gets exactly one general-category class, as llama.cpp's own
table (src/unicode-data.cpp) assigns them:

    Cn (unassigned)          -> UNI_UNDEFINED
    N*  -> UNI_NUMBER        L* -> UNI_LETTER        Z* -> UNI_SEPARATOR
    M*  -> UNI_MARK          P* -> UNI_PUNCT         S* -> UNI_SYMBOL
    Cc, Cf, Cs, Co           -> UNI_CONTROL

plus UNI_WHITESPACE for the White_Space property (what `\\s` means to the
reference's regexes).  Consecutive code points with equal flags collapse into
one range; the C side binary-searches the range starts.

Data source.  llama.cpp's table is Unicode 15.1.  Python's `unicodedata`
(3.11: Unicode 14.0) lags behind, so when the Unicode Character Database
files are present (Debian's `unicode-data` package installs Unicode 15.0 into
/usr/share/unicode) they are used instead, and the 627 code points Unicode 15.1
added to 15.0 are patched in from the table below.  Without them the script
falls back to `unicodedata` and says so in the generated header; the
difference only concerns characters assigned after that version.

The generated file is committed: building frontdesk never needs Python.
"""
import argparse
import os
import sys
import unicodedata

MAX_CP = 0x110000

UNDEFINED, NUMBER, LETTER, SEPARATOR = 0x01, 0x02, 0x04, 0x08
MARK, PUNCT, SYMBOL, CONTROL = 0x10, 0x20, 0x40, 0x80
WHITESPACE = 0x100

CLASS_OF = {"N": NUMBER, "L": LETTER, "Z": SEPARATOR, "M": MARK,
            "P": PUNCT, "S": SYMBOL, "C": CONTROL}
NAMES = {UNDEFINED: "UNI_UNDEFINED", NUMBER: "UNI_NUMBER", LETTER: "UNI_LETTER",
         SEPARATOR: "UNI_SEPARATOR", MARK: "UNI_MARK", PUNCT: "UNI_PUNCT",
         SYMBOL: "UNI_SYMBOL", CONTROL: "UNI_CONTROL"}

# PropList.txt White_Space (unchanged since Unicode 6.3); used when the UCD
# files are absent, since `unicodedata` does not expose the property.
WHITE_SPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
               *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]

# Unicode 15.1 additions: (first, last, general category).
UNICODE_15_1 = [(0x2EBF0, 0x2EE5D, "Lo"),   # CJK Unified Ideographs Extension I
                (0x2FFC, 0x2FFF, "So"),     # ideographic description characters
                (0x31EF, 0x31EF, "So")]


def categories_from_ucd(path):
    """General category of every code point from UnicodeData.txt ('Cn' default)."""
    cat = ["Cn"] * MAX_CP
    first = None
    with open(os.path.join(path, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp, name, gc = int(fields[0], 16), fields[1], fields[2]
            if name.endswith(", First>"):
                first = cp
                continue
            if name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    cat[c] = gc
                first = None
                continue
            cat[cp] = gc
    return cat


def white_space_from_ucd(path):
    out = []
    with open(os.path.join(path, "PropList.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            cps, prop = [s.strip() for s in line.split(";")]
            if prop != "White_Space":
                continue
            if ".." in cps:
                a, b = cps.split("..")
                out.extend(range(int(a, 16), int(b, 16) + 1))
            else:
                out.append(int(cps, 16))
    return sorted(out)


def ucd_version(path):
    with open(os.path.join(path, "DerivedAge.txt"), encoding="utf-8") as f:
        head = f.readline()  # "# DerivedAge-15.0.0.txt"
    return head.strip().lstrip("# ").replace("DerivedAge-", "").replace(".txt", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ucd", default="/usr/share/unicode",
                    help="directory with UnicodeData.txt, PropList.txt, DerivedAge.txt")
    args = ap.parse_args()

    if os.path.exists(os.path.join(args.ucd, "UnicodeData.txt")):
        cat = categories_from_ucd(args.ucd)
        ws = white_space_from_ucd(args.ucd)
        version = ucd_version(args.ucd)
        source = "the Unicode Character Database %s in %s" % (version, args.ucd)
    else:
        cat = [unicodedata.category(chr(c)) for c in range(MAX_CP)]
        ws = WHITE_SPACE
        version = unicodedata.unidata_version
        source = "Python's unicodedata (Unicode %s)" % version
        print("gen_unicode: %s not found, using %s" % (args.ucd, source), file=sys.stderr)

    patched = 0
    if version.startswith("15.0."):  # one step from llama.cpp's 15.1
        for first, last, gc in UNICODE_15_1:
            for c in range(first, last + 1):
                if cat[c] == "Cn":
                    cat[c] = gc
                    patched += 1

    wsset = set(ws)
    flags = []
    for c in range(MAX_CP):
        gc = cat[c]
        f = UNDEFINED if gc == "Cn" else CLASS_OF[gc[0]]
        if c in wsset:
            f |= WHITESPACE
        flags.append(f)

    ranges = [(0, flags[0])]
    for c in range(1, MAX_CP):
        if flags[c] != ranges[-1][1]:
            ranges.append((c, flags[c]))

    def name(f):
        s = NAMES[f & 0xFF]
        return s + " | UNI_WHITESPACE" if f & WHITESPACE else s

    out = sys.stdout
    out.write("/*\n * unicode_data.c — GENERATED by tools/gen_unicode.py; do not edit.\n")
    out.write(" *\n * Source: %s" % source)
    if patched:
        out.write(",\n * plus the %d code points added in Unicode 15.1" % patched)
    out.write(".\n * One entry per run of code points sharing the same class flags;\n")
    out.write(" * a run ends where the next one starts (the last ends at U+10FFFF).\n */\n")
    out.write('#include "engine/unicode.h"\n\n')
    out.write("const uni_range uni_ranges[] = {\n")
    for start, f in ranges:
        out.write("    {0x%06X, %s},\n" % (start, name(f)))
    out.write("};\n\n")
    out.write("const size_t uni_ranges_count = sizeof uni_ranges / sizeof uni_ranges[0];\n\n")
    out.write("/* The same flags for U+0000..U+007F, looked up directly. */\n")
    out.write("const uint16_t uni_ascii_flags[128] = {\n")
    for c in range(0, 128, 8):
        out.write("    " + " ".join("0x%03X," % flags[c + k] for k in range(8)) + "\n")
    out.write("};\n")


if __name__ == "__main__":
    main()
