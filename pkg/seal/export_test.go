package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestExportKey(t *testing.T) {
	t.Parallel()
	o, a := mustPair(t)
	o2, _ := mustPair(t)
	ko, err := o.ExportKey("vtpeer-file", []byte("id-1"), 32)
	if err != nil {
		t.Fatal(err)
	}
	ka, err := a.ExportKey("vtpeer-file", []byte("id-1"), 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ko, ka) || len(ko) != 32 {
		t.Fatalf("the two ends export different keys: %x %x", ko, ka)
	}
	for _, tc := range []struct {
		name  string
		s     *Session
		label string
		ctx   string
	}{
		{"other label", o, "vtpeer-filf", "id-1"},
		{"other context", o, "vtpeer-file", "id-2"},
		{"label/context boundary", o, "vtpeer-fil", "eid-1"},
		{"other session", o2, "vtpeer-file", "id-1"},
	} {
		k, err := tc.s.ExportKey(tc.label, []byte(tc.ctx), 32)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(k, ko) {
			t.Errorf("%s: same key", tc.name)
		}
	}
	for _, n := range []int{0, -1, MaxExportSize + 1} {
		if _, err := o.ExportKey("x", nil, n); !errors.Is(err, ErrConfig) {
			t.Errorf("size %d: err %v, want ErrConfig", n, err)
		}
	}
	_ = o.Close()
	if _, err := o.ExportKey("vtpeer-file", nil, 32); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err %v, want ErrClosed", err)
	}
}
