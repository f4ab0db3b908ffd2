#!/usr/bin/python3
"""rank_fixtures.py — SciPy's answers for tests/test_rank.c (util/rank.c).

    /usr/bin/python3 tools/rank_fixtures.py [OUTDIR]   (default tests/fixtures/rank)

Writes one JSON file per function family, each holding the inputs (drawn
from a fixed numpy seed, so a rerun writes the same files) and SciPy's
outputs as Python's shortest round-trip float reprs:

  wilcoxon.json  scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False),
                 method='exact' for tie-free, zero-free samples of n <= 50
                 (n = 1 .. 50, and all-positive samples whose p is 2^(1-n)),
                 method='approx' for the rest: ties, zeros, n = 60 and 200,
                 every |d| equal.  Both W+ and W- are stored (SciPy's
                 statistic is their minimum).  All-zero differences make
                 SciPy raise; rank.h defines p = 1 there, so no fixture.
  sign.json      scipy.stats.binomtest(wins, wins + losses, 0.5).pvalue
  bt.json        Bradley-Terry log-strengths maximising the likelihood that
                 rank.h documents (rank_bt_loglik), found here with
                 scipy.optimize.minimize(method='trust-exact', analytic
                 gradient and Hessian) over theta[1:] with theta[0] = 0,
                 polished by scipy.optimize.root on the gradient to a
                 gradient norm below 1e-10, then centred (mean 0); plus the
                 log-likelihood there.  Match sets: 2 items, 4 items with
                 ties, an item that wins every match, 8 items at random.

SciPy is needed only to regenerate these files (apt-get install
python3-scipy); make test reads the committed JSON and never runs this.
"""
import json
import os
import sys

try:
    import numpy as np
    import scipy
    from scipy import optimize, stats
except ImportError as e:  # pragma: no cover
    sys.exit("rank_fixtures.py: needs numpy and SciPy (apt-get install python3-scipy): %s" % e)

SEED = 20240917


def meta(what):
    return {"generator": "tools/rank_fixtures.py", "seed": SEED, "scipy": scipy.__version__,
            "numpy": np.__version__, "what": what}


def rounded(v):
    return [float(round(float(t), 4)) for t in v]


# ---- Wilcoxon ------------------------------------------------------------------

def ranks_plus_minus(d):
    nz = np.array([t for t in d if t != 0.0])
    r = stats.rankdata(np.abs(nz))
    return float(np.sum(r[nz > 0])), float(np.sum(r[nz < 0]))


def wilcoxon_cases(rng):
    cases = []

    def add(kind, d, method):
        d = [float(t) for t in d]
        res = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="two-sided", method=method)
        wp, wm = ranks_plus_minus(d)
        assert float(res.statistic) == min(wp, wm)
        cases.append({"kind": kind, "method": method, "d": d, "w_plus": wp, "w_minus": wm,
                      "n": sum(1 for t in d if t != 0.0), "p": float(res.pvalue)})

    def tie_free(n, shift):
        while True:
            d = rounded(rng.normal(shift, 1, n))
            a = [abs(t) for t in d]
            if 0.0 not in d and len(set(a)) == n:
                return d

    for n, shift in [(1, 0.0), (2, 1.0), (3, 0.0), (4, 0.5), (5, 2.0), (6, -0.3), (8, 0.0), (10, 0.7),
                     (12, -1.0), (15, 0.2), (20, 0.4), (25, -0.1), (30, 0.5), (40, 0.3), (50, 0.0), (50, 0.6)]:
        add("exact", tie_free(n, shift), "exact")
    for n in [10, 30, 50]:
        add("exact-all-positive", [abs(t) for t in tie_free(n, 0.0)], "exact")
    add("exact-centre", [1.0, -2.0, -3.0, 4.0], "exact")  # W+ = W- = 5
    for n, hi in [(20, 3), (45, 5), (120, 4)]:
        d = [float(v) for v in rng.integers(-hi, hi + 1, n)]
        d = [t if t != 0.0 else 1.0 for t in d]
        add("ties", d, "approx")
    for n, hi in [(15, 3), (40, 6), (300, 5)]:
        add("zeros", [float(v) for v in rng.integers(-hi, hi + 1, n)], "approx")
    add("zeros", list(tie_free(12, 0.5)) + [0.0, 0.0], "approx")  # tie-free but zeros dropped
    add("zero-one-left", [0.0, 0.0, 2.5], "approx")
    for n, shift in [(60, 0.2), (200, -0.1), (51, 0.0)]:
        add("large", tie_free(n, shift), "approx")
    add("all-equal", [1.5] * 7 + [-1.5] * 3, "approx")
    add("all-equal", [2.0] * 12, "approx")
    return cases


# ---- Sign test -----------------------------------------------------------------

