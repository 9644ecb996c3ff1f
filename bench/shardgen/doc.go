// Command shardgen writes the data of the sharded-window benchmark
// (bench/shard.sh): -objects objects holding -rows rows in total of
// -features float64 columns (standard normal plus -shift), as CSV (full
// precision: the shortest round-trip text) or Parquet, under one hour
// partition (<uri>/2026/03/01/10/part-NNN.<format>) of a store URI
// (s3://bucket/prefix with -s3-endpoint, or file://dir). Objects are
// generated and written on every core.
//
// Imports: it may import config and store.
package main
