package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/store"
)

// cmdReport prints a stored evaluation report: the latest one of the model
// whose window starts at or before -at (default now), or with -list the
// reports of the 7 days before -at.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	model := fs.String("model", "", "model name (required)")
	at := fs.String("at", "", "a time: RFC 3339 (2026-03-01T10:00:00Z), a date (2026-03-01, end of day UTC) or a duration ago (90m); default now")
	list := fs.Bool("list", false, "list the reports of the 7 days before -at instead of printing one")
	html := fs.String("html", "", "write the report as one self-contained HTML `file` (rules judged, charts, tables) instead of printing its JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: starter report -model M [-at TIME] [-list] [-html F] [-config vigil.yaml]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" {
		fmt.Fprintln(stderr, "report: -model is required")
		fs.Usage()
		return errUsage
	}
	when, err := parseWhen(*at, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "report: -at: %v\n", err)
		return errUsage
	}
	cfg, err := loadConfig(*configPath, config.Options{SkipEnv: true})
	if err != nil {
		return err
	}
	if cfg.Model(*model) == nil {
		return fmt.Errorf("model %q is not in %s", *model, cfg.File)
	}
	st := store.New(cfg.Storage)
	if *list {
		refs, err := st.ListReports(ctx, *model, when.Add(-7*24*time.Hour), when.Add(time.Nanosecond))
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			fmt.Fprintf(stderr, "no reports of %s in the 7 days before %s\n", *model, when.Format(time.RFC3339))
		}
		for _, r := range refs {
			fmt.Fprintf(stdout, "%s  %s\n", r.WindowStart.Format(time.RFC3339), r.URI)
		}
		return nil
	}
	data, ref, err := st.ReadReport(ctx, *model, when)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no report of model %s at or before %s in %s: has the model been evaluated yet? (starter trigger -model %s)",
			*model, when.Format(time.RFC3339), cfg.Storage.Reports, *model)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "report of the window starting %s: %s\n", ref.WindowStart.Format(time.RFC3339), ref.URI)
	if *html != "" {
		s, err := dashboard.DecodeReport(data)
		if err != nil {
			return fmt.Errorf("%s: %w", ref.URI, err)
		}
		s.URI = ref.URI
		if s.WindowStart.IsZero() {
			s.WindowStart = ref.WindowStart
		}
		if err := writeHTML(*html, dashboard.NewReportPage(*model, s, cfg.Model(*model).Rules)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", *html)
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, data, "", "  ") != nil {
		_, err = stdout.Write(data) // not JSON: print as stored
		return err
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

// parseWhen reads -at: empty is now; RFC 3339; a date (its end, UTC); or a
// duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Nanosecond), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 (2026-03-01T10:00:00Z), a date (2026-03-01) or a duration ago (90m), got %q", s)
}
