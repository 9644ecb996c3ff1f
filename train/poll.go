package train

import (
	"context"
	"fmt"
	"time"
)

// poller is the one wait loop of the trainers that follow a remote job
// (GitLab, Jenkins, Kubeflow, Airflow, SageMaker): it calls check every interval (default 30s)
// until check reports done or fails, and on cancellation of ctx stops the
// job (but leaves it running when the worker is shutting down: see
// ErrShutdown).
//
// A failed check ends the wait, unless it is transient and fewer than
// tolerate checks in a row failed: the CI backends' HTTP calls ride out a
// flaky API that way, while the SageMaker client retries inside the AWS SDK
// and tolerates none. A PermanentError and an HTTP answer retrying cannot
// fix (4xx, see httpError) are never tolerated.
type poller struct {
	interval time.Duration
	tolerate int
}

// run returns nil when check reports done; check's error; or, when ctx is
// done, an error wrapping ErrDetached (worker shutdown) or ErrStopped and
// ctx's error (stop's failure, if any, in the message).
func (p poller) run(ctx context.Context, check func() (done bool, err error), stop func(context.Context) error) error {
	failed := 0
	for {
		done, err := check()
		switch {
		case err != nil && ctx.Err() == nil:
			if he, ok := err.(*httpError); (ok && !he.retryable()) || IsPermanent(err) {
				return err
			}
			if failed++; failed > p.tolerate {
				return err
			}
		case err == nil:
			failed = 0
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if shuttingDown(ctx) {
				return fmt.Errorf("%w: %w", ErrDetached, context.Cause(ctx))
			}
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if serr := stop(stopCtx); serr != nil {
				return fmt.Errorf("%w: %w (and stopping it failed: %v)", ErrStopped, ctx.Err(), serr)
			}
			return fmt.Errorf("%w: %w", ErrStopped, ctx.Err())
		case <-time.After(orDur(p.interval, 30*time.Second)):
		}
	}
}

// ciTolerate is how many polls in a row a CI backend's API may fail
// transiently (5xx, 408, 429, a dropped connection) before the wait gives up.
const ciTolerate = 5
