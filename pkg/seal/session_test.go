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

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	flip := func(i int) func(f [][]byte) []byte {
		return func(f [][]byte) []byte {
			b := bytes.Clone(f[0])
			if i < 0 {
				i += len(b)
			}
			b[i] ^= 0x01
			return b
		}
	}
	cases := []struct {
		name  string
		first int // frames opened successfully before the bad one
		bad   func(f [][]byte) []byte
	}{
		{"replay", 1, func(f [][]byte) []byte { return f[0] }},
		{"drop (skip one)", 0, func(f [][]byte) []byte { return f[1] }},
		{"reorder", 1, func(f [][]byte) []byte { return f[2] }},
		{"flip version", 0, flip(0)},
		{"flip seq", 0, flip(8)},
		{"flip ciphertext", 0, flip(HeaderSize)},
		{"flip tag", 0, flip(-1)},
		{"wrong version, same seq", 0, func(f [][]byte) []byte { b := bytes.Clone(f[0]); b[0] = 2; return b }},
		{"truncated tag", 0, func(f [][]byte) []byte { return f[0][:len(f[0])-1] }},
		{"header only", 0, func(f [][]byte) []byte { return f[0][:HeaderSize] }},
		{"empty", 0, func(f [][]byte) []byte { return nil }},
		{"extended", 0, func(f [][]byte) []byte { return append(bytes.Clone(f[0]), 0) }},
		{"own frame back", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			so, sa := mustPair(t)
			var frames [][]byte
			for i := range 3 {
				f, err := so.Seal([]byte{'m', byte('0' + i), 'x', 'y'})
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, f)
			}
			for i := range tc.first {
				if _, err := sa.Open(frames[i]); err != nil {
					t.Fatal(err)
				}
			}
			var bad []byte
			if tc.bad == nil { // the answerer's own first frame, fed back to it
				bad, _ = sa.Seal([]byte("m0xy"))
			} else {
				bad = tc.bad(frames)
			}
			pt, err := sa.Open(bad)
			if !errors.Is(err, ErrAuth) || pt != nil {
				t.Fatalf("got %q, %v", pt, err)
			}
			if err.Error() != "seal: message authentication failed" {
				t.Fatalf("error not opaque: %v", err)
			}
			// The direction is now dead: even the genuine next frame fails.
			if pt, err := sa.Open(frames[tc.first]); !errors.Is(err, ErrAuth) || pt != nil {
				t.Fatalf("session still open after failure: %v", err)
			}
		})
	}
}

func TestExhaustedAndClose(t *testing.T) {
	t.Parallel()
	so, sa := mustPair(t)
	so.send.seq = MaxFrames - 1
	sa.recv.seq = MaxFrames - 1
	f, err := so.Seal([]byte("last"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Open(f); err != nil {
		t.Fatal(err)
	}
	if _, err := so.Seal([]byte("one too many")); !errors.Is(err, ErrExhausted) {
		t.Fatalf("got %v", err)
	}
	so2, _ := mustPair(t)
	so2.send.bytes = MaxBytes - 3
	if _, err := so2.Seal([]byte("four")); !errors.Is(err, ErrExhausted) {
		t.Fatalf("byte limit: %v", err)
	}
	if _, err := so2.Seal([]byte("thr")); err != nil {
		t.Fatalf("within byte limit: %v", err)
	}
	so.Close()
	if _, err := so.Seal(nil); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if _, err := so.Open(f); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// One sender and one receiver goroutine per side, both directions at once.
func TestConcurrentDirections(t *testing.T) {
	t.Parallel()
	so, sa := mustPair(t)
	const n = 2000
	oa, ao := make(chan []byte, 64), make(chan []byte, 64)
	errs := make(chan error, 4)
	send := func(s *Session, out chan<- []byte) {
		defer close(out)
		for i := range n {
			f, err := s.Seal([]byte{byte(i), byte(i >> 8)})
			if err != nil {
				errs <- err
				return
			}
			out <- f
		}
		errs <- nil
	}
	recv := func(s *Session, in <-chan []byte) {
		i := 0
		for f := range in {
			pt, err := s.Open(f)
			if err != nil || pt[0] != byte(i) || pt[1] != byte(i>>8) {
				errs <- errors.Join(err, errors.New("bad frame"))
				for range in { // let the sender finish
				}
				return
			}
			i++
		}
		if i != n {
			errs <- errors.New("short")
			return
		}
		errs <- nil
	}
	go send(so, oa)
	go send(sa, ao)
	go recv(sa, oa)
	go recv(so, ao)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
