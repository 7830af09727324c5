package seal

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	so, sa := mustPair(t)
	if so.SAS() != sa.SAS() || len(so.SAS()) != 6 {
		t.Fatalf("SAS %q vs %q", so.SAS(), sa.SAS())
	}
	if !bytes.Equal(so.TranscriptHash(), sa.TranscriptHash()) {
		t.Fatal("TH differs")
	}
	for _, size := range []int{0, 1, 200, 64 << 10} {
		msg := bytes.Repeat([]byte{'x'}, size)
		for _, dir := range []struct{ from, to *Session }{{so, sa}, {sa, so}} {
			f, err := dir.from.Seal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != size+dir.from.Overhead() {
				t.Fatalf("frame %d bytes for %d", len(f), size)
			}
			got, err := dir.to.Open(f)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("open: %v", err)
			}
		}
	}
	if _, err := so.Open([]byte("junk")); !errors.Is(err, ErrAuth) {
		t.Fatal(err)
	}
}
