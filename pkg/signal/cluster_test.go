package signal_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/verytippers/vtpeer/pkg/signal"
	"github.com/verytippers/vtpeer/pkg/signal/signaltest"
)

// TestProtocolAcrossNodes runs the protocol suite with the members of each
// room on different Servers sharing rooms through the in-process cluster,
// and on one Server alone (every "node" the same), which must pass it too.
func TestProtocolAcrossNodes(t *testing.T) {
	t.Parallel()
	t.Run("MemCluster", func(t *testing.T) {
		t.Parallel()
		signaltest.Run(t, memNodes)
	})
	t.Run("OneServer", func(t *testing.T) {
		t.Parallel()
		signaltest.Run(t, func(t *testing.T, n int, opts *signal.ServerOptions) []string {
			url := startServer(t, opts)
			urls := make([]string, n)
			for i := range urls {
				urls[i] = url
			}
			return urls
		})
	})
}

// memNodes starts n Servers sharing one MemCluster.
func memNodes(t *testing.T, n int, opts *signal.ServerOptions) []string {
	h := signal.NewMemCluster()
	urls := make([]string, n)
	for i := range urls {
		var o signal.ServerOptions
		if opts != nil {
			o = *opts
		}
		o.Cluster = h.NewNode(fmt.Sprintf("node-%d", i))
		urls[i] = startServer(t, &o)
	}
	return urls
}

func startServer(t *testing.T, opts *signal.ServerOptions) string {
	t.Helper()
	s, err := signal.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}
