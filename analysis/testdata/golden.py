#!/usr/bin/python3
"""Regenerates the golden values of the analysis tests from scipy/sklearn.

Run with Debian's python (scipy 1.10.1, sklearn 1.2.1, pandas 1.5.3):

    /usr/bin/python3 analysis/testdata/golden.py

Data sets are made by a tiny generator shared with the Go tests (gen below
and genSample in golden_test.go): a 64-bit LCG and normals as the sum of 12
uniforms minus 6, so both languages produce bit-identical numbers and no data
needs to be committed. Writes golden.json and e2e_*.csv/e2e_expected.json.
"""
import json, math, os
import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

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
    """spec: {seed, n, kind: normal|int|const, loc, scale}"""
    n, kind = spec["n"], spec["kind"]
    if kind == "const":
        return np.full(n, float(spec["loc"]))
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


BINS = 10


def edges_of(ref):
    """Reference-quantile bin edges, as analysis.QuantileEdges."""
    qs = np.quantile(ref, [i / BINS for i in range(1, BINS)])
    e = []
    for q in qs:
        if not e or q != e[-1]:
            e.append(float(q))
    return np.array(e)


def bin_counts(x, edges):
    idx = np.searchsorted(edges, x, side="left")
    return np.bincount(idx, minlength=len(edges) + 1).astype(float)


def psi(r, c):
    r = r / r.sum(); c = c / c.sum()
    r = np.where(r == 0, 1e-4, r); c = np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


def hellinger(r, c):
    r = r / r.sum(); c = c / c.sum()
    return float(np.sqrt(0.5 * np.sum((np.sqrt(r) - np.sqrt(c)) ** 2)))


def linf(r, c):
    r = r / r.sum(); c = c / c.sum()
    return float(np.max(np.abs(r - c)))


def chisq(r, c):
    t = np.array([r, c])
    t = t[:, t.sum(axis=0) > 0]
    if t.shape[1] < 2:
        return 0.0, 1.0
    s, p, _, _ = stats.chi2_contingency(t, correction=False)
    return float(s), float(p)


def hist_stats(r, c):
    s, p = chisq(r, c)
    return {"psi": psi(r, c), "jensenshannon": float(jensenshannon(r, c)),
            "hellinger": hellinger(r, c), "linf": linf(r, c), "chisquare": s, "chisquare_p": p}


def numeric_case(name, ref_spec, cur_spec):
    ref, cur = gen(ref_spec), gen(cur_spec)
    ks = stats.ks_2samp(ref, cur)
    w = stats.wasserstein_distance(ref, cur)
    e = edges_of(ref)
    out = {"name": name, "ref": ref_spec, "cur": cur_spec,
           "ks": float(ks.statistic), "ks_p": float(ks.pvalue),
           "wasserstein": float(w), "normed_wasserstein": float(w / max(np.std(ref), 0.001)),
           "edges": e.tolist(), "ref_std": float(np.std(ref)),
           "p50": float(np.percentile(cur, 50)), "p95": float(np.percentile(cur, 95)), "p99": float(np.percentile(cur, 99))}
    out.update(hist_stats(bin_counts(ref, e), bin_counts(cur, e)))
    return out


def N(seed, n, loc=0.0, scale=1.0):
    return {"seed": seed, "n": n, "kind": "normal", "loc": loc, "scale": scale}


def I(seed, n, k, loc=0.0):
    return {"seed": seed, "n": n, "kind": "int", "loc": loc, "scale": k}


numeric = [
    numeric_case("small_shift", N(1, 200), N(2, 150, 0.5)),
    numeric_case("small_same", N(3, 300), N(4, 280)),
    numeric_case("equal_n", N(5, 100), N(6, 100, 0.3)),
    numeric_case("tiny", N(7, 5), N(8, 7, 1.0)),
    numeric_case("ties_everywhere", I(9, 300, 5), I(10, 250, 5)),
    numeric_case("ties_shift", I(11, 400, 4), I(12, 380, 4, 1.0)),
    numeric_case("identical_constant", {"seed": 0, "n": 50, "kind": "const", "loc": 5.0, "scale": 0}, {"seed": 0, "n": 40, "kind": "const", "loc": 5.0, "scale": 0}),
    numeric_case("exact_boundary_10000", N(13, 10000), N(14, 9000, 0.03)),
    numeric_case("asymp_large", N(15, 12000), N(16, 15000, 0.02)),
    numeric_case("asymp_unbalanced", N(17, 20000), N(18, 60, 0.3)),
    numeric_case("asymp_unbalanced_small", N(19, 20000), N(20, 12, 0.2)),
    numeric_case("asymp_big_shift", N(21, 11000), N(22, 11000, 0.5)),
]

