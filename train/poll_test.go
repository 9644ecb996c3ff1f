package train

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The poller rides out up to `tolerate` transient failures in a row, and
// never one retrying cannot fix.
func TestPollerToleratesOnlyTransientFailures(t *testing.T) {
	transient := &httpError{Method: "GET", URL: "u", Status: 503}
	for _, tc := range []struct {
		name     string
		tolerate int
		checks   []error // then done
		wantErr  error
	}{
		{"no failures", 0, nil, nil},
		{"transient within tolerance", 2, []error{transient, transient}, nil},
		{"failures not in a row", 1, []error{transient, nil, transient}, nil},
		{"transient beyond tolerance", 2, []error{transient, transient, transient}, transient},
		{"none tolerated", 0, []error{transient}, transient},
		{"4xx at once", 5, []error{&httpError{Method: "GET", URL: "u", Status: 404}}, &httpError{}},
		{"permanent at once", 5, []error{&PermanentError{Backend: "b"}}, &PermanentError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := poller{interval: time.Millisecond, tolerate: tc.tolerate}.run(context.Background(), func() (bool, error) {
				if n < len(tc.checks) {
					n++
					return false, tc.checks[n-1]
				}
				return true, nil
			}, func(context.Context) error { t.Error("stop called"); return nil })
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("run = %v, want done", err)
				}
			case *httpError:
				var got *httpError
				if !errors.As(err, &got) || (want.Status != 0 && got.Status != want.Status) {
					t.Errorf("run = %v, want %v", err, want)
				}
			case *PermanentError:
				if !IsPermanent(err) {
					t.Errorf("run = %v, want a PermanentError", err)
				}
			}
			if tc.wantErr != nil && n != len(tc.checks) {
				t.Errorf("%d checks, want %d", n, len(tc.checks))
			}
		})
	}
}

// Cancelled, the poller stops the job; cancelled because the worker shuts
// down, it leaves the job running.
func TestPollerStopsOrDetachesOnCancellation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cause     error
		stopErr   error
		want      error
		wantStops int
	}{
		{"cancelled", context.Canceled, nil, ErrStopped, 1},
		{"cancelled, stop fails", context.Canceled, errors.New("api down"), ErrStopped, 1},
		{"worker shutdown", fmt.Errorf("%w: sdk", ErrShutdown), nil, ErrDetached, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			stops := 0
			err := poller{interval: time.Millisecond}.run(ctx, func() (bool, error) {
				cancel(tc.cause)
				return false, nil
			}, func(context.Context) error { stops++; return tc.stopErr })
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.cause) || stops != tc.wantStops {
				t.Errorf("run = %v after %d stops; want %v wrapping %v after %d", err, stops, tc.want, tc.cause, tc.wantStops)
			}
			if tc.stopErr != nil && !strings.Contains(err.Error(), tc.stopErr.Error()) {
				t.Errorf("run = %v, want the stop's failure in the message", err)
			}
		})
	}
}
