package analysis

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Splitter is implemented by Rows whose unread records can be cut into
// parts that are read concurrently: a memory-mapped CSV file, cut at line
// ends. Profiler.AddRows profiles the parts on every core and merges their
// profiles in order.
type Splitter interface {
	// Split returns parts that together hold every record not yet read, in
	// order, each of about partBytes of input but the last ones, which may
	// be smaller so that the cores finish together; nil when the rest is too
	// small to be worth cutting or cannot be cut. It does not advance the
	// receiver: when any part ends with an error (Err), the caller reads
	// the receiver itself instead (a CSV part stops at a quote, since a
	// quoted field may hold a line end that a cut would have split). A
	// part's cells may be valid only until its next record (a part reads
	// into a buffer of its own, reused): the profiler copies what it keeps.
	Split(partBytes int) []Rows
}

// Transient is implemented by Rows that can hand over their unread records
// as a stream that is cheaper to read but whose cells are valid only until
// its next record: a mapped CSV file read into a reused buffer (the pages
// of a mapped file cost more CPU to map than to copy). The profiler, which
// copies what it keeps, reads through it.
type Transient interface {
	// Transient returns the rest of the records, or nil when it cannot;
	// the receiver must not be read afterwards.
	Transient() Rows
}

// splitPartBytes is the size of the parts a Splitter is cut into. Parts
// are merged in order whatever the number of cores, so the profile of a
// window does not depend on the machine. Each merge re-compacts the
// sketches and each part allocates its own, so parts are large: 64 MiB,
// but for the last 128 MiB of a file, cut in 16 MiB parts (store/format's
// CSV): a part is read by one core, and a last large part kept the other
// idle for most of a part's time (0.3 s of 2.6). A 942 MB file of 5M rows
// × 20 columns is 13 parts of 64 MiB and 4 of 16 MiB.
var splitPartBytes = 64 << 20

// partSlots bounds the part profiles that exist at once in the process to
// the cores: a part takes a slot before it starts and gives it back once it
// is merged, so a reference and a current window split at the same time
// share them. (Slots per window let finished parts wait for their merge
// beside the parts in flight: twice the sketches in memory for no more
// speed, as both windows already keep both cores busy.)
var partSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// addParts profiles parts concurrently on GOMAXPROCS goroutines and merges
// them, in order, into pr's profile. total is the estimated number of rows
// in all parts: far beyond the exact limit, so every part sketches from its
// first value, as one sequential profile would. It reports false, leaving
// pr's profile untouched, when a part failed.
func (pr *Profiler) addParts(parts []Rows, total int64) bool {
	pr.flush() // pr's own values are merged first
	workers := min(runtime.GOMAXPROCS(0), len(parts))
	type result struct {
		p  *Profile
		ok bool
	}
	done := make([]chan result, len(parts))
	for i := range done {
		done[i] = make(chan result, 1)
	}
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// A slot before the index: parts take slots in order, so
				// the first unmerged part of every window holds one.
				partSlots <- struct{}{}
				i := int(next.Add(1) - 1)
				if i >= len(parts) {
					<-partSlots
					return
				}
				if failed.Load() {
					done[i] <- result{}
					continue
				}
				sub := NewProfiler(pr.p.Schema, pr.opts)
				sub.reserve(total) // sketches from the first value
				sub.addSequential(parts[i])
				if parts[i].Err() != nil {
					failed.Store(true)
					done[i] <- result{}
					continue
				}
				sub.p.readyToMerge()
				done[i] <- result{sub.p, true}
			}
		}()
	}
	// The parts are merged into a new profile sized for every row, which
	// starts with what pr had: pr's profile is untouched until the end, so
	// a failed part leaves it as it was.
	acc := NewProfiler(pr.p.Schema, pr.opts)
	acc.reserve(pr.p.Rows + total)
	merge := func(o *Profile) {
		if err := acc.p.Merge(o); err != nil {
			panic(err) // same schema on both sides: cannot happen
		}
	}
	merge(pr.p)
	ok := true
	for i := range parts {
		r := <-done[i]
		if r.ok && ok {
			merge(r.p)
			for _, c := range r.p.Columns {
				if c.Values != nil {
					c.Values.recycle()
				}
			}
		} else {
			ok = false
		}
		<-partSlots // merged and recycled: the next part may start
	}
	wg.Wait()
	if !ok {
		return false
	}
	*pr.p = *acc.p
	pr.bind(nil)
	return true
}
