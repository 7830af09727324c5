package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/verytippers/vtpeer/internal/browsertest"
)

// Throughput of the page → a Go peer, sealed against raw (docs/BENCHMARKS.md): the same chat
// bodies go through the page's sealed session to a `vtpeer join`, and over a second, unsealed
// DataChannel that this test opens from the same tab to an in-test pion peer with the same SCTP
// receive buffer as pkg/peer. The raw channel is test-only JavaScript evaluated in the tab: the
// page itself never opens an unsealed channel.
const (
	tputChunk = 32 << 10 // chat text bytes per message (a frame stays under the relay's 40 KiB)
	tputCount = 512      // messages per run: 16 MiB of text
)

// rawPeer is the in-test pion end of the unsealed channel: it counts the bytes of every message
// and answers "done" once want bytes arrived.
func rawPeer(t *testing.T, want int64) (*webrtc.PeerConnection, *atomic.Int64) {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetSCTPMaxReceiveBufferSize(4 << 20) // as pkg/peer
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	var got atomic.Int64
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			if got.Add(int64(len(m.Data))) == want {
				_ = dc.SendText("done")
			}
		})
	})
	return pc, &got
}

// rawAnswer answers the tab's offer (ICE gathered: no trickling) with the pion peer.
func rawAnswer(ctx context.Context, t *testing.T, pc *webrtc.PeerConnection, offer string) string {
	t.Helper()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	a, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(a); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		t.Fatal("pion never gathered its candidates")
	}
	return pc.LocalDescription().SDP
}

// tputSetupJS opens the test-only raw channel in the tab and returns its offer.
const tputSetupJS = `(async () => {
	const pc = new RTCPeerConnection();
	const dc = pc.createDataChannel('bench-raw', { ordered: true });
	dc.binaryType = 'arraybuffer';
	window.benchRaw = { pc, dc };
	await pc.setLocalDescription(await pc.createOffer());
	await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
	return pc.localDescription.sdp;
})()`

// tputBody builds the chat body both runs send: {"text":"xxx…"} of tputChunk letters.
const tputBody = `new TextEncoder().encode(JSON.stringify({ text: 'x'.repeat(%d) }))`

// tputRawJS sends count bodies over the raw channel with the sealed link's flow control (1 MiB
// high water, resume at 512 KiB) and resolves with the ms until the pion peer said "done".
const tputRawJS = `(async () => {
	const { pc, dc } = window.benchRaw;
	await pc.setRemoteDescription({ type: 'answer', sdp: %q });
	if (dc.readyState !== 'open') await new Promise((r) => (dc.onopen = r));
	const body = ` + tputBody + `;
	dc.bufferedAmountLowThreshold = 512 << 10;
	const done = new Promise((r) => (dc.onmessage = (e) => e.data === 'done' && r()));
	const t0 = performance.now();
	for (let i = 0; i < %d; i++) {
		if (dc.bufferedAmount > 1 << 20) await new Promise((r) => (dc.onbufferedamountlow = r));
		dc.send(body);
	}
	await done;
	return performance.now() - t0;
})()`

// tputSealedJS sends count chat bodies through the page's sealed session (Node.send: seal, the
// outbox, acknowledgements) and resolves with the ms until the Go peer acknowledged all of them.
const tputSealedJS = `(async () => {
	const node = vtpeerRoom.node;
	const [id, p] = [...node.peers].find(([, p]) => p.connected);
	const body = ` + tputBody + `;
	const t0 = performance.now();
	const sent = [];
	for (let i = 0; i < %d; i++) sent.push(node.send(id, 'chat', body));
	await Promise.all(sent);
	while (p.outbox.length) await new Promise((r) => setTimeout(r, 1));
	return performance.now() - t0;
})()`

// TestBrowserBenchThroughput measures, with VTPEER_BENCH=1, sealed chat throughput page → Go
// against a raw DataChannel between the same tab and a Go (pion) peer, three runs each,
// alternating, and reports the ratio of the medians (docs/BENCHMARKS.md; target ≥ 0.8).
func TestBrowserBenchThroughput(t *testing.T) {
	if os.Getenv("VTPEER_BENCH") != "1" {
		t.Skip("set VTPEER_BENCH=1 to measure the page's throughput")
	}
	b := browsertest.Start(t)
	vtpeerBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	g := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "tput", "--json", "--server", url, "--ice-loopback", "--timeout", "60s")
	g.waitEvent(ctx, "joined")
	tab := openPage(ctx, t, b, "page", pageURL(url, "tput", ""))
	g.waitEvent(ctx, "peer-connected")
	waitPagePeers(ctx, t, tab, 1)

	bodyLen := int64(len(fmt.Sprintf(`{"text":"%s"}`, strings.Repeat("x", tputChunk))))
	mib := float64(bodyLen*tputCount) / (1 << 20)
	const runs = 5
	var sealed, raw []float64
	for i := 0; i < runs; i++ {
		ms, err := browsertest.Eval[float64](ctx, tab, fmt.Sprintf(tputSealedJS, tputChunk, tputCount))
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < tputCount; j++ { // the Go peer delivered every message (and its stdout keeps flowing)
			if m := g.waitEvent(ctx, "message"); len(fmt.Sprint(m["text"])) != tputChunk {
				t.Fatalf("go got a %d-byte message", len(fmt.Sprint(m["text"])))
			}
		}
		sealed = append(sealed, mib/(ms/1000))

		pc, got := rawPeer(t, bodyLen*tputCount)
		offer, err := browsertest.Eval[string](ctx, tab, tputSetupJS)
		if err != nil {
			t.Fatal(err)
		}
		ms, err = browsertest.Eval[float64](ctx, tab, fmt.Sprintf(tputRawJS, rawAnswer(ctx, t, pc, offer), tputChunk, tputCount))
		if err != nil {
			t.Fatal(err)
		}
		if got.Load() != bodyLen*tputCount {
			t.Fatalf("pion got %d bytes, want %d", got.Load(), bodyLen*tputCount)
		}
		if _, err := browsertest.Eval[bool](ctx, tab, `(window.benchRaw.pc.close(), true)`); err != nil {
			t.Fatal(err)
		}
		_ = pc.Close()
		raw = append(raw, mib/(ms/1000))
		t.Logf("run %d: sealed %.1f MiB/s, raw %.1f MiB/s", i+1, sealed[i], raw[i])
	}
	med := func(v []float64) float64 { return pctl(v, .5) }
	t.Logf("page → go, %d × %d-byte chat bodies (%.1f MiB) per run, %d runs: sealed %.1f MiB/s, raw DataChannel %.1f MiB/s (medians), ratio %.2f",
		tputCount, bodyLen, mib, runs, med(sealed), med(raw), med(sealed)/med(raw))
	if r := med(sealed) / med(raw); r < 0.8 {
		t.Errorf("sealed/raw ratio %.2f, the target is ≥ 0.8", r)
	}
}
