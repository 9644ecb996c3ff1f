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
	first := from.UTC().Truncate(time.Hour)
	if !to.After(first) {
		return nil, nil
	}
	var objs []object
	keep := func(o object) error {
		h, ok := partitionHour(o.Key)
		if ok && !h.Before(first) && h.Before(to) {
			objs = append(objs, o)
		}
		return nil
	}
	if to.Sub(first) <= 6*time.Hour {
		for h := first; h.Before(to); h = h.Add(time.Hour) {
			if err := b.list(ctx, partitionPath(h), keep); err != nil {
				return nil, err
			}
		}
	} else {
		day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
		for ; day.Before(to); day = day.AddDate(0, 0, 1) {
			if err := b.list(ctx, day.Format("2006/01/02")+"/", keep); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return objs, nil
}