# kstwo.sf on a grid, covering every branch of scipy's _kolmogn
kstwo = []
for n in [1, 2, 5, 30, 140, 141, 500, 3000, 6000, 50000, 100001, 400000]:
    for x in [0.0005, 0.002, 0.005, 0.01, 0.02, 0.05, 0.08, 0.1, 0.2, 0.3, 0.45, 0.5, 0.7, 0.95]:
        kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})

# categorical: counts over categories (some present on one side only)
categorical = []
for name, r, c in [
    ("one_side_only", [50, 30, 20, 0], [40, 30, 0, 30]),
    ("same", [100, 200, 300], [100, 200, 300]),
    ("single_category", [10], [20]),
    ("shift", [500, 300, 200], [300, 300, 400]),
]:
    r, c = np.array(r, float), np.array(c, float)
    d = hist_stats(r, c)
    d.update({"name": name, "ref": r.tolist(), "cur": c.tolist()})
    categorical.append(d)

# binary metrics with ties, NaN/Inf scores (dropped for roc_auc/log_loss)
u, _ = uniforms(100, 400)
y = np.array([1 if x < 0.4 else 0 for x in u[:200]])
score = np.array([round(0.5 * u[200 + i] + 0.4 * y[i], 1) for i in range(200)])  # rounded: many ties
score[3] = 0.0; score[4] = 1.0
pred = (score >= 0.5).astype(int)
scores_txt = [repr(float(s)) for s in score]
scores_txt[10] = "nan"; scores_txt[11] = "inf"
finite = np.array([i not in (10, 11) for i in range(200)])
binary = {"y": y.tolist(), "pred": pred.tolist(), "score": scores_txt,
          "accuracy": metrics.accuracy_score(y, pred), "precision": metrics.precision_score(y, pred),
          "recall": metrics.recall_score(y, pred), "f1": metrics.f1_score(y, pred),
          "roc_auc": metrics.roc_auc_score(y[finite], score[finite]),
          "log_loss": metrics.log_loss(y[finite], score[finite])}

mu, _ = uniforms(200, 600)
yt = [["a", "b", "c", "d"][int(x * 4)] for x in mu[:300]]
yp = [t if mu[300 + i] < 0.6 else ["a", "b", "c"][int(mu[300 + i] * 10) % 3] for i, t in enumerate(yt)]
labels = sorted(set(yt) | set(yp))
p, r, f, s = metrics.precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
multiclass = {"y": yt, "pred": yp, "accuracy": metrics.accuracy_score(yt, yp),
              "f1_macro": metrics.f1_score(yt, yp, average="macro"),
              "f1_weighted": metrics.f1_score(yt, yp, average="weighted"),
              "labels": labels, "precision": p.tolist(), "recall": r.tolist(),
              "confusion": metrics.confusion_matrix(yt, yp, labels=labels).tolist()}

ru, _ = uniforms(300, 400)
ry = np.array([10 * x for x in ru[:200]]); ry[0] = 0.0  # a zero target for MAPE's eps floor
rp = ry + np.array([x - 0.5 for x in ru[200:]])
regression = {"y": ry.tolist(), "pred": rp.tolist(),
              "mae": metrics.mean_absolute_error(ry, rp), "mse": metrics.mean_squared_error(ry, rp),
              "rmse": math.sqrt(metrics.mean_squared_error(ry, rp)), "r2": metrics.r2_score(ry, rp),
              "mape": metrics.mean_absolute_percentage_error(ry, rp)}

