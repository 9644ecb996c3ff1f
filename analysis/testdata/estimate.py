#!/usr/bin/python3
"""Regenerates estimate_golden.json: the golden values of the estimated-
performance, weak-segment and domain-classifier building blocks, from
Debian's scipy 1.10.1 / sklearn 1.2.1:

    /usr/bin/python3 analysis/testdata/estimate.py

The inputs are written beside the expected values (they are small), so the
Go tests need no generator of their own.
"""
import json, os
import numpy as np
from scipy import stats
from sklearn import metrics
from sklearn.isotonic import IsotonicRegression

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(17)
out = {}

# Isotonic calibration, with ties in x (scores rounded to 2 places).
iso = []
for name, n, slope in [("overconfident", 400, 4.0), ("underconfident", 300, 0.5), ("ties", 200, 2.0)]:
    x = rng.normal(size=n)
    p_true = 1 / (1 + np.exp(-2 * x))
    score = 1 / (1 + np.exp(-slope * x))
    if name == "ties":
        score = np.round(score, 2)
    y = (rng.uniform(size=n) < p_true).astype(float)
    grid = np.concatenate([np.linspace(-0.1, 1.1, 25), score[:10]])
    fit = IsotonicRegression(out_of_bounds="clip").fit(score, y)
    iso.append({"name": name, "x": score.tolist(), "y": y.tolist(), "grid": grid.tolist(),
                "predict": fit.predict(grid).tolist()})
out["isotonic"] = iso

# Hosmer–Lemeshow over 10 equal-count groups of the stably sorted rows.
hl = []
for name, n, slope in [("calibrated", 1000, 2.0), ("miscalibrated", 1000, 5.0), ("odd_size", 537, 2.0)]:
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-slope * x))
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-2 * x))
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for g in np.array_split(order, 10):
        o, e = y[g].sum(), p[g].sum()
        v = e * (1 - e / len(g))
        if v > 0:
            stat += (o - e) ** 2 / v
    hl.append({"name": name, "p": p.tolist(), "y": y.tolist(), "stat": stat, "p_value": stats.chi2.sf(stat, 8)})
out["hosmer_lemeshow"] = hl

# CBPE's expected metrics: each row counted as a positive of weight c and a
# negative of weight 1-c, through sklearn's weighted metrics.
cb = []
for name, n in [("plain", 500), ("ties", 400)]:
    s = rng.uniform(size=n)
    if name == "ties":
        s = np.round(s, 1)
    c = np.clip(s + rng.normal(scale=0.05, size=n), 0, 1)
    pred = (s >= 0.5).astype(int)
    yy = np.concatenate([np.ones(n), np.zeros(n)])
    pp = np.concatenate([pred, pred])
    ss = np.concatenate([s, s])
    w = np.concatenate([c, 1 - c])
    cb.append({"name": name, "prob": c.tolist(), "pred": pred.tolist(), "score": s.tolist(),
               "accuracy": metrics.accuracy_score(yy, pp, sample_weight=w),
               "precision": metrics.precision_score(yy, pp, sample_weight=w),
               "recall": metrics.recall_score(yy, pp, sample_weight=w),
               "f1": metrics.f1_score(yy, pp, sample_weight=w),
               "roc_auc": metrics.roc_auc_score(yy, ss, sample_weight=w)})
out["cbpe"] = cb

# Welch's t-test, one-sided (a below b).
wt = []
for name, a, b in [("binary", (rng.uniform(size=80) < 0.6).astype(float), (rng.uniform(size=900) < 0.9).astype(float)),
                   ("normal", rng.normal(1.0, 2.0, size=50), rng.normal(1.5, 1.0, size=70)),
                   ("equal", rng.normal(size=200), rng.normal(size=300))]:
    t, p = stats.ttest_ind(a, b, equal_var=False, alternative="less")
    wt.append({"name": name, "a": a.tolist(), "b": b.tolist(), "t": t, "p": p})
out["welch"] = wt

# Benjamini–Hochberg, written out from the paper (statsmodels is not in
# Debian's python3-sklearn set): p_(i) m / i, running minimum from the top.
p = np.concatenate([rng.uniform(size=30), rng.uniform(size=10) * 1e-3, [0.05, 0.05]])
m = len(p)
order = np.argsort(p, kind="stable")
adj = np.empty(m)
run = 1.0
for k in range(m - 1, -1, -1):
    run = min(run, p[order[k]] * m / (k + 1))
    adj[order[k]] = run
out["bh"] = {"p": p.tolist(), "adjusted": adj.tolist()}

# The domain classifier's AUROC pieces through sklearn: held-out scores.
s = rng.normal(size=300)
lab = rng.uniform(size=300) < 0.4
out["auroc"] = {"scores": s.tolist(), "labels": lab.tolist(), "auc": metrics.roc_auc_score(lab, s)}