def sign_cases():
    cases = []
    for w, l in [(0, 1), (1, 0), (1, 1), (5, 5), (3, 7), (7, 3), (0, 5), (10, 0), (0, 20), (9, 11), (40, 60),
                 (100, 80), (1000, 1100), (0, 200), (3, 300), (0, 1200), (4990, 5000), (12345, 12000),
                 (500000, 501500), (2500000, 2495000), (25000000, 25000003), (24999000, 25001000)]:
        cases.append({"wins": w, "losses": l, "p": float(stats.binomtest(w, w + l, 0.5).pvalue)})
    return cases


# ---- Bradley-Terry -------------------------------------------------------------

def bt_pairs(matches, n_items):
    """w[i][j]: i's wins over j, plus 1/2 each way for every pair that met."""
    w = np.zeros((n_items, n_items))
    met = np.zeros((n_items, n_items), dtype=bool)
    for i, j, o in matches:
        w[i, j] += o
        w[j, i] += 1.0 - o
        met[i, j] = met[j, i] = True
    return w + 0.5 * met


def bt_loglik(theta, w):
    x = theta[None, :] - theta[:, None]   # x[i, j] = theta_j - theta_i
    return float(np.sum(w * -np.logaddexp(0.0, x)))


def bt_grad_hess(theta, w):
    x = theta[None, :] - theta[:, None]
    p = 1.0 / (1.0 + np.exp(x))           # p[i, j] = P(i beats j)
    n = w + w.T
    g = np.sum(w - n * p, axis=1)
    lap = n * p * p.T
    np.fill_diagonal(lap, 0.0)
    h = np.diag(lap.sum(axis=1)) - lap    # -Hessian
    return g, h


def bt_fit(matches, n_items):
    w = bt_pairs(matches, n_items)

    def full(t):
        return np.concatenate([[0.0], t])

    def f(t):
        return -bt_loglik(full(t), w)

    def jac(t):
        return -bt_grad_hess(full(t), w)[0][1:]

    def hess(t):
        return bt_grad_hess(full(t), w)[1][1:, 1:]

    res = optimize.minimize(f, np.zeros(n_items - 1), jac=jac, hess=hess, method="trust-exact",
                            options={"gtol": 1e-12, "maxiter": 1000})
    # Near the optimum the objective changes by less than its rounding, so
    # trust-exact stops at a gradient of about 1e-8; the stationary point is
    # polished by scipy.optimize.root on the gradient (the Hessian as its
    # Jacobian), which needs no function values.
    root = optimize.root(jac, res.x, jac=hess, method="hybr", options={"xtol": 1e-15})
    theta = full(root.x)
    gnorm = float(np.linalg.norm(bt_grad_hess(theta, w)[0]))
    assert gnorm < 1e-10, gnorm
    theta = theta - theta.mean()
    return theta, bt_loglik(theta, w), gnorm


def bt_cases(rng):
    cases = []

    def add(kind, matches, n_items):
        theta, ll, gnorm = bt_fit(matches, n_items)
        cases.append({"kind": kind, "n_items": n_items, "matches": [[int(i), int(j), float(o)] for i, j, o in matches],
                      "log_strength": [float(t) for t in theta], "loglik": ll, "grad_norm": gnorm})

    add("two", [(0, 1, 1.0)] * 7 + [(1, 0, 1.0)] * 3 + [(0, 1, 0.5)], 2)

    matches = []
    for _ in range(30):
        i, j = rng.choice(4, size=2, replace=False)
        matches.append((i, j, float(rng.choice([0.0, 0.5, 1.0], p=[0.35, 0.25, 0.4]))))
    add("four-ties", matches, 4)

    matches = [(0, j, 1.0) for j in (1, 2, 3) for _ in range(4)] + [(2, 0, 0.0)] * 2
    for _ in range(15):
        i, j = rng.choice([1, 2, 3], size=2, replace=False)
        matches.append((i, j, float(rng.integers(0, 2))))
    add("all-win", matches, 4)

    true = rng.normal(0.0, 1.0, 8)
    matches = []
    for _ in range(160):
        i, j = rng.choice(8, size=2, replace=False)
        u = rng.random()
        pij = 1.0 / (1.0 + np.exp(true[j] - true[i]))
        o = 0.5 if u < 0.1 else float(rng.random() < pij)
        matches.append((i, j, o))
    add("eight", matches, 8)
    return cases


def write(outdir, name, what, cases):
    path = os.path.join(outdir, name)
    with open(path, "w") as f:
        json.dump({"meta": meta(what), "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print("%s: %d bytes" % (path, os.path.getsize(path)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/rank"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    write(outdir, "wilcoxon.json",
          "scipy.stats.wilcoxon(d, zero_method='wilcox', correction=False, method=method), two-sided",
          wilcoxon_cases(rng))
    write(outdir, "sign.json", "scipy.stats.binomtest(wins, wins + losses, 0.5).pvalue, two-sided", sign_cases())
    write(outdir, "bt.json", "Bradley-Terry MLE with 1/2 pseudo-win each way per pair that met (trust-exact), "
          "log-strengths centred to mean 0", bt_cases(rng))


if __name__ == "__main__":
    main()
