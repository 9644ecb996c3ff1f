package format

import (
	"bytes"
	"path"
	"strings"
)

// SniffBytes is how much of a (decompressed) stream Detect wants to see.
const SniffBytes = 64 << 10

// Detect names the format of an object from its name and its first bytes
// (after decompression): "parquet" for the PAR1 magic, "sagemaker" for JSON
// lines shaped as Model Monitor capture or ground truth, "jsonl" for other
// JSON objects, "csv" otherwise. The extension decides when it is explicit
// (.csv, .parquet); JSON content is told from CSV by its first byte, so a
// prefix of extension-less or .gz objects is not read as CSV by default.
func Detect(name string, head []byte) string {
	base := strings.ToLower(path.Base(name))
	base = strings.TrimSuffix(base, ".gz")
	switch path.Ext(base) {
	case ".csv", ".tsv":
		return "csv"
	case ".parquet":
		return "parquet"
	}
	if bytes.HasPrefix(head, []byte("PAR1")) {
		return "parquet"
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	isJSON := len(trimmed) > 0 && trimmed[0] == '{'
	switch ext := path.Ext(base); {
	case isJSON:
		line, _, _ := bytes.Cut(trimmed, []byte("\n"))
		if bytes.Contains(line, []byte(`"captureData"`)) || bytes.Contains(line, []byte(`"groundTruthData"`)) {
			return "sagemaker"
		}
		return "jsonl"
	case ext == ".jsonl" || ext == ".json" || ext == ".ndjson":
		return "jsonl" // not JSON after all: its lines count as invalid
	}
	return "csv"
}
