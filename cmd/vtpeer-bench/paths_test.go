package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestBenchPaths runs "vtpeer-bench paths" with tiny sizes through the root
// command: every path connects over what it asked for and gets a row and a
// summary line.
func TestBenchPaths(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	g := &globals{stderr: io.Discard}
	root := newRootCmd(g, &out)
	root.SetArgs([]string{"paths", "--rounds", "1", "--bytes", "256KiB", "--capped-bytes", "64KiB", "--log-level", "error"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench paths: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"1      direct ", "1      turn ", "1      server ", // one row per path and round
		"\ndirect  ", "\nturn    ", "\nserver  ", // the summary
		"local relay", // TURN connected over a relay candidate
		"capped server",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestBenchPathsByteSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want byteSize
		ok   bool
	}{
		{"262144", 256 << 10, true},
		{"256KiB", 256 << 10, true},
		{"16MiB", 16 << 20, true},
		{"1GiB", 1 << 30, true},
		{"12B", 12, true},
		{"-1", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
	} {
		var b byteSize
		err := b.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && b != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tt.in, b, err, tt.want, tt.ok)
		}
	}
}
