package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units parseSize takes (case-insensitive); a bare number
// is bytes.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// parseSize reads a byte count such as 512MiB, 1.5GB, 4g or 1048576: a
// decimal number and an optional unit (B; KiB, MiB, GiB, TiB and K, M, G, T
// are powers of 1024; KB, MB, GB, TB powers of 1000). The result is a
// whole, positive number of bytes no larger than max.
func parseSize(s string, max int64) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-eExXpP_") || strings.EqualFold(t, "inf") || strings.EqualFold(t, "nan") {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit, such as 512MiB, 4GiB or 1048576", s)
	}
	var n int64
	if i, err := strconv.ParseInt(t, 10, 64); err == nil {
		if i > max/mult {
			return 0, fmt.Errorf("size %q: at most %s", s, formatBytes(max))
		}
		n = i * mult
	} else {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit, such as 512MiB, 4GiB or 1048576", s)
		}
		v := f * float64(mult)
		if v > float64(max) {
			return 0, fmt.Errorf("size %q: at most %s", s, formatBytes(max))
		}
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
		}
		n = int64(v)
	}
	if n <= 0 {
		return 0, fmt.Errorf("size %q must be positive", s)
	}
	return n, nil
}

// formatBytes writes n in binary units: 512 B, 20.0 MiB, 4.00 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	prec := 1
	if v < 10 {
		prec = 2
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + [...]string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}
