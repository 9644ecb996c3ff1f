#!/usr/bin/python3
"""Regenerates the golden values of the model-comparison tests (abtest.go).

Run with Debian's python (scipy 1.10.1, sklearn 1.2.1):

    /usr/bin/python3 analysis/testdata/golden_compare.py

Samples come from the generator of golden.py (a 64-bit LCG; genSample in
golden_test.go), so no data is committed. McNemar's exact test is
scipy.stats.binomtest(min(b, c), b + c, 0.5) (statsmodels' mcnemar(exact=True)
is that binomial test; statsmodels is not installed). The bootstrap interval
is recomputed here with the same LCG index stream and numpy.quantile, with
sklearn's roc_auc_score for the AUC case. Writes golden_compare.json.
"""
import json, math, os
import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
M64 = 2**64


def uniforms(seed, n):
    s = seed % M64
    out = []
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) % M64
        out.append((s >> 11) * 2.0**-53)
    return out, s


def gen(spec):
    """spec: {seed, n, kind: normal|int, loc, scale}, as golden.py."""
    n, kind = spec["n"], spec["kind"]
    if kind == "int":
        u, _ = uniforms(spec["seed"], n)
        return np.array([float(math.floor(x * spec["scale"])) + spec["loc"] for x in u])
    u, _ = uniforms(spec["seed"], 12 * n)
    out = []
    for i in range(n):
        z = 0.0
        for k in range(12):
            z += u[12 * i + k]
        out.append(spec["loc"] + spec["scale"] * (z - 6.0))
    return np.array(out)


def N(seed, n, loc=0.0, scale=1.0):
    return {"seed": seed, "n": n, "kind": "normal", "loc": loc, "scale": scale}


def I(seed, n, k, loc=0.0):
    return {"seed": seed, "n": n, "kind": "int", "loc": loc, "scale": k}


binom = []
for k, n, p in [(3, 20, 0.5), (10, 20, 0.5), (0, 5, 0.5), (7, 30, 0.3), (40, 100, 0.5),
                (120, 1000, 0.1), (9, 10, 0.2), (55, 60, 0.9), (0, 0, 0.5)]:
    pv = 1.0 if n == 0 else float(stats.binomtest(k, n, p).pvalue)
    binom.append({"k": k, "n": n, "p": p, "pvalue": pv})

mcnemar = []
for b, c in [(0, 0), (3, 9), (12, 12), (25, 40), (1, 15), (180, 230)]:
    pv = 1.0 if b + c == 0 else float(stats.binomtest(min(b, c), b + c, 0.5).pvalue)
    mcnemar.append({"only_a": b, "only_b": c, "pvalue": pv})

wilcoxon = []
for name, sp in [("exact_n20", N(11, 20, 0.2)), ("exact_n50_shift", N(12, 50, 0.4)),
                 ("approx_n51", N(13, 51)), ("approx_n300", N(14, 300, 0.1)),
                 ("ties_and_zeros_n120", I(15, 120, 7, -3.0))]:
    d = gen(sp)
    r = stats.wilcoxon(d)
    wilcoxon.append({"name": name, "d": sp, "statistic": float(r.statistic), "pvalue": float(r.pvalue)})

welch = []
for name, a, b, level in [("normal_shift", N(21, 80), N(22, 120, 0.3, 2.0), 0.95),
                          ("normal_same", N(23, 500, 1.0), N(24, 400, 1.0), 0.9),
                          ("hits", I(25, 300, 2), I(26, 250, 2), 0.95)]:
    x, y = gen(a), gen(b)
    r = stats.ttest_ind(y, x, equal_var=False)
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + vb ** 2 / (len(y) - 1))
    h = stats.t.ppf((1 + level) / 2, df) * se
    d = float(y.mean() - x.mean())
    welch.append({"name": name, "a": a, "b": b, "level": level, "difference": d,
                  "lower": d - h, "upper": d + h, "pvalue": float(r.pvalue)})


def bootstrap(n, diff, rounds, level, seed):
    s = seed
    vals = []
    for _ in range(rounds):
        idx = []
        for _ in range(n):
            s = (s * 6364136223846793005 + 1442695040888963407) % M64
            idx.append(int((s >> 11) * 2.0**-53 * n))
        vals.append(diff(np.array(idx)))
    lo, hi = np.quantile(np.array(vals), [(1 - level) / 2, (1 + level) / 2])
    return float(diff(np.arange(n))), float(lo), float(hi)


boot = []
ha, hb = gen(I(31, 200, 2)), gen(I(32, 200, 2))
d, lo, hi = bootstrap(200, lambda i: hb[i].mean() - ha[i].mean(), 500, 0.95, 7)
boot.append({"name": "accuracy", "a": I(31, 200, 2), "b": I(32, 200, 2), "rounds": 500,
             "level": 0.95, "seed": 7, "difference": d, "lower": lo, "upper": hi})
ys = gen(I(33, 150, 2))
sa, sb = gen(N(34, 150)), gen(N(35, 150))
sb = sb + 0.8 * ys
d, lo, hi = bootstrap(150, lambda i: roc_auc_score(ys[i], sb[i]) - roc_auc_score(ys[i], sa[i]), 300, 0.9, 99)
boot.append({"name": "auc", "labels": I(33, 150, 2), "a": N(34, 150), "b": N(35, 150), "b_label_shift": 0.8,
             "rounds": 300, "level": 0.9, "seed": 99, "difference": d, "lower": lo, "upper": hi})

json.dump({"binomtest": binom, "mcnemar": mcnemar, "wilcoxon": wilcoxon, "welch": welch, "bootstrap": boot},
          open(os.path.join(HERE, "golden_compare.json"), "w"), indent=1)
print("wrote golden_compare.json")
