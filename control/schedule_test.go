package control

import (
	"bytes"
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/workflows"
)

// ApplySchedules reads a schedule's recorded argument back with the client's
// data converter, and rewrites it when the client would now encode it
// differently: encryption turned on or off, or its key rotated.
func TestScheduleArgumentFollowsTheDataConverter(t *testing.T) {
	newDC := func(current []byte, previous ...[]byte) converter.DataConverter {
		c, err := codec.New(current, previous...)
		if err != nil {
			t.Fatal(err)
		}
		return codec.NewDataConverter(c)
	}
	keyA, keyB := bytes.Repeat([]byte{1}, codec.KeySize), bytes.Repeat([]byte{2}, codec.KeySize)
	plain := converter.GetDefaultDataConverter()
	encA := newDC(keyA)
	rotated := newDC(keyB, keyA)
	churn := workflows.MonitorInput{Model: "churn"}

	recorded := func(dc converter.DataConverter, in workflows.MonitorInput) any {
		p, err := dc.ToPayload(in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		arg  any
		dc   converter.DataConverter
		same bool
	}{
		{"plain, no encryption", recorded(plain, churn), plain, true},
		{"encrypted with the current key", recorded(encA, churn), encA, true},
		{"another model", recorded(encA, workflows.MonitorInput{Model: "fraud"}), encA, false},
		{"plain, encryption turned on", recorded(plain, churn), encA, false},
		{"encrypted, encryption turned off", recorded(encA, churn), plain, false},
		{"encrypted with the previous key", recorded(encA, churn), rotated, false},
		{"a Go value (before create)", churn, plain, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameArg(tc.arg, churn, tc.dc); got != tc.same {
				t.Errorf("sameArg = %v, want %v", got, tc.same)
			}
		})
	}
}
