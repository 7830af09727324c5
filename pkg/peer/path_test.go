package peer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/verytippers/vtpeer/pkg/seal"
)

func viaServer(o *Options) { o.Via = ViaServer }

// TestServerRelay: two Nodes with Via server exchange 1,000 messages each way over the signaling
// relay, exactly once and in order; SAS equal, identities proven; no WebRTC frame is signalled.
func TestServerRelay(t *testing.T) {
	t.Parallel()
	const addrA, addrB = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"
	ctx := ctxT(t, 60*time.Second)
	r := newRelay(t)
	var webrtcFrames sync.Map
	r.setFilter(func(from, to, typ string, _ json.RawMessage) (bool, bool) {
		if typ != SignalRelay {
			webrtcFrames.Store(typ, true)
		}
		return false, false
	})
	a := newNode(t, r, "a", func(o *Options) {
		viaServer(o)
		o.Identity, o.VerifyIdentity = fakeIdentity{addrA}, fakeVerify
	})
	b := newNode(t, r, "b", func(o *Options) {
		viaServer(o)
		o.Identity, o.VerifyIdentity, o.ExpectAddress = fakeIdentity{addrB}, fakeVerify, addrA
	})
	r.join("a", a.n)
	r.join("b", b.n)
	ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
	if ea.SAS == "" || ea.SAS != eb.SAS {
		t.Fatalf("SAS differ: %q vs %q", ea.SAS, eb.SAS)
	}
	if ea.Address != addrB || eb.Address != addrA {
		t.Fatalf("addresses: a sees %q, b sees %q", ea.Address, eb.Address)
	}
	if ea.Path != PathServer || eb.Path != PathServer || ea.CandidateType != "" {
		t.Fatalf("paths %q %q candidate %q", ea.Path, eb.Path, ea.CandidateType)
	}
	exchange(t, ctx, b, a, 1000, 200, nil)
	exchange(t, ctx, a, b, 1000, 200, nil)
	webrtcFrames.Range(func(k, _ any) bool { t.Errorf("signalled %v on the server path", k); return true })
	if ps := a.n.Peers(); len(ps) != 1 || ps[0].Path != PathServer || !ps[0].Connected {
		t.Fatalf("peers %+v", ps)
	}
}

// TestServerRelayMessageSize: the relay carries sealed frames up to RelayMaxFrame, no more.
func TestServerRelayMessageSize(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 20*time.Second)
	_, a, b := pair(t, ctx, viaServer, viaServer)
	maxBody := RelayMaxFrame - seal.Overhead - dataHeaderLen - len("bulk")
	if err := a.n.Send(ctx, "b", "bulk", make([]byte, maxBody+1)); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("got %v", err)
	}
	body := make([]byte, maxBody)
	for i := 0; i < 20; i++ { // more than the in-flight window
		binary.BigEndian.PutUint64(body, uint64(i))
		if err := a.n.Send(ctx, "b", "bulk", body); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		m := <-b.c.msgs
		if binary.BigEndian.Uint64(m.Body) != uint64(i) || len(m.Body) != len(body) {
			t.Fatalf("message %d: got #%d, %d bytes", i, binary.BigEndian.Uint64(m.Body), len(m.Body))
		}
	}
}

// relayFrameType returns the "t" of a relay frame's data.
func relayFrameType(data json.RawMessage) string {
	var d relayData
	_ = json.Unmarshal(data, &d)
	return d.T
}

// TestServerRelayFrameLost: one sealed relay frame disappears (as in a signaling reconnect):
// the receiver's seal notices, the relay transport is replaced with a new handshake that
// continues the session (same SAS), and the stream arrives exactly once, in order.
func TestServerRelayFrameLost(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	r := newRelay(t)
	var mu sync.Mutex
	sealed := 0
	r.setFilter(func(from, to, typ string, data json.RawMessage) (bool, bool) {
		if from != "b" || typ != SignalRelay || relayFrameType(data) != relaySealed {
			return false, false
		}
		mu.Lock()
		defer mu.Unlock()
		sealed++
		return sealed == 100, false
	})
	a := newNode(t, r, "a", viaServer)
	b := newNode(t, r, "b", viaServer)
	r.join("a", a.n)
	r.join("b", b.n)
	sas := waitConnected(t, ctx, a).SAS
	waitConnected(t, ctx, b)
	exchange(t, ctx, b, a, 1000, 100, nil)
	// The new relay transport continues the session: the SAS the users compared stays.
	if e := waitConnected(t, ctx, a); e.Path != PathServer || e.SAS != sas {
		t.Fatalf("reconnected %+v (session SAS %s)", e, sas)
	}
	waitConnected(t, ctx, b)
	select {
	case e := <-a.c.errs:
		t.Fatalf("error event %s: %v", e.Code, e.Err)
	default:
	}
}

