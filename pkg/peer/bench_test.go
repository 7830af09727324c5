package peer

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// Benchmarks compare vtpeer with a bare pion pair built from the same SettingEngine (same UDP
// socket buffers) and signalled asynchronously in memory. Each reports both figures and their ratio
// from the same run. See docs/BENCHMARKS.md.

// rawPair is a bare pion DataChannel pair: no seal, no acks.
type rawPair struct {
	stacks   [2]*pionStack
	pcs      [2]*webrtc.PeerConnection
	dcs      [2]*webrtc.DataChannel
	recv     [2]chan []byte
	low      [2]chan struct{}
	open     chan struct{}
	wg       sync.WaitGroup
	openOnce sync.Once
}

func newRawPair(tb testing.TB, bufSize int) *rawPair {
	tb.Helper()
	rp := &rawPair{open: make(chan struct{})}
	o := (&Options{Room: "raw", Signaler: relaySignaler{}, UDPBufferSize: bufSize}).withDefaults()
	o.knobs.loopbackOnly = true
	for i := range 2 {
		s, err := newPionStack(&o)
		if err != nil {
			tb.Fatal(err)
		}
		rp.stacks[i] = s
		pc, err := s.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{s.cert}})
		if err != nil {
			tb.Fatal(err)
		}
		rp.pcs[i] = pc
		rp.recv[i] = make(chan []byte, 1<<14)
		rp.low[i] = make(chan struct{}, 1)
	}
	// Trickle asynchronously, remote candidates buffered until the remote description is set.
	var mu sync.Mutex
	remoteSet := [2]bool{}
	pend := [2][]webrtc.ICECandidateInit{}
	addCand := func(i int, c webrtc.ICECandidateInit) {
		mu.Lock()
		if !remoteSet[i] {
			pend[i] = append(pend[i], c)
			mu.Unlock()
			return
		}
		mu.Unlock()
		_ = rp.pcs[i].AddICECandidate(c)
	}
	setRemote := func(i int, d webrtc.SessionDescription) {
		if err := rp.pcs[i].SetRemoteDescription(d); err != nil {
			tb.Error(err)
		}
		mu.Lock()
		remoteSet[i] = true
		p := pend[i]
		pend[i] = nil
		mu.Unlock()
		for _, c := range p {
			_ = rp.pcs[i].AddICECandidate(c)
		}
	}
	for i := range 2 {
		pc, other := rp.pcs[i], 1-i
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				init := c.ToJSON()
				rp.async(func() { addCand(other, init) })
			}
		})
	}
	setup := func(i int, dc *webrtc.DataChannel) {
		rp.dcs[i] = dc
		dc.SetBufferedAmountLowThreshold(lowWater)
		dc.OnBufferedAmountLow(func() {
			select {
			case rp.low[i] <- struct{}{}:
			default:
			}
		})
		dc.OnMessage(func(m webrtc.DataChannelMessage) { rp.recv[i] <- m.Data })
	}
	ordered := true
	dc, err := rp.pcs[0].CreateDataChannel(DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		tb.Fatal(err)
	}
	setup(0, dc)
	dc.OnOpen(func() { rp.openOnce.Do(func() { close(rp.open) }) })
	rp.pcs[1].OnDataChannel(func(dc *webrtc.DataChannel) { setup(1, dc) })
	offer, err := rp.pcs[0].CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := rp.pcs[0].SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	rp.async(func() {
		setRemote(1, offer)
		ans, err := rp.pcs[1].CreateAnswer(nil)
		if err != nil {
			tb.Error(err)
			return
		}
		if err := rp.pcs[1].SetLocalDescription(ans); err != nil {
			tb.Error(err)
			return
		}
		rp.async(func() { setRemote(0, ans) })
	})
	return rp
}

func (rp *rawPair) async(f func()) {
	rp.wg.Add(1)
	go func() { defer rp.wg.Done(); f() }()
}