# Multiclass CBPE: each row counted as every class c with weight prob[c],
# through sklearn's weighted macro metrics and macro one-vs-rest AUC (scores
# from a miscalibrated softmax, probabilities from another).
mc = []
for name, n, k in [("three", 600, 3), ("four_ties", 400, 4)]:
    logits = rng.normal(size=(n, k)) * 1.5
    score = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if name == "four_ties":
        score = np.round(score, 1)
        score = score / score.sum(axis=1, keepdims=True)
    pl = logits * 0.7 + rng.normal(scale=0.3, size=(n, k))
    prob = np.exp(pl) / np.exp(pl).sum(axis=1, keepdims=True)
    pred = score.argmax(axis=1)
    yy = np.repeat(np.arange(k)[None, :], n, axis=0).ravel()
    pp = np.repeat(pred, k)
    ss = np.repeat(score, k, axis=0)
    w = prob.ravel()
    mc.append({"name": name, "prob": prob.tolist(), "score": score.tolist(), "pred": pred.tolist(),
               "accuracy": metrics.accuracy_score(yy, pp, sample_weight=w),
               "precision": metrics.precision_score(yy, pp, average="macro", sample_weight=w, zero_division=0),
               "recall": metrics.recall_score(yy, pp, average="macro", sample_weight=w, zero_division=0),
               "f1": metrics.f1_score(yy, pp, average="macro", sample_weight=w, zero_division=0),
               "roc_auc": metrics.roc_auc_score(yy, ss, multi_class="ovr", average="macro", sample_weight=w)})
out["multiclass_cbpe"] = mc

# Multiclass calibration (analysis.MulticlassCalibration), written out from
# its definition with sklearn's IsotonicRegression: Hosmer–Lemeshow one vs
# rest per class and on the predicted class's probability; when any p <
# 0.01, isotonic maps one vs rest and top label (per predicted class, with
# at least 20 rows); a row predicted k gets the top-label probability of k
# and the rest shared in proportion to the one-vs-rest ones; a row without
# a top-label map gets the one-vs-rest ones divided by their sum. Its own
# generator, so the sections above keep their values.
rng = np.random.default_rng(1717)


def hosmer_lemeshow(p, y, groups):
    order = np.argsort(p, kind="stable")
    stat = 0.0
    for g in np.array_split(order, groups):
        o, e = y[g].sum(), p[g].sum()
        v = e * (1 - e / len(g))
        if v > 0:
            stat += (o - e) ** 2 / v
    return stats.chi2.sf(stat, groups - 2)


def iso(x, y):
    return IsotonicRegression(out_of_bounds="clip").fit(x, y)


mcal = []
for name, n, k, sharp in [("overconfident", 500, 3, 2.5), ("underconfident", 400, 4, 0.4), ("calibrated", 500, 3, 1.0)]:
    logits = rng.normal(size=(n + 200, k)) * 1.5
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    prob = np.exp(sharp * logits) / np.exp(sharp * logits).sum(axis=1, keepdims=True)
    label = np.array([rng.choice(k, p=t) for t in true])
    pred = prob.argmax(axis=1)
    pred[n + 5:n + 15] = -1  # current rows without a predicted class
    rp, ry, rk = prob[:n], label[:n], pred[:n]
    groups = min(10, n // 10)
    pvals = [hosmer_lemeshow(rp[:, c], (ry == c).astype(float), groups) for c in range(k)]
    top_p = hosmer_lemeshow(rp[np.arange(n), rk], (rk == ry).astype(float), groups)
    cp, ck = prob[n:], pred[n:]
    res = cp.copy()
    calibrated = min(pvals + [top_p]) < 0.01
    if calibrated:
        ovr = [iso(rp[:, c], (ry == c).astype(float)) for c in range(k)]
        top = [iso(rp[rk == c, c], (ry[rk == c] == c).astype(float)) if (rk == c).sum() >= 20 else None for c in range(k)]
        for i in range(len(cp)):
            o = np.array([ovr[c].predict([cp[i, c]])[0] for c in range(k)])
            kk = ck[i]
            if kk < 0 or top[kk] is None:
                res[i] = o / o.sum() if o.sum() > 0 else cp[i]
                continue
            q = top[kk].predict([cp[i, kk]])[0]
            rest = o.sum() - o[kk]
            if not rest > 0:
                o = cp[i].copy()
                rest = o.sum() - o[kk]
            r = o * (1 - q) / rest
            r[kk] = q
            res[i] = r
    mcal.append({"name": name, "ref_prob": rp.tolist(), "ref_pred": rk.tolist(), "ref_label": ry.tolist(),
                 "prob": cp.tolist(), "pred": ck.tolist(), "p_values": pvals, "top_p_value": top_p,
                 "calibrated": bool(calibrated), "calibrated_prob": res.tolist()})
out["multiclass_calibration"] = mcal

with open(os.path.join(HERE, "estimate_golden.json"), "w") as f:
    json.dump(out, f)
