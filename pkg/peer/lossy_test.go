package peer

import (
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
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: delay, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2)) // deterministic loss pattern
	router.AddChunkFilter(func(vnet.Chunk) bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() >= loss
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
	return na, nb
}

func TestLossySlowLink(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	ctx := ctxT(t, 60*time.Second)
	na, nb := lossyNet(t, 0.20, 50*time.Millisecond)
	start := time.Now()
	_, a, b := pair(t, ctx,
		func(o *Options) { o.knobs.loopbackOnly = false; withVNet(o, na) },
		func(o *Options) { o.knobs.loopbackOnly = false; withVNet(o, nb) })
	t.Logf("connected after %v", time.Since(start))
	start = time.Now()
	exchange(t, ctx, b, a, 300, 200, nil)
	exchange(t, ctx, a, b, 300, 200, nil)
	t.Logf("2x300 messages after %v", time.Since(start))
}
