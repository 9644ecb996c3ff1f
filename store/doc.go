// Package store is where Vigil's data lives: model predictions and ground
// truth in hour-partitioned layouts, reference data sets, reports and the
// registry's documents, on a local disk (file://dir or a plain path) or in S3
// and S3-compatible stores (s3://bucket/prefix).
//
// Layouts:
//
//	<source.uri>/yyyy/mm/dd/hh/<any>.{jsonl,csv,parquet}[.gz]   predictions (UTC hours)
//	<ground_truth.uri>/yyyy/mm/dd/hh/<any>.jsonl[.gz]           labels, in the hour they arrived
//	<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl  SageMaker data capture
//	<storage.reports>/<model>/yyyy/mm/dd/<window start RFC 3339>.json
//	<storage.registry>/<key>                                     Blobs (compare-and-swap)
//
// Objects whose name starts with "." are never read (writers' temporaries).
// Gzip objects are recognised by their magic bytes, whatever their name.
//
// Reading is streaming: a window is a sequence of objects, each decoded by
// the format readers in store/format while the consumer pulls rows, so memory
// depends on the number of columns, not on the number of rows. The one
// exception is the ground-truth join, documented on OpenWindow. The columns of
// a multi-object stream are those of its first object; later objects are
// matched by column name (a column only later objects have is dropped).
//
// Errors: IsPermanent tells failures no retry can fix (credentials, access
// denied, missing bucket, bad URI) from transient ones (throttling, 5xx,
// network), so activities can mark the former non-retryable. ErrNotFound,
// ErrConflict and ErrIncomplete are matched with errors.Is.
//
// Imports: it may import analysis (the Rows interface), config, store/format
// and the AWS S3 SDK; not Temporal, workflows, activities, notify or train.
package store
