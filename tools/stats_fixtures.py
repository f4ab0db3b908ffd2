#!/usr/bin/python3
"""stats_fixtures.py — SciPy's answers for tests/test_stats.c (util/stats.c).

    /usr/bin/python3 tools/stats_fixtures.py [OUTDIR]   (default tests/fixtures/stats)

Writes one JSON file per function family, each holding the inputs (drawn
from a fixed numpy seed, so a rerun writes the same files) and SciPy's
outputs as Python's shortest round-trip float reprs:

  fisher.json   scipy.stats.fisher_exact(table).pvalue: small random tables,
                large ones (5,000 to 1,000,000 per arm), zeros, identical
                arms, an all-zero row, tables with a mirror tie
  mwu.json      scipy.stats.mannwhitneyu(x, y, method=...): 'asymptotic'
                (use_continuity=True) on small and ~500-value samples, heavy
                ties, integer 1-5 scores, identical arms, a single repeated
                value; 'exact' on tie-free samples of sizes 1..8
  wilson.json   binomtest(k, n).proportion_ci(method='wilson') at 95%
  norm.json     norm.ppf and norm.cdf at a few points
  power.json    the ratings-per-arm formula of stats_power_n_thumbs
                evaluated here with norm.ppf

SciPy is needed only to regenerate these files (apt-get install
python3-scipy); make test reads the committed JSON and never runs this.
Which MWU method a case uses is the rule util/stats.h documents (exact when
both samples have at most 8 values and no ties), passed to SciPy explicitly.
"""
import json
import os
import sys

try:
    import numpy as np
    import scipy
    from scipy import stats
except ImportError as e:  # pragma: no cover
    sys.exit("stats_fixtures.py: needs numpy and SciPy (apt-get install python3-scipy): %s" % e)

SEED = 20240601
Z95 = float(stats.norm.ppf(0.975))


def meta(what):
    return {"generator": "tools/stats_fixtures.py", "seed": SEED, "scipy": scipy.__version__,
            "numpy": np.__version__, "what": what}


def fisher_cases(rng):
    cases = []

    def add(kind, a, b, c, d):
        p = stats.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue
        cases.append({"kind": kind, "table": [int(a), int(b), int(c), int(d)], "p": float(p)})

    for _ in range(40):  # small: cells 0..40
        a, b, c, d = (int(v) for v in rng.integers(0, 41, size=4))
        add("small", a, b, c, d)
    for _ in range(10):  # small, lopsided rates (tiny p-values)
        n1, n2 = (int(v) for v in rng.integers(20, 120, size=2))
        k1 = int(rng.binomial(n1, 0.1))
        k2 = int(rng.binomial(n2, 0.6))
        add("small-lopsided", k1, n1 - k1, k2, n2 - k2)
    # large: error rates per arm of 5,000 to 1,000,000 requests
    for n1, n2, r1, r2 in [(5000, 10000, 0.10, 0.11), (10000, 10000, 0.10, 0.10), (10000, 5000, 0.2, 0.18),
                           (100000, 100000, 0.05, 0.052), (1000000, 1000000, 0.01, 0.0101),
                           (1000000, 500000, 0.3, 0.3), (20000, 20000, 0.02, 0.04)]:
        k1 = int(rng.binomial(n1, r1))
        k2 = int(rng.binomial(n2, r2))
        add("large", k1, n1 - k1, k2, n2 - k2)
    for t in [(0, 10, 0, 12), (0, 5, 3, 0), (3, 0, 0, 4), (0, 20, 5, 15), (10, 0, 7, 3), (0, 1, 1, 0),
              (0, 0, 0, 0), (1, 0, 0, 0), (100, 0, 0, 100)]:
        add("zeros", *t)
    for t in [(0, 0, 5, 7), (4, 9, 0, 0), (0, 0, 100, 900)]:
        add("zero-row", *t)
    for t in [(12, 88, 12, 88), (500, 9500, 500, 9500), (1, 1, 1, 1), (7, 0, 7, 0), (3, 40, 3, 40)]:
        add("identical", *t)
    for t in [(2, 8, 8, 2), (8, 2, 2, 8), (5, 10, 10, 5), (30, 70, 70, 30), (1, 9, 9, 1)]:
        add("mirror", *t)
    return cases


def rounded(v):
    return [float(round(float(t), 4)) for t in v]


def has_ties(x, y):
    v = list(x) + list(y)
    return len(set(v)) != len(v)


