package doctor

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCheckUDPBuffers(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	tests := []struct {
		rmem, wmem string
		want       Status
		fix        string
	}{
		{"4194304\n", "4194304\n", StatusOK, ""},
		{"212992\n", "4194304\n", StatusWarn, "sysctl -w net.core.rmem_max=4194304 net.core.wmem_max=4194304"},
		{"8388608", "212992", StatusWarn, "sysctl -w"},
		{"x", "1", StatusSkip, ""},
	}
	for _, tt := range tests {
		r := &Report{}
		checkUDPBuffers(r, func(p string) ([]byte, error) {
			switch {
			case strings.HasSuffix(p, "rmem_max"):
				return []byte(tt.rmem), nil
			case strings.HasSuffix(p, "wmem_max"):
				return []byte(tt.wmem), nil
			}
			return nil, errors.New("unexpected path " + p)
		})
		got := r.Results[0]
		if got.Status != tt.want || !strings.Contains(got.Fix, tt.fix) {
			t.Errorf("rmem %q wmem %q: %+v, want %s with fix containing %q", tt.rmem, tt.wmem, got, tt.want, tt.fix)
		}
	}
}

func TestCheckClock(t *testing.T) {
	t.Parallel()
	server := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		offset time.Duration
		want   Status
	}{
		{0, StatusOK},
		{1500 * time.Millisecond, StatusOK},
		{-20 * time.Second, StatusOK},
		{45 * time.Second, StatusWarn},
		{-3 * time.Minute, StatusWarn},
		{6 * time.Minute, StatusFail},
		{-time.Hour, StatusFail},
	}
	for _, tt := range tests {
		r := &Report{}
		facts := &serverFacts{date: server, localAt: server.Add(500 * time.Millisecond).Add(tt.offset), rtt: time.Millisecond}
		checkClock(r, facts, time.Now)
		if got := r.Results[0]; got.Status != tt.want {
			t.Errorf("offset %s: %+v, want %s", tt.offset, got, tt.want)
		}
	}
}