func (rp *rawPair) send(ctx context.Context, i int, b []byte) error {
	dc := rp.dcs[i]
	for dc.BufferedAmount() > highWater {
		select {
		case <-rp.low[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return dc.Send(b)
}

func (rp *rawPair) close() {
	for i := range 2 {
		_ = rp.pcs[i].Close()
	}
	rp.wg.Wait()
}

func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	b.Cleanup(cancel)
	return ctx
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkJoinToFirstMessage: from creating the peers to the first message received — sealed
// (vtpeer Nodes, handshake and start frames included) vs a bare pion pair.
func BenchmarkJoinToFirstMessage(b *testing.B) {
	ctx := benchCtx(b)
	var raw, sealed []float64
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		rp := newRawPair(b, 0)
		<-rp.open
		_ = rp.dcs[0].Send([]byte("first"))
		<-rp.recv[1]
		raw = append(raw, float64(time.Since(t0).Microseconds()))
		rp.close()

		t0 = time.Now()
		r := newRelay(b)
		x, y := newNode(b, r, "a", nil), newNode(b, r, "b", nil)
		r.join("a", x.n)
		r.join("b", y.n)
		waitConnected(b, ctx, y)
		if err := y.n.Send(ctx, "a", "chat", []byte("first")); err != nil {
			b.Fatal(err)
		}
		<-x.c.msgs
		sealed = append(sealed, float64(time.Since(t0).Microseconds()))
		_ = x.n.Close()
		_ = y.n.Close()
		r.stop()
	}
	b.ReportMetric(median(raw)/1000, "raw-ms")
	b.ReportMetric(median(sealed)/1000, "sealed-ms")
	b.ReportMetric(median(sealed)/median(raw), "ratio")
}

const bulkMsg = 64 << 10

func bulkRaw(b *testing.B, ctx context.Context, bufSize, total int) float64 {
	rp := newRawPair(b, bufSize)
	defer rp.close()
	<-rp.open
	msg := make([]byte, bulkMsg)
	t0 := time.Now()
	go func() {
		for i := 0; i < total; i++ {
			if rp.send(ctx, 0, msg) != nil {
				return
			}
		}
	}()
	for i := 0; i < total; i++ {
		select {
		case <-rp.recv[1]:
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
	}
	return float64(total*bulkMsg) / time.Since(t0).Seconds() / 1e6
}

func bulkSealed(b *testing.B, ctx context.Context, bufSize, total int) float64 {
	r := newRelay(b)
	mod := func(o *Options) { o.UDPBufferSize, o.Via = bufSize, ViaDirect } // 64 KiB > RelayMaxFrame
	x, y := newNode(b, r, "a", mod), newNode(b, r, "b", mod)
	defer func() { _ = x.n.Close(); _ = y.n.Close(); r.stop() }()
	r.join("a", x.n)
	r.join("b", y.n)
	waitConnected(b, ctx, y)
	waitConnected(b, ctx, x)
	msg := make([]byte, bulkMsg-64)
	t0 := time.Now()
	go func() {
		for i := 0; i < total; i++ {
			if y.n.Send(ctx, "a", "bulk", msg) != nil {
				return
			}
		}
	}()
	for i := 0; i < total; i++ {
		select {
		case <-x.c.msgs:
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
	}
	return float64(total*bulkMsg) / time.Since(t0).Seconds() / 1e6
}

// BenchmarkBulk64K: paired runs (raw then sealed, 32 MiB each) of 64 KiB messages; the reported
// ratio is the median of the per-pair ratios. Sub-benchmarks: 4 MiB UDP buffers (ours) and the
// kernel default.
func BenchmarkBulk64K(b *testing.B) {
	for _, bc := range []struct {
		name string
		buf  int
	}{{"udpbuf=4MiB", 0}, {"udpbuf=default", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := benchCtx(b)
			const total = 512 // 32 MiB
			var raw, sealed, ratio []float64
			for i := 0; i < b.N; i++ {
				r := bulkRaw(b, ctx, bc.buf, total)
				s := bulkSealed(b, ctx, bc.buf, total)
				raw, sealed, ratio = append(raw, r), append(sealed, s), append(ratio, s/r)
			}
			b.ReportMetric(median(raw), "raw-MB/s")
			b.ReportMetric(median(sealed), "sealed-MB/s")
			b.ReportMetric(median(ratio), "ratio")
		})
	}
}

// BenchmarkRTT200B: 2000 ping-pongs of 200 B messages, p50 and p99, sealed vs raw.
func BenchmarkRTT200B(b *testing.B) {
	ctx := benchCtx(b)
	const rounds = 2000
	var r50, r99, s50, s99 []float64
	for i := 0; i < b.N; i++ {
		rp := newRawPair(b, 0)
		<-rp.open
		msg := make([]byte, 200)
		echoDone := make(chan struct{})
		go func() { // echo
			defer close(echoDone)
			for m := range rp.recv[1] {
				if len(m) == 1 || rp.send(ctx, 1, m) != nil {
					return
				}
			}
		}()
		var ds []time.Duration
		for j := 0; j < rounds; j++ {
			binary.BigEndian.PutUint64(msg, uint64(j))
			t0 := time.Now()
			_ = rp.send(ctx, 0, msg)
			<-rp.recv[0]
			ds = append(ds, time.Since(t0))
		}
		_ = rp.send(ctx, 0, []byte{0})
		<-echoDone
		r50, r99 = append(r50, float64(percentile(ds, 0.5).Microseconds())), append(r99, float64(percentile(ds, 0.99).Microseconds()))
		rp.close()

		r := newRelay(b)
		x, y := newNode(b, r, "a", nil), newNode(b, r, "b", nil)
		r.join("a", x.n)
		r.join("b", y.n)
		waitConnected(b, ctx, y)
		waitConnected(b, ctx, x)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // echo
			defer close(done)
			for {
				select {
				case m := <-x.c.msgs:
					if x.n.Send(ctx, "b", "pong", m.Body) != nil {
						return
					}
				case <-stop:
					return
				}
			}
		}()
		ds = ds[:0]
		for j := 0; j < rounds; j++ {
			binary.BigEndian.PutUint64(msg, uint64(j))
			t0 := time.Now()
			_ = y.n.Send(ctx, "a", "ping", msg)
			<-y.c.msgs
			ds = append(ds, time.Since(t0))
		}
		close(stop)
		<-done
		s50, s99 = append(s50, float64(percentile(ds, 0.5).Microseconds())), append(s99, float64(percentile(ds, 0.99).Microseconds()))
		_ = x.n.Close()
		_ = y.n.Close()
		r.stop()
	}
	b.ReportMetric(median(r50), "raw-p50-µs")
	b.ReportMetric(median(r99), "raw-p99-µs")
	b.ReportMetric(median(s50), "sealed-p50-µs")
	b.ReportMetric(median(s99), "sealed-p99-µs")
	b.ReportMetric(median(s99)/median(r99), "p99-ratio")
}

// BenchmarkConnect: 50 connects (New both Nodes → both PeerConnected), p50 and p95.
func BenchmarkConnect(b *testing.B) {
	ctx := benchCtx(b)
	var p50, p95 []float64
	for i := 0; i < b.N; i++ {
		var ds []time.Duration
		for j := 0; j < 50; j++ {
			ds = append(ds, connectOnce(b, ctx))
		}
		p50 = append(p50, float64(percentile(ds, 0.5).Microseconds())/1000)
		p95 = append(p95, float64(percentile(ds, 0.95).Microseconds())/1000)
	}
	b.ReportMetric(median(p50), "p50-ms")
	b.ReportMetric(median(p95), "p95-ms")
}
