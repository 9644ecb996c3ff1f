// Command gen writes a synthetic inference window as CSV for the benchmark:
// -rows rows of -features numeric features drawn from N(shift, 1) (Irwin–Hall
// of 4 uniforms, rescaled), with 6 decimals, or with -precision full as
// pandas' to_csv writes float64 (Python's repr: the shortest text that reads
// back as the same double, 16–17 significant digits for most values).
//
// Imports: it imports only the standard library.
package main
