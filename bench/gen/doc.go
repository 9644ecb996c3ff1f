// Command gen writes a synthetic inference window as CSV for the benchmark:
// -rows rows of -features numeric features drawn from N(shift, 1) (Irwin–Hall
// of 4 uniforms, rescaled), with 6 decimals.
//
// Imports: it imports only the standard library.
package main
