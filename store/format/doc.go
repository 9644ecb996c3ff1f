// Package format reads inference and ground-truth records from the data
// formats Vigil supports into analysis.Rows streams.
//
// Every reader streams: memory depends on the widest record, not on the
// number of records. Malformed records are skipped and counted
// (Rows.Invalid), never fatal.
//
// Imports: it may import analysis (Rows) and the compression and Parquet
// libraries; no other Vigil package.
package format
