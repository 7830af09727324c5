package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	const max = 1 << 40
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"1048576", 1 << 20, ""},
		{"512MiB", 512 << 20, ""},
		{"512 mib", 512 << 20, ""},
		{"4GiB", 4 << 30, ""},
		{"4g", 4 << 30, ""},
		{"1.5GB", 1500000000, ""},
		{"0.5KiB", 512, ""},
		{"10kb", 10000, ""},
		{"100B", 100, ""},
		{"1TiB", 1 << 40, ""},
		{"2TiB", 0, "at most"},
		{"9223372036854775807", 0, "at most"},
		{"0", 0, "positive"},
		{"0MiB", 0, "positive"},
		{"-5MiB", 0, "want a number"},
		{"1e9", 0, "want a number"},
		{"0x10", 0, "want a number"},
		{"", 0, "want a number"},
		{"MiB", 0, "want a number"},
		{"12 parsecs", 0, "want a number"},
		{"0.3B", 0, "whole number"},
		{"NaN", 0, "want a number"},
		{"inf", 0, "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseSize(tt.in, max)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 20 << 20: "20.0 MiB", 4 << 30: "4.00 GiB", 1 << 40: "1.00 TiB"} {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseSize: any input gives a size in (0, max] or an error, never a panic.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512MiB", "4GiB", "1.5GB", "0", "-1", "1e3", "99999999999999999999TiB", " 7 k ", "0.0000001T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		const max = 1 << 40
		n, err := parseSize(s, max)
		if err == nil && (n <= 0 || n > max) {
			t.Fatalf("parseSize(%q) = %d, outside (0, %d]", s, n, int64(max))
		}
		if err != nil && n != 0 {
			t.Fatalf("parseSize(%q) = %d with error %v", s, n, err)
		}
	})
}
