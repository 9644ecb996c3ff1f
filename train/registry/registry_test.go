package registry

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// memBlobs is an in-memory store.Blobs with the same compare-and-swap
// semantics as the real ones; it counts conflicts so tests can prove the
// retry loop was exercised.
type memBlobs struct {
	mu        sync.Mutex
	data      map[string][]byte
	ver       map[string]int
	conflicts int
}

func newMem() *memBlobs { return &memBlobs{data: map[string][]byte{}, ver: map[string]int{}} }

func (m *memBlobs) Get(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[key]
	if !ok {
		return nil, "", store.ErrNotFound
	}
	return append([]byte(nil), d...), strconv.Itoa(m.ver[key]), nil
}

func (m *memBlobs) PutIf(_ context.Context, key string, data []byte, version string) (string, error) {
	runtime.Gosched() // widen the read-modify-write window
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := ""
	if _, ok := m.data[key]; ok {
		cur = strconv.Itoa(m.ver[key])
	}
	if cur != version {
		m.conflicts++
		return "", store.ErrConflict
	}
	m.ver[key]++
	m.data[key] = append([]byte(nil), data...)
	return strconv.Itoa(m.ver[key]), nil
}

func clock() func() time.Time {
	t := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	return func() time.Time { mu.Lock(); defer mu.Unlock(); t = t.Add(time.Minute); return t }
}

func version(run string) Version {
	return Version{RunID: run, Trainer: "command", ArtifactURI: "file:///models/" + run + "/model.json",
		Data:            []Data{{Role: "train", URI: "file:///data/train.jsonl", SHA256: "abc"}},
		Hyperparameters: map[string]string{"lr": "0.1"}, Metrics: map[string]float64{"accuracy": 0.9},
		CodeVersion: "deadbeef"}
}

// testBlobs returns the Blobs implementations every behaviour is checked on.
func testBlobs(t *testing.T) map[string]func() store.Blobs {
	return map[string]func() store.Blobs{
		"memory": func() store.Blobs { return newMem() },
		"local": func() store.Blobs {
			b, err := store.New(config.Storage{}).Blobs(context.Background(), "file://"+t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
}

func TestRegisterNumbersVersionsAndKeepsLineage(t *testing.T) {
	for name, mk := range testBlobs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := New(mk(), WithClock(clock()))
			v1, err := r.Register(ctx, "churn", version("run-1"))
			if err != nil {
				t.Fatal(err)
			}
			v2, _ := r.Register(ctx, "churn", version("run-2"))
			if v1.Version != 1 || v2.Version != 2 || v1.Status != Candidate || v1.Created.IsZero() {
				t.Fatalf("v1=%+v v2=%+v", v1, v2)
			}
			got, err := r.Get(ctx, "churn", 1)
			if err != nil || got.Data[0].SHA256 != "abc" || got.Hyperparameters["lr"] != "0.1" ||
				got.Metrics["accuracy"] != 0.9 || got.CodeVersion != "deadbeef" {
				t.Fatalf("lineage lost: %+v %v", got, err)
			}
			if _, err := r.Get(ctx, "churn", 9); !errors.Is(err, ErrNotFound) {
				t.Errorf("missing version: %v", err)
			}
			if _, err := r.List(ctx, "fraud"); !errors.Is(err, ErrNotFound) {
				t.Errorf("missing model: %v", err)
			}
		})
	}
}

func TestRegisterIsIdempotentByRunID(t *testing.T) {
	ctx := context.Background()
	r := New(newMem())
	a, _ := r.Register(ctx, "churn", version("run-1"))
	b, err := r.Register(ctx, "churn", version("run-1"))
	if err != nil || a.Version != b.Version || !a.Created.Equal(b.Created) {
		t.Fatalf("second register of run-1 = %+v, %v; want version %d", b, err, a.Version)
	}
	if vs, _ := r.List(ctx, "churn"); len(vs) != 1 {
		t.Errorf("%d versions, want 1", len(vs))
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	for name, mk := range testBlobs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			blobs := mk()
			const n = 32
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := New(blobs) // separate registries, like separate workers
					v, err := r.Register(ctx, "churn", version(fmt.Sprintf("run-%d", i)))
					if err != nil {
						errs <- err
						return
					}
					if _, err := r.SetAlias(ctx, "churn", AliasStaging, v.Version, "w"+strconv.Itoa(i), "test"); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			m, err := New(blobs).Model(ctx, "churn")
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			runs := map[string]bool{}
			for _, v := range m.Versions {
				seen[v.Version], runs[v.RunID] = true, true
			}
			if len(m.Versions) != n || len(seen) != n || len(runs) != n {
				t.Fatalf("%d versions, %d distinct numbers, %d runs; want %d of each", len(m.Versions), len(seen), len(runs), n)
			}
			if len(m.History) != n {
				t.Errorf("%d alias moves recorded, want %d", len(m.History), n)
			}
			if mem, ok := blobs.(*memBlobs); ok {
				if mem.conflicts == 0 {
					t.Error("no write conflicted; the CAS retry path was not exercised")
				}
				t.Logf("%d conflicting writes retried", mem.conflicts)
			}
		})
	}
}

