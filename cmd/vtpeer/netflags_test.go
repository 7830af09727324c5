package main

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckServers: --server takes one ws(s):// URL or a comma-separated
// list of them; anything else is a usage error naming the bad entry.
func TestCheckServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, bad string // bad: the entry the error names, "" when valid
	}{
		{"ws://localhost:8080", ""},
		{"wss://a.example:443/ws", ""},
		{"ws://a:1,ws://b:2, wss://c:3", ""},
		{"ws://a:1,,ws://b:2,", ""},
		{"", `""`},
		{" , ", `" , "`},
		{"http://a:1", "http://a:1"},
		{"ws://a:1,ftp://b", "ftp://b"},
		{"ws://a:1,localhost:8080", "localhost:8080"},
		{"ws://", "ws://"},
	} {
		err := checkServers(tc.in)
		var ee *exitError
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("checkServers(%q) = %v, want ok", tc.in, err)
		case tc.bad != "" && (err == nil || !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("checkServers(%q) = %v, want a usage error naming %s", tc.in, err, tc.bad)
		}
	}
}
