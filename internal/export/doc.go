// Package export turns a model's evaluation history into the long table
// BI tools read (model, version, window_end, metric, value, status) as CSV
// or Parquet (Power BI's Web and Parquet connectors), and into Elasticsearch
// documents sent with the _bulk API (Kibana).
//
// May import: analysis and the Parquet writer; never workflows or activities (the starter calls it).
package export
