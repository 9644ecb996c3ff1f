package store

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hour partitions: every object of a source lives under
// <root>/yyyy/mm/dd/hh/ (UTC), the layout of Vigil's ingest, of Firehose and
// of SageMaker data capture (<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/).

// partitionPath is the key prefix of the hour that contains t.
func partitionPath(t time.Time) string {
	return t.UTC().Format("2006/01/02/15") + "/"
}

// partitionHour parses the yyyy/mm/dd/hh/ head of a key.
func partitionHour(key string) (time.Time, bool) {
	parts := strings.SplitN(key, "/", 5)
	if len(parts) < 5 {
		return time.Time{}, false
	}
	var n [4]int
	for i, w := range []int{4, 2, 2, 2} {
		if len(parts[i]) != w {
			return time.Time{}, false
		}
		v, err := strconv.Atoi(parts[i])
		if err != nil {
			return time.Time{}, false
		}
		n[i] = v
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], 0, 0, 0, time.UTC)
	if t.Year() != n[0] || int(t.Month()) != n[1] || t.Day() != n[2] || t.Hour() != n[3] {
		return time.Time{}, false
	}
	return t, true
}

// listHours lists the objects in the hour partitions that overlap [from, to),
// in key order. Short spans are listed hour by hour, longer ones day by day
// (fewer LIST calls), keeping only the hours in range.
func listHours(ctx context.Context, b backend, from, to time.Time) ([]object, error) {
	return listHoursUnder(ctx, b, []string{""}, from, to)
}

// listHoursUnder is listHours for partitions under several roots ("" or
// "a/b/", relative to the backend's root).
func listHoursUnder(ctx context.Context, b backend, roots []string, from, to time.Time) ([]object, error) {
	first := from.UTC().Truncate(time.Hour)
	if !to.After(first) {
		return nil, nil
	}
	var objs []object
	for _, root := range roots {
		keep := func(o object) error {
			h, ok := partitionHour(strings.TrimPrefix(o.Key, root))
			if ok && !h.Before(first) && h.Before(to) {
				objs = append(objs, o)
			}
			return nil
		}
		if to.Sub(first) <= 6*time.Hour {
			for h := first; h.Before(to); h = h.Add(time.Hour) {
				if err := b.list(ctx, root+partitionPath(h), keep); err != nil {
					return nil, err
				}
			}
		} else {
			day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
			for ; day.Before(to); day = day.AddDate(0, 0, 1) {
				if err := b.list(ctx, root+day.Format("2006/01/02")+"/", keep); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}

// isYear reports whether a path segment looks like a partition year.
func isYear(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// captureRoots finds the hour-partitioned roots of a SageMaker data-capture
// source: the URI may name a variant (<prefix>/<endpoint>/<variant>, whose
// children are years), an endpoint (every variant is read) or the capture
// prefix (every endpoint and variant). Roots are returned as "" or "e/v/".
func captureRoots(ctx context.Context, b backend) ([]string, error) {
	var roots []string
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		dirs, err := b.dirs(ctx, prefix)
		if err != nil {
			return err
		}
		var sub []string
		for _, d := range dirs {
			if isYear(d) {
				roots = append(roots, prefix)
				return nil
			}
			sub = append(sub, d)
		}
		if depth == 0 {
			return nil
		}
		for _, d := range sub {
			if err := walk(prefix+d+"/", depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", 2); err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		roots = []string{""}
	}
	return roots, nil
}
