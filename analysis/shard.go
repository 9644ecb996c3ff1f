package analysis

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"slices"
)

// A window too large for one process is profiled in shards: each shard of
// the current window is profiled with the reference's schema
// (ProfileShard), stored (EncodeProfile), read back (DecodeProfile) and
// merged in shard order (Profile.Merge); CompareProfiles then turns the
// reference's profile (ProfileReference) and the merged one into the same
// Report Analyze makes, and the same numbers while the window stays exact.

// ReferenceSchema infers the schema from the first SchemaSampleRows rows of
// the reference, as Analyze does. It reads only those rows.
func ReferenceSchema(reference Rows, opts Options) (*Schema, error) {
	schema, _, err := sampleSchema(reference, opts)
	return schema, err
}

// ProfileReference infers the schema from the reference's first rows and
// profiles the whole reference with it: Analyze's reference side.
func ProfileReference(reference Rows, opts Options) (*Profile, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	schema, ref, err := sampleSchema(reference, opts)
	if err != nil {
		return nil, err
	}
	p, err := ProfileRows(ref, schema, opts)
	if err != nil {
		return nil, fmt.Errorf("analysis: reading reference: %w", err)
	}
	return p, nil
}

// ProfileShard profiles part of a current window with the reference's
// schema and checks its columns as Analyze checks a window's (an
// InputError of the current side when a feature is missing).
func ProfileShard(current Rows, schema *Schema, opts Options) (*Profile, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p, err := ProfileRows(current, schema, opts)
	if err != nil {
		return nil, fmt.Errorf("analysis: reading current window: %w", err)
	}
	if p.Rows > 0 {
		if err := checkColumns(schema, current.Columns(), opts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// SketchFor makes every exact numeric sample of p a sketch when its whole
// window will hold about windowRows rows, far beyond the exact limit (the
// rule a profiler applies when it knows its size up front): a shard of a
// large window is then stored in sketch size (~SketchCap·levels values per
// column) instead of every value, and the merged window is a sketch anyway.
func (p *Profile) SketchFor(windowRows int64) {
	sketch := func(s *Sample) {
		if s != nil && s.Levels == nil && windowRows/2 > int64(s.Limit) {
			s.toSketch()
		}
	}
	for _, c := range p.Columns {
		sketch(c.Values)
	}
	if p.Perf != nil {
		sketch(p.Perf.PosScores)
		sketch(p.Perf.NegScores)
	}
}

// profileWire is a Profile with the event ids it has seen (unexported in
// Profile, which keeps them for Merge's cross-shard duplicate count).
type profileWire struct {
	Profile  *Profile
	EventIDs []uint64
}

// EncodeProfile serialises a profile for another process: every exported
// field plus the hashed event ids it has seen, so merging decoded shards
// counts duplicate event ids across shards as one profiler would. It is
// gob, which writes a float64 in at most 8 bytes and reads it back
// exactly: a sketched column of a shard (thousands of points) decodes
// several times faster than as JSON text, and the merge decodes every
// shard in turn.
func EncodeProfile(p *Profile) ([]byte, error) {
	ids := make([]uint64, 0, len(p.ids))
	for k := range p.ids {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(profileWire{Profile: p, EventIDs: ids}); err != nil {
		return nil, fmt.Errorf("analysis: encode profile: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeProfile reads a profile written by EncodeProfile.
func DecodeProfile(data []byte) (*Profile, error) {
	var w profileWire
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&w); err != nil {
		return nil, fmt.Errorf("analysis: decode profile: %w", err)
	}
	if w.Profile == nil {
		return nil, fmt.Errorf("analysis: decode profile: no profile")
	}
	p := w.Profile
	if len(w.EventIDs) > 0 {
		p.ids = make(map[uint64]struct{}, len(w.EventIDs))
		for _, k := range w.EventIDs {
			p.ids[k] = struct{}{}
		}
	}
	return p, nil
}
