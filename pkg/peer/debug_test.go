package peer

import (
	"log/slog"
	"os"
	"testing"
	"time"
)

func TestDebugTimeline(t *testing.T) {
	if os.Getenv("PEER_DEBUG") == "" {
		t.Skip()
	}
	ctx := ctxT(t, 10*time.Second)
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i := 0; i < 3; i++ {
		start := time.Now()
		r := newRelay(t)
		a := newNode(t, r, "a", func(o *Options) { o.Logger = lg.With("node", "a") })
		b := newNode(t, r, "b", func(o *Options) { o.Logger = lg.With("node", "b") })
		t.Logf("new: %v", time.Since(start))
		r.join("a", a.n)
		r.join("b", b.n)
		waitConnected(t, ctx, a)
		waitConnected(t, ctx, b)
		t.Logf("connected: %v", time.Since(start))
	}
}

// debugLogger logs to stderr when PEER_DEBUG is set, else nil (discard).
func debugLogger(node string) *slog.Logger {
	if os.Getenv("PEER_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
}
