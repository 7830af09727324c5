package logflag

import (
	"bytes"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, level, want, err string
	}{
		{"text", "info", "level=INFO msg=hi", ""},
		{"JSON", "debug", `"msg":"hi"`, ""},
		{"text", "loud", "", "--log-level"},
		{"xml", "info", "", "--log-format"},
	} {
		var b bytes.Buffer
		log, err := New(tc.format, tc.level, &b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s/%s: err %v, want one naming %s", tc.format, tc.level, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		log.Info("hi")
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s/%s: wrote %q, want %q", tc.format, tc.level, b.String(), tc.want)
		}
	}
}
