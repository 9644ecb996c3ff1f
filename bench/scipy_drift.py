#!/usr/bin/python3
"""The pandas+scipy baseline of bench/run.sh: read two CSVs, and for every
column compute the two-sample KS test and the Wasserstein distance normed by
the reference standard deviation (what Vigil computes)."""
import sys
import numpy as np
import pandas as pd
from scipy import stats

ref = pd.read_csv(sys.argv[1])
cur = pd.read_csv(sys.argv[2])
drifted_ks = drifted_w = 0
for col in ref.columns:
    r = ref[col].dropna().to_numpy(float)
    c = cur[col].dropna().to_numpy(float)
    ks = stats.ks_2samp(r, c)
    w = stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
    drifted_ks += ks.pvalue < 0.05
    drifted_w += w >= 0.1
    first = first if "first" in dir() else (col, ks.statistic, w)
print(f"scipy: ks drifted {drifted_ks}/{len(ref.columns)}, wasserstein drifted {drifted_w}/{len(ref.columns)}; "
      f"{first[0]}: ks={first[1]:.6g} normed wasserstein={first[2]:.6g}", file=sys.stderr)
