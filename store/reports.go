package store

import (
	"context"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Reports live at <storage.reports>/<model>/yyyy/mm/dd/<window start, RFC
// 3339 UTC>.json: one object per evaluated window, rewritten in place when a
// window is re-evaluated (a later run sees late labels).

var modelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidModelName reports whether name is a model name as config accepts it:
// lower-case letters, digits, - and _, which also makes it a safe path
// segment.
func ValidModelName(name string) bool { return modelNameRE.MatchString(name) }

// ReportRef names one stored report.
type ReportRef struct {
	Model       string
	WindowStart time.Time
	URI         string
	// Size and Modified identify the stored version (a window is rewritten
	// when it is evaluated again), for caches; set by LatestReports.
	Size     int64
	Modified time.Time
	key      string
}

func reportKey(model string, windowStart time.Time) string {
	t := windowStart.UTC()
	return path.Join(model, t.Format("2006/01/02"), t.Format(time.RFC3339)+".json")
}

func (s *Store) reports(ctx context.Context, model string) (backend, error) {
	if !ValidModelName(model) {
		return nil, permanentf("invalid model name %q", model)
	}
	if s.cfg.Reports == "" {
		return nil, permanentf("storage.reports is not set")
	}
	loc, err := parseURI(s.cfg.Reports)
	if err != nil {
		return nil, fmt.Errorf("storage.reports: %w", err)
	}
	return s.backend(ctx, loc)
}

// WriteReport stores the report of the window starting at windowStart and
// returns its URI. Writing the same window again replaces the report
// atomically.
func (s *Store) WriteReport(ctx context.Context, model string, windowStart time.Time, report []byte) (string, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return "", err
	}
	key := reportKey(model, windowStart)
	if err := b.put(ctx, key, report); err != nil {
		return "", err
	}
	return b.uri(key), nil
}

// ListReports lists the model's reports whose window starts in [from, to),
// oldest first. Zero times leave that end open.
func (s *Store) ListReports(ctx context.Context, model string, from, to time.Time) ([]ReportRef, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, err
	}
	var refs []ReportRef
	err = b.list(ctx, model+"/", func(o object) error {
		ref, ok := parseReportKey(model, o.Key)
		if !ok {
			return nil
		}
		if (!from.IsZero() && ref.WindowStart.Before(from)) || (!to.IsZero() && !ref.WindowStart.Before(to)) {
			return nil
		}
		ref.URI = b.uri(o.Key)
		refs = append(refs, ref)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].WindowStart.Before(refs[j].WindowStart) })
	return refs, nil
}

func parseReportKey(model, key string) (ReportRef, bool) {
	rest, ok := strings.CutPrefix(key, model+"/")
	if !ok || strings.Count(rest, "/") != 3 || !strings.HasSuffix(rest, ".json") {
		return ReportRef{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSuffix(path.Base(rest), ".json"))
	if err != nil {
		return ReportRef{}, false
	}
	return ReportRef{Model: model, WindowStart: t.UTC(), key: key}, true
}

// ReadReport returns the latest report of the model whose window starts at
// or before at (zero: the latest of all), and which one it is. It looks at
// the last 7 days' partitions first and lists the whole model only when they
// are empty. ErrNotFound when there is none.
func (s *Store) ReadReport(ctx context.Context, model string, at time.Time) ([]byte, ReportRef, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, ReportRef{}, err
	}
	if at.IsZero() {
		at = s.now()
	}
	best := ReportRef{}
	consider := func(o object) error {
		ref, ok := parseReportKey(model, o.Key)
		if ok && !ref.WindowStart.After(at) && (best.key == "" || ref.WindowStart.After(best.WindowStart)) {
			best = ref
		}
		return nil
	}
	day := at.UTC().Truncate(24 * time.Hour)
	for i := 0; i < 7 && best.key == ""; i++ {
		if err := b.list(ctx, model+"/"+day.AddDate(0, 0, -i).Format("2006/01/02")+"/", consider); err != nil {
			return nil, ReportRef{}, err
		}
	}
	if best.key == "" {
		if err := b.list(ctx, model+"/", consider); err != nil {
			return nil, ReportRef{}, err
		}
	}
	if best.key == "" {
		return nil, ReportRef{}, fmt.Errorf("no report for model %s at or before %s: %w", model, at.UTC().Format(time.RFC3339), ErrNotFound)
	}
	best.URI = b.uri(best.key)
	rc, err := b.open(ctx, best.key)
	if err != nil {
		return nil, ReportRef{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, ReportRef{}, fmt.Errorf("read %s: %w", best.URI, err)
	}
	return data, best, nil
}

// LatestReports lists the model's n latest reports, oldest first. It walks
// the year/month/day partitions newest first and stops once it has n, so its
// cost grows with n, not with the reports the model has.
func (s *Store) LatestReports(ctx context.Context, model string, n int) ([]ReportRef, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, err
	}
	var refs []ReportRef // newest first
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		if depth == 3 {
			var day []ReportRef
			err := b.list(ctx, prefix, func(o object) error {
				if ref, ok := parseReportKey(model, o.Key); ok {
					ref.URI, ref.Size, ref.Modified = b.uri(o.Key), o.Size, o.ModTime
					day = append(day, ref)
				}
				return nil
			})
			sort.Slice(day, func(i, j int) bool { return day[i].WindowStart.After(day[j].WindowStart) })
			refs = append(refs, day...)
			return err
		}
		names, err := b.dirs(ctx, prefix)
		if err != nil {
			return err
		}
		sort.Sort(sort.Reverse(sort.StringSlice(names)))
		for _, name := range names {
			if len(refs) >= n {
				return nil
			}
			if err := walk(prefix+name+"/", depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if n <= 0 {
		return nil, nil
	}
	if err := walk(model+"/", 0); err != nil {
		return nil, fmt.Errorf("list reports of %s: %w", model, err)
	}
	refs = refs[:min(n, len(refs))]
	slices.Reverse(refs)
	return refs, nil
}

// ReadReportAt returns the report of the window that starts exactly at
// windowStart; ErrNotFound when there is none.
func (s *Store) ReadReportAt(ctx context.Context, model string, windowStart time.Time) ([]byte, ReportRef, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, ReportRef{}, err
	}
	key := reportKey(model, windowStart)
	ref := ReportRef{Model: model, WindowStart: windowStart.UTC(), URI: b.uri(key), key: key}
	rc, err := b.open(ctx, key)
	if err != nil {
		return nil, ref, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, ref, fmt.Errorf("read %s: %w", ref.URI, err)
	}
	return data, ref, nil
}