// TestDirectNeverRelay: Via direct ignores TURN servers and drops remote relay candidates, so no
// relay candidate is gathered, known or selected.
func TestDirectNeverRelay(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 20*time.Second)
	r := newRelay(t)
	fake := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 16777215 127.0.0.1 9 typ relay raddr 0.0.0.0 rport 0"}
	injected := false
	var mu sync.Mutex
	r.setFilter(func(from, to, typ string, data json.RawMessage) (bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		if typ == SignalICE && strings.Contains(string(data), "typ relay") && !strings.Contains(string(data), fake.Candidate) {
			t.Errorf("%s signalled a relay candidate", from)
		}
		if typ == SignalICE && to == "a" && !injected {
			injected = true
			var sp sigPayload
			_ = json.Unmarshal(data, &sp)
			go func() { // a TURN candidate of b's, as if b had one
				_ = r.send("b", "a", SignalICE, mustJSON(t, sigPayload{Gen: sp.Gen, Candidate: &fake}))
			}()
		}
		return false, false
	})
	direct := func(o *Options) {
		o.Via = ViaDirect
		o.ICEServers = []ICEServer{{URLs: []string{"turn:127.0.0.1:9?transport=udp"}, Username: "u", Credential: "p"}}
	}
	a := newNode(t, r, "a", direct)
	b := newNode(t, r, "b", direct)
	r.join("a", a.n)
	r.join("b", b.n)
	ea := waitConnected(t, ctx, a)
	waitConnected(t, ctx, b)
	exchange(t, ctx, b, a, 10, 10, nil) // the injected candidate went through by now
	if ea.Path != PathDirect || ea.CandidateType == "relay" {
		t.Fatalf("path %q candidate %q", ea.Path, ea.CandidateType)
	}
	for _, tn := range []*testNode{a, b} {
		local, remote, pl, pr := tn.n.candidateStats(map[*testNode]string{a: "b", b: "a"}[tn])
		for _, c := range append(local, remote...) {
			if c == "relay" {
				t.Errorf("%s: relay candidate known (local %v remote %v)", tn.id, local, remote)
			}
		}
		if pl == "" || pl == "relay" || pr == "relay" {
			t.Errorf("%s: selected pair %s/%s", tn.id, pl, pr)
		}
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Error(err)
	}
	return b
}

// TestTURNPolicy: Via turn asks pion for relay candidates only, and keeps the TURN servers.
func TestTURNPolicy(t *testing.T) {
	t.Parallel()
	servers := []ICEServer{{URLs: []string{"stun:127.0.0.1:9", "turn:127.0.0.1:9"}, Username: "u", Credential: "p"}}
	r := newRelay(t)
	tn := newNode(t, r, "a", func(o *Options) { o.Via, o.ICEServers = ViaTURN, servers })
	p := newPeerState(tn.n, "b")
	l, err := newLink(p, 1, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.pc.Close() }()
	cfg := l.pc.GetConfiguration()
	if cfg.ICETransportPolicy != webrtc.ICETransportPolicyRelay || len(cfg.ICEServers) != 1 || len(cfg.ICEServers[0].URLs) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	if got := iceServersFor(ViaDirect, servers); len(got) != 1 || len(got[0].URLs) != 1 || got[0].URLs[0] != "stun:127.0.0.1:9" {
		t.Fatalf("direct servers %+v", got)
	}
}

