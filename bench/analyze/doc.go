// Command analyze is the benchmark harness: it runs the code path of
// `starter analyze` (store/format reader → analysis profiles → drift) on two
// local CSV files, computing every method listed in -methods from one pass of
// profiling (as the Python baseline computes KS and Wasserstein from one
// read), and writes the report of the first method as JSON.
//
// Imports: it may import analysis and store/format.
package main
