package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Band is a metric's band over reference chunks: Mean ± 3·Std of its value
// on Chunks chunks of ChunkRows reference rows each (NannyML's default
// thresholds), Std scaled by √(1 + n/m) for the reference sample's own
// noise (see referenceBands). Note says why there is no band.
type Band struct {
	Lower     float64 `json:"lower"`
	Upper     float64 `json:"upper"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	Chunks    int     `json:"chunks"`
	ChunkRows int     `json:"chunk_rows"`
	// Resampled is true when the chunks were drawn with replacement (the
	// reference sample is smaller than bandChunks windows).
	Resampled bool   `json:"resampled,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Reference-band parameters: bandChunks chunks are taken from the
// reference's row sample, which must hold at least minBandRows rows; a band
// needs a value on at least minBandChunks of them.
const (
	bandChunks    = 10
	minBandChunks = 8
	minBandRows   = 500
)

// referenceBands fills rep.Bands for opts.BandMetrics: the reference's row
// sample is cut into chunks of the current window's size, each chunk is
// compared with the whole reference as a window would be, and each metric's
// values over the chunks give its band. When the sample holds fewer than
// bandChunks such chunks, the chunks are drawn from it with replacement (a
// bootstrap of the window's size; Band.Resampled). Chunks
// are uniform samples of the reference, not consecutive periods: the band
// holds sampling noise, not the reference's own seasonality.
func referenceBands(rep *Report, ref *Profile, refRows [][]string, size int64, opts Options) error {
	rep.Bands = map[string]Band{}
	if size <= 0 || len(refRows) < minBandRows {
		note := fmt.Sprintf("no reference band: the reference sample holds %d rows (at least %d needed) and the window %d", len(refRows), minBandRows, size)
		for _, m := range opts.BandMetrics {
			rep.Bands[m] = Band{ChunkRows: int(size), Note: note}
		}
		return nil
	}
	chunks := bandChunks
	resampled := int64(len(refRows)) < bandChunks*size
	chunk := func(c int) [][]string {
		return refRows[int64(c)*size : int64(c+1)*size]
	}
	if resampled {
		r := rand.New(rand.NewPCG(uint64(len(refRows)), uint64(size)))
		chunk = func(int) [][]string {
			out := make([][]string, size)
			for i := range out {
				out[i] = refRows[r.IntN(len(refRows))]
			}
			return out
		}
	}
	chunkOpts := opts
	chunkOpts.BandMetrics = nil
	values := map[string][]float64{}
	for c := range chunks {
		pr := NewProfiler(ref.Schema, chunkOpts)
		for _, r := range chunk(c) {
			pr.Add(r)
		}
		r, err := CompareProfiles(ref, pr.Profile(), chunkOpts)
		if err != nil {
			return fmt.Errorf("analysis: reference band, chunk %d: %w", c, err)
		}
		for _, m := range opts.BandMetrics {
			if v, ok := r.Metric(m); ok && !math.IsNaN(v) {
				values[m] = append(values[m], v)
			}
		}
	}
	for _, m := range opts.BandMetrics {
		v := values[m]
		if len(v) < minBandChunks {
			rep.Bands[m] = Band{Chunks: len(v), ChunkRows: int(size), Resampled: resampled,
				Note: fmt.Sprintf("the metric has a value on %d of %d reference chunks", len(v), chunks)}
			continue
		}
		var s float64
		for _, x := range v {
			s += x
		}
		// The chunks come from the reference sample, so their spread lacks
		// the sample's own deviation from the population: a new window
		// differs from the sample's mean by √(1 + n/m) times a chunk's
		// standard deviation (n rows per chunk, m in the sample).
		mean, sd := s/float64(len(v)), stdDev(v)*math.Sqrt(1+float64(size)/float64(len(refRows)))
		rep.Bands[m] = Band{Lower: mean - 3*sd, Upper: mean + 3*sd, Mean: mean, Std: sd, Chunks: len(v), ChunkRows: int(size), Resampled: resampled}
	}
	return nil
}

// rowLevel runs the analyses that need whole rows, on the row samples.
func rowLevel(rep *Report, ref, cur *Profile, opts Options) error {
	rt := newRowTable(ref.Sample, ref.Schema)
	ct := newRowTable(cur.Sample, cur.Schema)
	estimatePerformance(rep, rt, ct, opts)
	if opts.Task == TaskRegression {
		estimateRegression(rep, rt, ct)
	}
	weakSegments(rep, ct, opts)
	multivariateDrift(rep, rt, ct, opts)
	if len(opts.BandMetrics) > 0 && rt != nil {
		return referenceBands(rep, ref, rt.rows, cur.Rows, opts)
	}
	return nil
}