// streamDuring sends count numbered messages from `from` (queued if no transport is up yet) and
// returns a function that checks the receiver got each exactly once, in order.
func streamDuring(t *testing.T, ctx context.Context, from, to *testNode, count int) func() {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		body := make([]byte, 64)
		for i := 0; i < count; i++ {
			binary.BigEndian.PutUint64(body, uint64(i))
			if err := from.n.Send(ctx, to.id, "chat", body); err != nil {
				errc <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		errc <- from.n.WaitAcked(ctx, to.id)
	}()
	return func() {
		t.Helper()
		for i := 0; i < count; i++ {
			select {
			case m := <-to.c.msgs:
				if got := binary.BigEndian.Uint64(m.Body); got != uint64(i) {
					t.Fatalf("message %d: got #%d", i, got)
				}
			case <-ctx.Done():
				t.Fatalf("received %d of %d: %v", i, count, ctx.Err())
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-to.c.msgs:
			t.Fatalf("extra message %x", m.Body[:8])
		default:
		}
	}
}

// TestAutoFallsBackToServer: ICE cannot succeed (every candidate is dropped by the signaling
// relay), so after P2PTimeout the peers fall back to the server relay; messages sent before and
// during the fallback arrive exactly once, in order.
func TestAutoFallsBackToServer(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	const timeout = time.Second
	r := newRelay(t)
	r.setFilter(func(_, _, typ string, _ json.RawMessage) (bool, bool) { return typ == SignalICE, false })
	reg := prometheus.NewRegistry()
	auto := func(o *Options) { o.P2PTimeout = timeout }
	a := newNode(t, r, "a", auto)
	b := newNode(t, r, "b", func(o *Options) { auto(o); o.Registry = reg })
	start := time.Now()
	r.join("a", a.n)
	r.join("b", b.n)
	check := streamDuring(t, ctx, b, a, 1000)
	ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b)
	elapsed := time.Since(start)
	if ea.Path != PathServer || eb.Path != PathServer || ea.SAS != eb.SAS {
		t.Fatalf("a %+v b %+v", ea, eb)
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Fatalf("fell back after %v (p2p timeout %v)", elapsed, timeout)
	}
	t.Logf("fell back to the server relay after %v", elapsed)
	check()
	exchange(t, ctx, a, b, 500, 100, nil)
	if v := metricValue(t, reg, "vtpeer_peer_fallbacks_total", nil); v != 1 {
		t.Fatalf("fallbacks %v", v)
	}
	if v := metricValue(t, reg, "vtpeer_peer_connections_total", map[string]string{"path": "server"}); v != 1 {
		t.Fatalf("server connections %v", v)
	}
}

// TestAutoMovesBackToDirect: ICE is delayed (candidates held by the signaling relay) past
// P2PTimeout, so the session starts on the server relay; when the candidates are released ICE
// succeeds and the live session moves back to a direct pair (PathChanged on both sides) while
// a stream is running: nothing lost, duplicated or reordered.
func TestAutoMovesBackToDirect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 60*time.Second)
	r := newRelay(t)
	r.setFilter(func(_, _, typ string, _ json.RawMessage) (bool, bool) { return false, typ == SignalICE })
	regA := prometheus.NewRegistry()
	a := newNode(t, r, "a", func(o *Options) { o.P2PTimeout, o.Registry = time.Second, regA })
	b := newNode(t, r, "b", func(o *Options) { o.P2PTimeout = time.Second })
	r.join("a", a.n)
	r.join("b", b.n)
	if ea, eb := waitConnected(t, ctx, a), waitConnected(t, ctx, b); ea.Path != PathServer || eb.Path != PathServer {
		t.Fatalf("a %+v b %+v", ea, eb)
	}
	back := streamDuring(t, ctx, a, b, 2000)
	exchange(t, ctx, b, a, 3000, 100, func(i int) {
		if i == 500 {
			r.release()
		}
	})
	back()
	for _, tn := range []*testNode{a, b} {
		select {
		case e := <-tn.c.paths:
			if e.From != PathServer || e.To != PathDirect || e.SAS == "" {
				t.Fatalf("%s: %+v", tn.id, e)
			}
		case e := <-tn.c.connected:
			t.Fatalf("%s: PeerConnected instead of PathChanged: %+v", tn.id, e)
		case <-ctx.Done():
			t.Fatalf("%s: no path change", tn.id)
		}
	}
	exchange(t, ctx, a, b, 500, 100, nil)
	if ps := a.n.Peers(); ps[0].Path != PathDirect {
		t.Fatalf("peers %+v", ps)
	}
	if v := metricValue(t, regA, "vtpeer_peer_path_changes_total", map[string]string{"from": "server", "to": "direct"}); v != 1 {
		t.Fatalf("path changes %v", v)
	}
}