def mwu_cases(rng):
    cases = []

    def add(kind, x, y, method):
        r = stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided", method=method)
        cases.append({"kind": kind, "method": method, "x": list(x), "y": list(y),
                      "u": float(r.statistic), "p": float(r.pvalue)})

    for nx, ny, shift in [(5, 12, 0.8), (10, 10, 0.0), (15, 9, 1.0), (9, 30, -0.5), (20, 25, 0.3)]:
        add("small", rounded(rng.normal(0, 1, nx)), rounded(rng.normal(shift, 1, ny)), "asymptotic")
    for nx, ny, shift in [(500, 450, 0.1), (480, 520, 0.0)]:
        add("large", rounded(rng.normal(10, 3, nx)), rounded(rng.lognormal(2.3 + shift / 10, 0.3, ny)), "asymptotic")
    for nx, ny in [(40, 60), (300, 280)]:
        add("ties", [float(v) for v in rng.integers(0, 4, nx)], [float(v) for v in rng.integers(0, 5, ny)],
            "asymptotic")
    for nx, ny, px, py in [(200, 180, [.1, .1, .2, .3, .3], [.15, .1, .25, .3, .2]),
                           (50, 45, [.05, .05, .1, .3, .5], [.3, .2, .2, .2, .1]),
                           (12, 7, [.2, .2, .2, .2, .2], [.2, .2, .2, .2, .2])]:
        add("scores", [float(v) for v in rng.choice([1, 2, 3, 4, 5], nx, p=px)],
            [float(v) for v in rng.choice([1, 2, 3, 4, 5], ny, p=py)], "asymptotic")
    same = rounded(rng.normal(0, 1, 25))
    add("identical", same, list(same), "asymptotic")
    add("identical", [1.0, 2.0, 2.0, 5.0], [1.0, 2.0, 2.0, 5.0], "asymptotic")
    add("one-value", [3.0, 3.0, 3.0], [3.0, 3.0], "asymptotic")
    for nx, ny, shift in [(1, 1, 0.0), (1, 5, 1.0), (2, 3, 0.5), (3, 3, 2.0), (4, 7, 1.5), (5, 5, 0.0),
                          (8, 8, 1.0), (6, 8, 3.0), (8, 1, 0.0), (7, 4, -2.0), (8, 8, 10.0), (3, 8, 0.2)]:
        while True:
            x = rounded(rng.normal(0, 1, nx))
            y = rounded(rng.normal(shift, 1, ny))
            if not has_ties(x, y):
                break
        add("exact", x, y, "exact")
    return cases


def wilson_cases():
    cases = []
    for k, n in [(0, 1), (1, 1), (1, 2), (0, 10), (10, 10), (3, 10), (7, 7), (50, 100), (1, 1000),
                 (999, 1000), (123, 456), (0, 5000), (4321, 5000), (1, 3)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        cases.append({"k": k, "n": n, "lo": float(ci.low), "hi": float(ci.high)})
    return cases


def norm_cases():
    ps = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.001, 0.01, 0.02, 0.02425, 0.025, 0.1, 0.3, 0.5, 0.7, 0.8,
          0.9, 0.97575, 0.975, 0.99, 0.999, 1 - 1e-10, 1 - 1e-15]
    xs = [-38.0, -20.0, -10.0, -5.0, -1.959963984540054, -1.0, 0.0, 0.5, 1.0, 3.0, 8.0]
    return ({"ppf": [{"p": p, "x": float(stats.norm.ppf(p))} for p in ps],
             "cdf": [{"x": x, "p": float(stats.norm.cdf(x))} for x in xs]})


def power_cases():
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    cases = []
    for p1 in [0.0, 0.05, 0.0999, 0.1, 0.2, 0.35, 0.5, 0.8, 0.95, 1.0]:
        p2 = p1 + 0.10 if p1 < 0.10 else p1 - 0.10
        pb = (p1 + p2) / 2
        n = (za * np.sqrt(2 * pb * (1 - pb)) + zb * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / 0.10 ** 2
        cases.append({"p1": p1, "n": float(n)})
    return cases


def write(outdir, name, what, cases):
    path = os.path.join(outdir, name)
    with open(path, "w") as f:
        json.dump({"meta": meta(what), "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print("%s: %d bytes" % (path, os.path.getsize(path)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    write(outdir, "fisher.json", "scipy.stats.fisher_exact([[a, b], [c, d]]).pvalue, two-sided", fisher_cases(rng))
    write(outdir, "mwu.json", "scipy.stats.mannwhitneyu(x, y, use_continuity=True, method=method), two-sided",
          mwu_cases(rng))
    write(outdir, "wilson.json", "scipy.stats.binomtest(k, n).proportion_ci(0.95, method='wilson'), z = %r" % Z95,
          wilson_cases())
    write(outdir, "norm.json", "scipy.stats.norm.ppf(p) and norm.cdf(x)", norm_cases())
    write(outdir, "power.json", "ratings per arm for a 10-point thumbs difference, 80% power, alpha 0.05 two-sided",
          power_cases())


if __name__ == "__main__":
    main()
