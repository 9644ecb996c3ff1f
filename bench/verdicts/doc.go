// Command verdicts measures how often the default drift verdicts are wrong:
// the per-feature false-alarm rate on stationary data and the detection
// power on shifted data, at current-window sizes from 50 to 10,000,000 rows,
// against a reference of -ref rows (2,000 by default, as in issue 13).
//
// Each trial draws a fresh reference and a fresh current window from the
// same generator (seeded, so the table is reproducible) and runs
// analysis.Analyze with the default options (auto method), the code path of
// `starter analyze`. A window has 10 numeric features N(shift, 1), a
// categorical feature "cat" with shares a/b/c = 50/30/20% and a 0/1 column
// "flag" (50% ones), which the default schema treats as categorical. The
// shifted categorical windows move 10 points of share: cat a/b = 40/40%,
// flag 60% ones.
//
// Rows are generated as text on the fly, so a 10^7-row window needs no
// memory beyond the profiles (the sketch path above 250,000 values per
// column); large sizes run fewer trials (see -trials and the trials column).
//
//	go run ./bench/verdicts                     # the README table
//	go run ./bench/verdicts -sizes 50,100 -trials 100
//
// Imports: it may import analysis.
package main