// metricValue reads one counter (or a histogram's count) from reg.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestMetricsDirect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 20*time.Second)
	reg := prometheus.NewRegistry()
	_, a, b := pair(t, ctx, func(o *Options) { o.Registry = reg }, nil)
	exchange(t, ctx, a, b, 10, 100, nil)
	exchange(t, ctx, b, a, 5, 100, nil)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vtpeer_peer_connection_attempts_total", map[string]string{"transport": "webrtc"}, 1},
		{"vtpeer_peer_connections_total", map[string]string{"path": "direct"}, 1},
		{"vtpeer_peer_connect_seconds", map[string]string{"path": "direct"}, 1},
		{"vtpeer_peer_messages_total", map[string]string{"direction": "sent"}, 10},
		{"vtpeer_peer_messages_total", map[string]string{"direction": "received"}, 5},
		{"vtpeer_peer_message_bytes_total", map[string]string{"direction": "sent"}, 1000},
		{"vtpeer_peer_fallbacks_total", nil, 0},
	} {
		if got := metricValue(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// A second Node in the same registry conflicts.
	if _, err := New(withLoopback(&Options{Room: "x", Signaler: relaySignaler{}, Registry: reg})); err == nil {
		t.Fatal("duplicate registration accepted")
	}
}

func TestViaValidation(t *testing.T) {
	t.Parallel()
	for _, o := range []*Options{
		{Room: "r", Signaler: relaySignaler{}, Via: "carrier-pigeon"},
		{Room: "r", Signaler: relaySignaler{}, P2PTimeout: -time.Second},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestServerRelayLastFrameLost: the last sealed frame of a burst disappears, so no later frame
// reveals the gap: the sender's stall bound replaces the relay transport and the message arrives.
func TestServerRelayLastFrameLost(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r := newRelay(t)
	var mu sync.Mutex
	dropped := false
	r.setFilter(func(from, to, typ string, data json.RawMessage) (bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		if from == "b" && typ == SignalRelay && relayFrameType(data) == relaySealed && len(data) > 200 && !dropped {
			dropped = true // the first data frame (start frames are shorter)
			return true, false
		}
		return false, false
	})
	fast := func(o *Options) { viaServer(o); o.knobs.relayStall = 400 * time.Millisecond }
	a := newNode(t, r, "a", fast)
	b := newNode(t, r, "b", fast)
	r.join("a", a.n)
	r.join("b", b.n)
	waitConnected(t, ctx, a)
	waitConnected(t, ctx, b)
	if err := b.n.Send(ctx, "a", "chat", make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-a.c.msgs:
		if len(m.Body) != 300 {
			t.Fatalf("got %d bytes", len(m.Body))
		}
	case <-ctx.Done():
		t.Fatal("lost message never arrived")
	}
	if err := b.n.WaitAcked(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !dropped {
		t.Fatal("no frame dropped")
	}
}

func TestDecodeRelayData(t *testing.T) {
	t.Parallel()
	good, _ := encodeRelayData(7, relaySealed, []byte{1, 2, 3})
	if d, err := decodeRelayData(good); err != nil || d.Gen != 7 || d.T != relaySealed || string(d.body) != "\x01\x02\x03" {
		t.Fatalf("%+v %v", d, err)
	}
	for _, s := range []string{``, `null`, `[]`, `{"gen":0,"t":"hello","b":"AQ"}`, `{"gen":1,"t":"x","b":"AQ"}`,
		`{"gen":1,"t":"sealed"}`, `{"gen":1,"t":"sealed","b":"!!"}`, `{"gen":1,"t":"sealed","b":"AQ=="}`,
		`{"gen":1,"t":"close","b":"AQ"}`, `{"gen":1,"t":"close","x":1}`, `{"gen":1,"t":"close"} {}`,
		`{"gen":-1,"t":"close"}`, `{"gen":1,"t":"hello","b":"` + strings.Repeat("A", 6000) + `"}`} {
		if _, err := decodeRelayData([]byte(s)); !errors.Is(err, ErrBadRelay) {
			t.Errorf("%.60s: got %v", s, err)
		}
	}
}

func FuzzDecodeRelayData(f *testing.F) {
	for _, t := range []string{relayHello, relaySealed, relayClose} {
		var b []byte
		if t != relayClose {
			b = []byte("frame")
		}
		d, _ := encodeRelayData(1795739420340681340, t, b)
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeRelayData(data)
		if err != nil {
			return
		}
		again, err := encodeRelayData(d.Gen, d.T, d.body)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := decodeRelayData(again)
		if err != nil || d2.Gen != d.Gen || d2.T != d.T || string(d2.body) != string(d.body) {
			t.Fatalf("round trip %q -> %q: %v", data, again, err)
		}
	})
}
