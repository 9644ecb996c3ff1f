package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vigilml/vigil/config"
)

// MaxEventIDLen bounds event ids.
const MaxEventIDLen = 256

type record struct {
	at   time.Time
	id   string // the event id
	line []byte // normalized JSON object, no newline
}

// Record is one record validated as the HTTP API validates it, for other
// ways in (the Kafka consumer): its event id, the hour partition it is
// stored in and its normalized JSON object (no newline).
type Record struct {
	EventID string
	Hour    time.Time
	Line    []byte
}

// Partition is the key prefix (yyyy/mm/dd/hh, UTC) of the hour partition
// that holds t: every way in files records the same way.
func Partition(t time.Time) string { return t.UTC().Format("2006/01/02/15") }

// Validate checks one JSON record of model m as the HTTP API does and
// normalizes it. Predictions (groundTruth false) are filed under the hour of
// their time, labels under the hour they arrive (now), as the window reader
// expects.
func Validate(raw []byte, m *config.Model, groundTruth bool, now time.Time) (Record, error) {
	k := kindPrediction
	if groundTruth {
		k = kindGroundTruth
	}
	rec, err := validate(raw, m.Name, m, k, now.UTC())
	if err != nil {
		return Record{}, err
	}
	hour := rec.at.UTC().Truncate(time.Hour)
	if groundTruth {
		hour = now.UTC().Truncate(time.Hour)
	}
	return Record{EventID: rec.id, Hour: hour, Line: rec.line}, nil
}

// names are the keys a model's records use.
type names struct{ eventID, time, prediction string }

func namesOf(m *config.Model) names {
	n := names{eventID: m.Columns.EventID, time: m.Columns.Time, prediction: m.Columns.Prediction}
	if n.eventID == "" {
		n.eventID = "event_id"
	}
	if n.time == "" {
		n.time = "time"
	}
	if n.prediction == "" {
		n.prediction = "prediction"
	}
	return n
}

// parse reads a JSON array or JSON lines and validates every record. On
// failure it returns the 1-based line of the offending record.
func parse(body []byte, model string, m *config.Model, k kind, now time.Time) ([]record, int, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	var recs []record
	add := func(raw []byte, line int) error {
		rec, err := validate(raw, model, m, k, now)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
		return nil
	}
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(body))
		if _, err := dec.Token(); err != nil {
			return nil, 1, fmt.Errorf("not a JSON array: %v", err)
		}
		for dec.More() {
			line := lineAt(body, dec.InputOffset())
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, line, fmt.Errorf("line %d: not valid JSON: %v", line, err)
			}
			if err := add(raw, line); err != nil {
				return nil, line, fmt.Errorf("line %d: %v", line, err)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, lineAt(body, dec.InputOffset()), fmt.Errorf("array not closed: %v", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, lineAt(body, dec.InputOffset()), errors.New("data after the JSON array")
		}
		return recs, 0, nil
	}
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if err := add(l, line); err != nil {
			return nil, line, fmt.Errorf("line %d: %v", line, err)
		}
	}
	return recs, 0, nil
}

// lineAt is the 1-based line of byte offset off, skipping the whitespace
// that precedes the next value.
func lineAt(body []byte, off int64) int {
	i := int(off)
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n' || body[i] == ',') {
		i++
	}
	return bytes.Count(body[:min(i, len(body))], []byte{'\n'}) + 1
}

func validate(raw []byte, model string, m *config.Model, k kind, now time.Time) (record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return record{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return record{}, errors.New("not a JSON object")
	}
	if dec.More() {
		return record{}, errors.New("more than one JSON value on the line")
	}
	n := namesOf(m)

	id, err := eventID(obj[n.eventID])
	if err != nil {
		return record{}, fmt.Errorf("%s: %v", n.eventID, err)
	}
	obj[n.eventID] = id

	at := now
	if v, ok := obj[n.time]; ok && v != nil {
		if at, err = recordTime(v); err != nil {
			return record{}, fmt.Errorf("%s: %v", n.time, err)
		}
	}
	obj[n.time] = at.UTC().Format(time.RFC3339Nano)

	if v, ok := obj["model"]; ok && v != model {
		return record{}, fmt.Errorf("model is %v but the URL names %q", v, model)
	}
	obj["model"] = model

	switch k {
	case kindPrediction:
		// A binary model may log only its score: the analysis predicts
		// positive at columns.threshold.
		_, hasScore := obj["score"]
		if err := scalar(obj, n.prediction, !hasScore || obj["score"] == nil); err != nil {
			return record{}, err
		}
		if v, ok := obj["features"]; ok && v != nil {
			if _, isObj := v.(map[string]any); !isObj {
				return record{}, errors.New("features: want a JSON object of name → value")
			}
		}
		for _, key := range []string{"score", "latency_ms"} {
			if err := number(obj, key); err != nil {
				return record{}, err
			}
		}
		if v, ok := obj["scores"]; ok && v != nil {
			switch v.(type) {
			case map[string]any, []any:
			default:
				return record{}, errors.New("scores: want an object of class → probability or an array")
			}
		}
	case kindGroundTruth:
		key := ""
		for _, c := range []string{m.Columns.Target, "label", "target"} {
			if v, ok := obj[c]; c != "" && ok && v != nil {
				key = c
				break
			}
		}
		if key == "" {
			want := "label or target"
			if m.Columns.Target != "" && m.Columns.Target != "label" && m.Columns.Target != "target" {
				want = m.Columns.Target + ", label or target"
			}
			return record{}, fmt.Errorf("missing the ground truth: set %s", want)
		}
		if err := scalar(obj, key, true); err != nil {
			return record{}, err
		}
		if key != m.Columns.Target && m.Columns.Target != "" {
			obj[m.Columns.Target] = obj[key] // the window reader joins this column
		}
	}
	line, err := json.Marshal(obj)
	if err != nil {
		return record{}, err
	}
	return record{at: at, id: id, line: line}, nil
}

func eventID(v any) (string, error) {
	var id string
	switch t := v.(type) {
	case nil:
		return "", errors.New("required")
	case string:
		id = t
	case json.Number:
		if _, err := t.Int64(); err != nil {
			return "", errors.New("want a string or an integer")
		}
		id = t.String()
	default:
		return "", errors.New("want a string or an integer")
	}
	if id == "" {
		return "", errors.New("required")
	}
	if len(id) > MaxEventIDLen {
		return "", fmt.Errorf("longer than %d bytes", MaxEventIDLen)
	}
	return id, nil
}

func recordTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return tm, nil
		}
		return time.Time{}, fmt.Errorf("want RFC 3339 (2026-03-01T10:00:00Z) or unix seconds, got %q", t)
	case json.Number:
		f, err := t.Float64()
		if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
			return time.Time{}, fmt.Errorf("want unix seconds, got %s", t)
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), nil
	}
	return time.Time{}, errors.New("want RFC 3339 or unix seconds")
}

func scalar(obj map[string]any, key string, required bool) error {
	v, ok := obj[key]
	if !ok || v == nil {
		if required {
			return fmt.Errorf("%s: required", key)
		}
		return nil
	}
	switch v.(type) {
	case string, json.Number, bool:
		return nil
	}
	return fmt.Errorf("%s: want a number, string or boolean", key)
}

func number(obj map[string]any, key string) error {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	if _, isNum := v.(json.Number); !isNum {
		return fmt.Errorf("%s: want a number", key)
	}
	return nil
}