func TestSetAliasReturnsThePreviousVersionForCompensation(t *testing.T) {
	ctx := context.Background()
	r := New(newMem(), WithClock(clock()))
	for i := 1; i <= 2; i++ {
		r.Register(ctx, "churn", version("run-"+strconv.Itoa(i)))
	}
	prev, err := r.SetAlias(ctx, "churn", AliasProduction, 1, "alice", "first deploy")
	if err != nil || prev != 0 {
		t.Fatalf("prev=%d err=%v", prev, err)
	}
	prev, _ = r.SetAlias(ctx, "churn", AliasProduction, 2, "vigil", "promoted by retrain-churn")
	if prev != 1 {
		t.Fatalf("prev = %d, want 1", prev)
	}
	m, _ := r.Model(ctx, "churn")
	if m.Version(1).Status != Archived || m.Version(2).Status != Production {
		t.Errorf("statuses: v1 %s, v2 %s", m.Version(1).Status, m.Version(2).Status)
	}
	// Compensation: a later step failed, put the alias back.
	if _, err := r.SetAlias(ctx, "churn", AliasProduction, prev, "vigil", "compensation: endpoint update failed"); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Resolve(ctx, "churn", AliasProduction); v.Version != 1 {
		t.Errorf("production = %d after compensation", v.Version)
	}
	// Removing an alias that was unset before is the compensation of a first promotion.
	if _, err := r.SetAlias(ctx, "churn", AliasStaging, 2, "a", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetAlias(ctx, "churn", AliasStaging, 0, "a", "undo"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "churn", AliasStaging); !errors.Is(err, ErrNotFound) {
		t.Errorf("staging should be gone: %v", err)
	}
	if _, err := r.SetAlias(ctx, "churn", AliasProduction, 7, "a", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alias to a missing version: %v", err)
	}
}

func TestRollbackRestoresThePreviousProductionAndRecordsWhy(t *testing.T) {
	ctx := context.Background()
	r := New(newMem(), WithClock(clock()))
	for i := 1; i <= 3; i++ {
		v, _ := r.Register(ctx, "churn", version("run-"+strconv.Itoa(i)))
		r.SetAlias(ctx, "churn", AliasProduction, v.Version, "vigil", "promoted")
	}
	mv, err := r.Rollback(ctx, "churn", 0, "bob", "v3 mis-scores new customers")
	if err != nil {
		t.Fatal(err)
	}
	if mv.From != 3 || mv.To != 2 || mv.Actor != "bob" || mv.Reason != "v3 mis-scores new customers" || !mv.Rollback || mv.Time.IsZero() {
		t.Fatalf("move = %+v", mv)
	}
	m, _ := r.Model(ctx, "churn")
	if m.Aliases[AliasProduction] != 2 || m.Version(2).Status != Production || m.Version(3).Status != Archived {
		t.Fatalf("after rollback: aliases %v, v2 %s, v3 %s", m.Aliases, m.Version(2).Status, m.Version(3).Status)
	}
	if got := m.History[len(m.History)-1]; got != mv {
		t.Errorf("history ends with %+v, want %+v", got, mv)
	}
	// A second rollback keeps going back; it does not bounce to the version just rolled back from.
	mv, err = r.Rollback(ctx, "churn", 0, "bob", "v2 too")
	if err != nil || mv.To != 1 {
		t.Fatalf("second rollback = %+v, %v; want to 1", mv, err)
	}
	if _, err := r.Rollback(ctx, "churn", 0, "bob", "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("nothing left to roll back to: %v", err)
	}
	// An explicit target works, and a reason is required.
	if mv, err := r.Rollback(ctx, "churn", 3, "bob", "fixed upstream data"); err != nil || mv.To != 3 {
		t.Errorf("rollback to 3 = %+v, %v", mv, err)
	}
	if _, err := r.Rollback(ctx, "churn", 1, "bob", ""); err == nil {
		t.Error("rollback without a reason must fail")
	}
}

func TestRejectedVersionsAreSkippedByRollback(t *testing.T) {
	ctx := context.Background()
	r := New(newMem())
	for i := 1; i <= 3; i++ {
		r.Register(ctx, "m", version("run-"+strconv.Itoa(i)))
		r.SetAlias(ctx, "m", AliasProduction, i, "vigil", "promoted")
	}
	if err := r.SetStatus(ctx, "m", 2, Rejected, "carol", "leaks labels"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetStatus(ctx, "m", 3, Rejected, "carol", "x"); err == nil {
		t.Error("rejecting the production version must fail")
	}
	if mv, err := r.Rollback(ctx, "m", 0, "carol", "bad"); err != nil || mv.To != 1 {
		t.Fatalf("rollback = %+v, %v; want 1 (2 is rejected)", mv, err)
	}
	if err := r.Approve(ctx, "m", 3, "dave"); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Get(ctx, "m", 3); v.ApprovedBy != "dave" || v.ApprovedAt == nil {
		t.Errorf("approval not recorded: %+v", v)
	}
}