json.dump({"numeric": numeric, "kstwo": kstwo, "categorical": categorical, "binary": binary,
           "multiclass": multiclass, "regression": regression},
          open(os.path.join(HERE, "golden.json"), "w"), indent=1)

# ---- end to end: two small CSVs through the reader and Analyze ----
def e2e_frame(seed, n, shift, cats):
    u, _ = uniforms(seed, 8 * n)
    rows = []
    for i in range(n):
        a = sum(u[8 * i:8 * i + 6]) - 3.0 + shift
        y = 1 if u[8 * i + 6] < 0.5 else 0
        sc = round(min(max(0.5 * u[8 * i + 7] + 0.5 * y - 0.1 + 0.1 * shift, 0.0), 1.0), 3)
        rows.append({"event_id": "e%d" % i, "age": round(40 + 10 * a, 2), "income": round(1000 * (a + 5), 1),
                     "plan": cats[int(u[8 * i + 6] * 1000) % len(cats)], "flat": 1.0,
                     "empty": "", "label": y, "prediction": int(sc >= 0.5), "score": sc,
                     "latency_ms": round(5 + 20 * u[8 * i + 7], 2)})
    return pd.DataFrame(rows)

ref = e2e_frame(400, 300, 0.0, ["basic", "pro", "team"])
cur = e2e_frame(401, 250, 0.6, ["basic", "pro", "enterprise"])
cur.loc[5, "age"] = np.nan          # missing
cur["age"] = cur["age"].astype(object)
cur.loc[6, "age"] = "n/a"            # type mismatch
cur.loc[7, "label"] = np.nan         # unlabeled
cur.loc[8, "event_id"] = "e9"        # duplicate id
ref.to_csv(os.path.join(HERE, "e2e_ref.csv"), index=False)
cur.to_csv(os.path.join(HERE, "e2e_cur.csv"), index=False)
with open(os.path.join(HERE, "e2e_cur.csv"), "a") as fh:
    fh.write("x,1,2,3,4,5,6,7,8,9,10,11\n")  # wrong field count: invalid (pandas skips too-long lines)

refd = pd.read_csv(os.path.join(HERE, "e2e_ref.csv"))
# only empty fields are missing ("n/a" is a type mismatch, not NA as pandas would say)
curd = pd.read_csv(os.path.join(HERE, "e2e_cur.csv"), on_bad_lines="skip", keep_default_na=False, na_values=[""])
exp = {"features": {}}
for col in ["age", "income", "flat"]:
    r = pd.to_numeric(refd[col], errors="coerce").dropna().to_numpy(float)
    c = pd.to_numeric(curd[col], errors="coerce").dropna().to_numpy(float)
    ks = stats.ks_2samp(r, c)
    exp["features"][col] = {"ks": float(ks.statistic), "ks_p": float(ks.pvalue),
                            "missing_ratio": float(curd[col].isna().mean())}
for col in ["plan"]:
    cats = sorted(set(refd[col]) | set(curd[col]))
    r = np.array([(refd[col] == k).sum() for k in cats], float)
    c = np.array([(curd[col] == k).sum() for k in cats], float)
    s, p = chisq(r, c)
    exp["features"][col] = {"chisquare": s, "chisquare_p": p, "missing_ratio": 0.0}
lab = curd[curd["label"].notna()]
yl, pl, sl = lab["label"].astype(int), lab["prediction"].astype(int), lab["score"]
exp["performance"] = {"accuracy": metrics.accuracy_score(yl, pl), "precision": metrics.precision_score(yl, pl),
                      "recall": metrics.recall_score(yl, pl), "f1": metrics.f1_score(yl, pl),
                      "roc_auc": metrics.roc_auc_score(yl, sl), "log_loss": metrics.log_loss(yl, sl)}
exp["labeled"] = int(len(lab))
exp["latency"] = {k: float(np.percentile(curd["latency_ms"], q)) for k, q in [("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)]}
s = stats.ks_2samp(refd["score"], curd["score"])
exp["prediction_drift"] = {"ks": float(s.statistic), "ks_p": float(s.pvalue)}
json.dump(exp, open(os.path.join(HERE, "e2e_expected.json"), "w"), indent=1)
print("wrote golden.json, e2e_*.csv, e2e_expected.json")
