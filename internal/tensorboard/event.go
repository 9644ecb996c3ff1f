package tensorboard

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of tensorboard/compat/proto/event.proto and summary.proto
// (the copies TensorBoard reads with; TensorFlow's are the same).
const (
	eventWallTime    = 1 // double
	eventStep        = 2 // int64
	eventFileVersion = 3 // string, in the file's first event
	eventSummary     = 5 // Summary
	summaryValue     = 1 // repeated Summary.Value
	valueTag         = 1 // string
	valueSimpleValue = 2 // float
)

// FileVersion is the first event of every event file.
const FileVersion = "brain.Event:2"

// Scalar is one tagged value of a summary.
type Scalar struct {
	Tag   string
	Value float32
}

// FileVersionEvent encodes the Event that opens an event file.
func FileVersionEvent(wallTime float64) []byte {
	b := protowire.AppendTag(nil, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(wallTime))
	b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
	return protowire.AppendString(b, FileVersion)
}

// ScalarsEvent encodes an Event holding a Summary of scalars at step. The
// scalars are legacy simple_value summaries, which TensorBoard's scalar
// plugin reads like the ones tf.summary.scalar writes.
func ScalarsEvent(wallTime float64, step int64, scalars []Scalar) []byte {
	var summary []byte
	for _, s := range scalars {
		var v []byte
		v = protowire.AppendTag(v, valueTag, protowire.BytesType)
		v = protowire.AppendString(v, s.Tag)
		v = protowire.AppendTag(v, valueSimpleValue, protowire.Fixed32Type)
		v = protowire.AppendFixed32(v, math.Float32bits(s.Value))
		summary = protowire.AppendTag(summary, summaryValue, protowire.BytesType)
		summary = protowire.AppendBytes(summary, v)
	}
	b := protowire.AppendTag(nil, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(wallTime))
	if step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(step))
	}
	b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
	return protowire.AppendBytes(b, summary)
}

// File is a whole event file: the file-version event, then one event with
// the scalars at step, both at wallTime.
func File(wallTime float64, step int64, scalars []Scalar) []byte {
	f := AppendRecord(nil, FileVersionEvent(wallTime))
	return AppendRecord(f, ScalarsEvent(wallTime, step, scalars))
}
