// Package analysis is Vigil's statistics library: model performance, drift
// tests, data quality, mergeable profiles and baselines. It does no I/O and
// imports nothing of Vigil's; rows come in through the Rows interface
// (readers live in store/format).
//
// # Entry points
//
//   - Analyze(reference, current Rows, opts) (*Report, error): the one call the
//     monitoring activity makes.
//   - Sharded windows (shard.go): ProfileReference(ref, opts) (or
//     ReferenceSchema for its schema alone); per shard ProfileShard(rows,
//     schema, opts), EncodeProfile to store it, DecodeProfile to read it back;
//     combine with (*Profile).Merge in shard order; then
//     CompareProfiles(refProfile, curProfile, opts). SketchFor stores a shard
//     of a window that will be sketched as a sketch.
//   - BuildBaseline(rows, opts) / BaselineFromProfile, and opts.Baseline (or
//     (*Baseline).Check) for constraint violations.
//   - (*Report).Metric(path) for alert rules.
//   - Comparing two model versions (abtest.go, sequential.go): paired —
//     McNemar, Wilcoxon, PairedBootstrap; split traffic — Welch; sequential,
//     always-valid — Sequence (+ SplitTerm for split traffic) and Decide
//     with a non-inferiority margin. Golden values: testdata/golden_compare.py.
//
// # Exact and sketch modes
//
// A numeric column keeps all its values up to Options.ExactLimit (default
// 250000 per column and window). Up to there every statistic is computed
// from the full data with scipy/sklearn's definitions (golden tests to 1e-9).
// Beyond, the column becomes a deterministic KLL-style quantile sketch (see
// Sample): memory per column is bounded (≈ SketchCap × levels floats), so a
// streamed window's memory grows with columns, not rows. The statistics are
// then computed on the weighted sketch points: rank error ≈ 0.1% with the
// default SketchCap; Wasserstein, the binned distances and auto's verdicts
// agree with the exact path (TestShardedProfilesAgree), while ks/chisquare
// p-values on huge windows are approximate (a p-value test at n = 10^6 turns
// on differences of that order anyway). Report.Mode says which mode was used.
//
// Large windows use every core: rows that can be cut (Splitter: a mapped
// CSV file at line ends, a Parquet file at row groups) and that will be
// sketched are profiled in parts of splitPartBytes on GOMAXPROCS goroutines
// and merged in part order, so the profile does not depend on the number of
// cores; every count equals the sequential profile's and the verdicts the
// exact path's (parallel_test.go).
//
// Size of a profile: an exact column holds its values (~20 bytes each in
// JSON); a sketched one about 21k points (~400 KB of JSON) with the default
// SketchCap 8192, ~4k points (~80 KB) with SketchCap 1024, for 10^6 values.
// To pass shard profiles through Temporal (2 MB payload limit), store them as
// blobs and pass references, or profile shards with ExactLimit 1 and a small
// SketchCap.
//
// # Drift definitions
//
// Missing cells (empty, NaN) and ±Inf are dropped before any test.
//
//   - ks: KS — two-sample Kolmogorov–Smirnov, p-value as scipy ks_2samp
//     method="auto" (exact when max(n1,n2) <= 10000, else kstwo asymptotics).
//     Drifted when p < threshold (0.05).
//   - wasserstein: Wasserstein-1 distance / reference population std (floor
//     0.001). Drifted when >= threshold (0.1).
//   - chisquare: chi-square homogeneity test on the 2×k table of counts, no
//     continuity correction (scipy chi2_contingency(correction=False)).
//   - psi, jensenshannon (distance, natural log), hellinger, linf: on category
//     proportions, or for numeric features on reference-quantile bins.
//
// Binning (numeric features under psi, jensenshannon, hellinger, linf,
// chisquare): Options.Bins (10) bins whose edges are the reference quantiles
// numpy.quantile(ref, i/10), i = 1..9 (linear interpolation), duplicates
// removed; a value v goes to bin searchsorted(edges, v, side="left"), i.e.
// bins (−∞,e1], (e1,e2], …, (e9,+∞). testdata/golden.py uses the same.
//
// Categorical features use the union of both windows' categories, plus the
// overflow bucket when more than MaxCategories distinct values were seen.
// Under ks or wasserstein a categorical feature is tested with chisquare or
// jensenshannon respectively.
//
// auto (default): a reference with at most 1000 non-missing values uses ks
// (numeric) / chisquare (categorical) at p < FalseAlarmRate (α, 0.01); a
// larger one the normed Wasserstein distance (numeric) / Jensen–Shannon
// distance (categorical) against a threshold calibrated to the current
// window's size: the larger of a practical floor (0.1 numeric, 0.05
// categorical, or DriftThreshold) and the (1 − α/2) quantile of the
// statistic between the reference and its resamples of that size, scaled
// by √(1 + n/m) for the reference's own noise (calibrate.go). A fixed
// distance threshold flags most small stationary windows (the distance
// between two samples of one distribution shrinks like √(1/n + 1/m)); the
// calibrated one keeps the per-feature false-alarm rate near α at every
// size (bench/verdicts), while the floor keeps huge windows from flagging
// changes too small to matter. Drift.ThresholdSource says which applied.
//
// Schema: a column of numbers whose first reference rows hold at most 10
// distinct integers (0/1 flags, small codes) is categorical, with a
// KindNote saying so.
//
// # Row-level analyses
//
// With a task, Options.MultivariateDrift or Options.BandMetrics, each
// profile also keeps a RowSample (Options.RowSample rows, 5,000 by default)
// for the analyses that need columns jointly: estimated performance without
// labels (CBPE for binary models with a score and for multiclass models
// with class scores, each calibrated on the reference when it needs it —
// MulticlassCalibration —, DLE for regression), WeakSegments (estimated
// from CBPE's per-row correctness when labels are missing), multivariate
// drift (DomainClassifierAUC, on numeric features and indicators of
// frequent categories) and reference bands for rules with threshold: auto
// (Report.Bands). Their definitions are in estimate.go,
// multiclass_cbpe.go, dle.go, segments.go, multivariate.go and bands.go;
// testdata/estimate.py checks their building blocks against sklearn/scipy.
//
// Dataset drift: drifted features / tested features >= DatasetDriftShare
// (0.5); DatasetDrift.Denominator names the denominator. Features with an empty side are reported with a note and not tested.
//
// # Imports
//
// It imports no Vigil package and does no I/O (enforced by internal/arch);
// only the standard library and gonum.
package analysis
