package store

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
)

// objectRows streams the rows of several objects one after the other, as one
// analysis.Rows. The columns are those of the first object that opens; the
// columns of later objects are matched by name (a missing column reads as "",
// a column the first object lacked is dropped). Objects that cannot be read
// are skipped and recorded; Err then returns ErrIncomplete.
type objectRows struct {
	ctx  context.Context
	be   backend
	objs []object
	spec readSpec
	info *WindowInfo

	// timeIdx, when >= 0, filters rows to [from, to) by that column; rows
	// whose time does not parse are kept (their partition is in range).
	timeIdx  int
	from, to time.Time

	cols  []string
	index map[string]int

	next    int // next object to open
	cur     analysis.Rows
	closer  io.Closer
	mapping []int // cur column → output column, -1 = dropped
	// consumed counts the rows taken from cur, attempt its read attempts.
	consumed int64
	attempt  int
	row      []string
	invalid  int64 // invalid rows of finished objects
	err      error
	closed   bool
}

func newObjectRows(ctx context.Context, be backend, objs []object, spec readSpec, info *WindowInfo) *objectRows {
	r := &objectRows{ctx: ctx, be: be, objs: objs, spec: spec, info: info, timeIdx: -1}
	// Open objects until one gives us the columns.
	for r.next < len(r.objs) && r.cur == nil && r.err == nil {
		r.openNext()
	}
	if r.cur != nil {
		r.cols = append([]string(nil), r.cur.Columns()...)
		r.index = make(map[string]int, len(r.cols))
		for i, c := range r.cols {
			r.index[c] = i
		}
		r.mapping = r.mapCols(r.cur.Columns())
	}
	return r
}

// addColumn appends a column the objects may lack (the joined target).
func (r *objectRows) addColumn(name string) int {
	if i, ok := r.index[name]; ok {
		return i
	}
	if r.index == nil {
		r.index = map[string]int{}
	}
	r.cols = append(r.cols, name)
	r.index[name] = len(r.cols) - 1
	return len(r.cols) - 1
}

func (r *objectRows) mapCols(cols []string) []int {
	m := make([]int, len(cols))
	for i, c := range cols {
		j, ok := r.index[c]
		if !ok {
			j = -1
		}
		m[i] = j
	}
	return m
}

// Reading an object is tried readAttempts times; a failure mid-stream
// reopens the object and skips the rows already delivered (decoding is
// deterministic), so a dropped connection neither loses nor repeats rows.
const readAttempts = 3

var retryDelay = 200 * time.Millisecond

// openNext opens objs[next]; on failure it records the object and leaves cur nil.
func (r *objectRows) openNext() {
	o := r.objs[r.next]
	r.next++
	r.consumed, r.attempt = 0, 0
	if r.openObject(o) {
		r.info.Objects++
		r.info.Bytes += o.Size
	}
}

// openObject opens o into cur, retrying transient failures.
func (r *objectRows) openObject(o object) bool {
	var err error
	for ; r.attempt < readAttempts; r.attempt++ {
		if r.attempt > 0 {
			select {
			case <-time.After(retryDelay << (r.attempt - 1)):
			case <-r.ctx.Done():
			}
		}
		if cerr := r.ctx.Err(); cerr != nil {
			r.err = cerr
			return false
		}
		var rows analysis.Rows
		var rc io.ReadCloser
		rows, rc, err = r.tryOpen(o)
		if err == nil {
			r.cur, r.closer = rows, rc
			return true
		}
		if IsPermanent(err) {
			r.err = err
			return false
		}
		if errors.Is(err, ErrNotFound) {
			break // deleted since the listing: retrying will not bring it back
		}
	}
	r.info.fail(r.be.uri(o.Key), err)
	return false
}

func (r *objectRows) tryOpen(o object) (analysis.Rows, io.ReadCloser, error) {
	rc, err := r.be.open(r.ctx, o.Key)
	if err != nil {
		return nil, nil, err
	}
	var body io.Reader = rc
	if !r.isParquet(o.Key) || strings.HasSuffix(o.Key, ".gz") {
		// Parquet needs random access: a local file is read in place.
		body, err = maybeGunzip(rc)
	}
	var rows analysis.Rows
	if err == nil {
		rows, err = decode(body, o.Key, r.spec)
	}
	// Skip what an earlier attempt delivered.
	for n := int64(0); err == nil && n < r.consumed; n++ {
		if !rows.Next() {
			err = rows.Err()
			if err == nil {
				err = fmt.Errorf("object shrank on re-read (%d rows, had %d)", n, r.consumed)
			}
		}
	}
	if err != nil {
		if rows != nil {
			if c, ok := rows.(io.Closer); ok {
				c.Close()
			}
		}
		rc.Close()
		return nil, nil, err
	}
	return rows, rc, nil
}

func (r *objectRows) isParquet(key string) bool {
	return r.spec.format == "parquet" || (r.spec.format == "" && formatOfKey(key) == "parquet")
}

func (r *objectRows) Columns() []string { return r.cols }
func (r *objectRows) Row() []string     { return r.row }

func (r *objectRows) Invalid() int64 {
	n := r.invalid
	if r.cur != nil {
		n += r.cur.Invalid()
	}
	return n
}

func (r *objectRows) Err() error {
	if r.err != nil {
		return r.err
	}
	if r.info.Incomplete && r.cur == nil && r.next >= len(r.objs) {
		return fmt.Errorf("%w: %s", ErrIncomplete, strings.Join(r.info.Errors, "; "))
	}
	return nil
}

func (r *objectRows) Next() bool {
	if r.row == nil {
		r.row = make([]string, len(r.cols))
	}
	for r.err == nil && !r.closed {
		if r.cur == nil {
			if r.next >= len(r.objs) {
				return false
			}
			r.openNext()
			if r.cur != nil {
				r.mapping = r.mapCols(r.cur.Columns())
			}
			continue
		}
		if !r.cur.Next() {
			r.finishCurrent()
			continue
		}
		r.consumed++
		cells := r.cur.Row()
		clear(r.row)
		for i, c := range cells {
			if i < len(r.mapping) && r.mapping[i] >= 0 {
				r.row[r.mapping[i]] = c
			}
		}
		if r.timeIdx >= 0 {
			if t, ok := parseTime(r.row[r.timeIdx]); ok && (t.Before(r.from) || !t.Before(r.to)) {
				continue
			}
		}
		return true
	}
	return false
}

func (r *objectRows) finishCurrent() {
	o := r.objs[r.next-1]
	err := r.cur.Err()
	if err != nil && !IsPermanent(err) && r.attempt+1 < readAttempts && r.ctx.Err() == nil {
		// Failed mid-stream: reopen and resume after the delivered rows.
		r.closeCurrent()
		r.attempt++
		r.openObject(o)
		return
	}
	if err != nil {
		r.info.fail(r.be.uri(o.Key), err)
	}
	r.invalid += r.cur.Invalid()
	r.closeCurrent()
}

func (r *objectRows) closeCurrent() {
	if c, ok := r.cur.(io.Closer); ok {
		c.Close()
	}
	if r.closer != nil {
		r.closer.Close()
	}
	r.cur, r.closer = nil, nil
}

// Close releases the object being read; call it when stopping early.
func (r *objectRows) Close() error {
	if r.cur != nil {
		r.closeCurrent()
	}
	r.closed = true
	return nil
}

// maybeGunzip decompresses gzip streams (".gz" objects, or any object that
// starts with the gzip magic bytes) and passes other streams through.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// parseTime reads RFC 3339 timestamps and unix seconds (integer or
// fractional).
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
