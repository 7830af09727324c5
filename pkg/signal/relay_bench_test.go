package signal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/verytippers/vtpeer/pkg/signal/sigbench"
)

// BenchmarkRelay measures one frame A → server → B in a closed loop over
// loopback, the path "vtpeer bench signal" measures with one pair, for the
// Server and for the bare coder/websocket hub it is compared with.
func BenchmarkRelay(b *testing.B) {
	b.Run("vtpeer", func(b *testing.B) {
		s, err := NewServer(&ServerOptions{Rate: rate.Inf, Burst: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchRelay(b, s, true)
	})
	b.Run("bare", func(b *testing.B) { benchRelay(b, sigbench.NewBareHub(), false) })
}

func benchRelay(b *testing.B, h http.Handler, vtpeer bool) {
	hs := httptest.NewServer(h)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	ctx := context.Background()
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ws.CloseNow() })
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r"}`)); err != nil {
			b.Fatal(err)
		}
		if vtpeer {
			if _, _, err := ws.Read(ctx); err != nil { // joined
				b.Fatal(err)
			}
		}
		return ws
	}
	a, c := dial(), dial()
	if vtpeer {
		if _, _, err := a.Read(ctx); err != nil { // peer-joined
			b.Fatal(err)
		}
	} else { // the bare hub answers nothing: a probe that gets through proves both joined
		got := make(chan error, 1)
		go func() { _, _, err := c.Read(ctx); got <- err }()
		for probing := true; probing; {
			if err := a.Write(ctx, websocket.MessageText, []byte(`{"type":"ice","room":"r"}`)); err != nil {
				b.Fatal(err)
			}
			select {
			case err := <-got:
				if err != nil {
					b.Fatal(err)
				}
				probing = false
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	msg := []byte(`{"type":"ice","room":"r","data":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","n":0}}`)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		if err := a.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time of the whole process (server and clients) per frame: on a
	// loaded machine a steadier comparison than wall time.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
