package peer

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// lossyNet builds a virtual network with two hosts behind one router that delays every packet by
// delay and drops a fraction loss of them.
func lossyNet(t testing.TB, loss float64, delay time.Duration) (*vnet.Net, *vnet.Net) {
	na, nb, _ := switchableNet(t, loss, delay)
	return na, nb
}

// switchableNet is lossyNet plus a switch that drops every packet while it is off.
func switchableNet(t testing.TB, loss float64, delay time.Duration) (*vnet.Net, *vnet.Net, func(on bool)) {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: delay, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2)) // deterministic loss pattern
	up := true
	router.AddChunkFilter(func(vnet.Chunk) bool {
		mu.Lock()
		defer mu.Unlock()
		return up && rng.Float64() >= loss
	})
	mk := func(ip string) *vnet.Net {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := router.AddNet(n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	na, nb := mk("10.0.0.1"), mk("10.0.0.2")
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	return na, nb, func(on bool) { mu.Lock(); up = on; mu.Unlock() }
}

// The vnet tests do not call t.Parallel: pion/transport v5.1.4's vnet.newMACAddress increments a
// package-level counter without a lock, so building two virtual networks concurrently is a race.

func TestLossySlowLink(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ctx := ctxT(t, 180*time.Second)
	na, nb := lossyNet(t, 0.20, 50*time.Millisecond)
	start := time.Now()
	_, a, b := pair(t, ctx,
		func(o *Options) { o.knobs.loopbackOnly = false; o.Logger = debugLogger("a"); withVNet(o, na) },
		func(o *Options) { o.knobs.loopbackOnly = false; o.Logger = debugLogger("b"); withVNet(o, nb) })
	t.Logf("connected after %v", time.Since(start))
	start = time.Now()
	const n = 10000 // each way, 200 B each
	exchange(t, ctx, b, a, n, 200, nil)
	exchange(t, ctx, a, b, n, 200, nil)
	t.Logf("2x%d messages after %v", n, time.Since(start))
}

// TestICERestartAfterBlackout cuts the network long enough for ICE to report disconnected: the
// offerer restarts ICE and the stream goes on, exactly once and in order.
func TestICERestartAfterBlackout(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	na, nb, link := switchableNet(t, 0, time.Millisecond)
	reoffer := &offerWatch{ch: make(chan struct{})}
	mod := func(n *vnet.Net) func(*Options) {
		return func(o *Options) {
			o.knobs.loopbackOnly = false
			withVNet(o, n)
			withRestartWait(o, 5*time.Second, [3]time.Duration{300 * time.Millisecond, 10 * time.Second, 100 * time.Millisecond})
			o.Signaler = offerCounter{o.Signaler, reoffer}
		}
	}
	_, a, b := pair(t, ctx, mod(na), mod(nb))
	exchange(t, ctx, b, a, 300, 100, func(i int) {
		if i == 100 {
			link(false)
			select { // heal once the offerer has sent its ICE-restart offer
			case <-reoffer.ch:
			case <-ctx.Done():
			}
			link(true)
		}
	})
	select {
	case c := <-a.c.connected:
		t.Fatalf("renegotiated instead of ICE restart: %+v", c)
	default:
	}
}

// offerWatch closes ch when a second offer is signalled (an ICE restart or a renegotiation).
type offerWatch struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

type offerCounter struct {
	Signaler
	w *offerWatch
}

func (c offerCounter) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	if typ == SignalOffer {
		c.w.mu.Lock()
		c.w.n++
		if c.w.n == 2 {
			close(c.w.ch)
		}
		c.w.mu.Unlock()
	}
	return c.Signaler.Signal(ctx, to, typ, data)
}
