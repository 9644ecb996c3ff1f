package store

import (
	"context"
	"slices"
	"testing"

	"github.com/vigilml/vigil/config"
)

// testListObjects: a listing returns the keys under a prefix, in key order,
// relative to the root, and nothing under a sibling prefix.
func testListObjects(t *testing.T, s *Store, root string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range []string{"audit/outbox/b.json", "audit/outbox/a.json", "audit/sent/a", "other/x"} {
		if _, err := s.PutObject(ctx, root, k, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListObjects(ctx, root, "audit/outbox/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range got {
		keys = append(keys, o.Key)
		if o.ModTime.IsZero() {
			t.Errorf("%s: no modification time", o.Key)
		}
	}
	if want := []string{"audit/outbox/a.json", "audit/outbox/b.json"}; !slices.Equal(keys, want) {
		t.Errorf("ListObjects(audit/outbox/) = %v, want %v", keys, want)
	}
	if got, err := s.ListObjects(ctx, root, "nothing/"); err != nil || len(got) != 0 {
		t.Errorf("ListObjects of an empty prefix = %v, %v; want nothing", got, err)
	}
}

func TestListObjectsLocal(t *testing.T) {
	testListObjects(t, New(config.Storage{}), "file://"+t.TempDir())
}
