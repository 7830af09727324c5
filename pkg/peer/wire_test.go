package peer

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// rewriteSignaler passes every outgoing signaling frame's data through f: it stands in for a
// peer written in another language whose JSON handling differs from Go's.
type rewriteSignaler struct {
	inner Signaler
	f     func(json.RawMessage) json.RawMessage
}

func (s rewriteSignaler) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	return s.inner.Signal(ctx, to, typ, s.f(data))
}

// jsJSON is what JSON.parse then JSON.stringify do to data: every number becomes an IEEE 754
// double, so integers above 2^53 are rounded.
func jsJSON(data json.RawMessage) json.RawMessage {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return data
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data
	}
	return out
}

var genNumber = regexp.MustCompile(`"gen":(\d+)`)

// genString writes gen as a JSON string, as a peer that keeps 64-bit integers as text would.
func genString(data json.RawMessage) json.RawMessage {
	return genNumber.ReplaceAll(data, []byte(`"gen":"$1"`))
}

// TestGenSurvivesOtherJSON (issue 10 §3 items 2–3): a peer whose JSON numbers are doubles
// (JavaScript) echoes an offer's gen unchanged, because gens are at most 2^53 − 1; a peer that
// writes gen as a decimal string is understood. Both connect and carry messages, on a
// PeerConnection and on the server relay. (With nanosecond gens, the rounded echo never matched
// and the answer was dropped; a string gen was refused as malformed.)
func TestGenSurvivesOtherJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		rewrite func(json.RawMessage) json.RawMessage
		via     string
	}{
		{"js-numbers/direct", jsJSON, ViaDirect},
		{"js-numbers/server", jsJSON, ViaServer},
		{"string-gen/direct", genString, ViaDirect},
		{"string-gen/server", genString, ViaServer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t, 30*time.Second)
			mod := func(o *Options) {
				o.Via = tt.via
				o.Signaler = rewriteSignaler{o.Signaler, tt.rewrite}
			}
			_, a, b := pair(t, ctx, mod, mod)
			exchange(t, ctx, a, b, 20, 100, nil)
			exchange(t, ctx, b, a, 20, 100, nil)
		})
	}
}

func TestNewGenIsSafeInJavaScript(t *testing.T) {
	t.Parallel()
	n := &Node{}
	prev := uint64(0)
	for range 1000 {
		g := n.nextGen()
		if g == 0 || g > MaxGen || g <= prev {
			t.Fatalf("gen %d after %d (max %d)", g, prev, uint64(MaxGen))
		}
		if uint64(float64(g)) != g {
			t.Fatalf("gen %d does not survive a double", g)
		}
		prev = g
	}
}

func TestGenField(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want uint64 // 0: an error
	}{
		{`1`, 1},
		{`1795739420340681`, 1795739420340681},
		{`1795739420340681340`, 1795739420340681340}, // an older peer's nanosecond gen
		{`"1795739420340681"`, 1795739420340681},
		{`"18446744073709551615"`, 1<<64 - 1},
		{`"18446744073709551616"`, 0},
		{`0`, 1<<64 - 1 /* decodes; the caller refuses 0 */},
		{`01`, 0}, {`"01"`, 0}, {`-1`, 0}, {`"-1"`, 0}, {`1.0`, 0}, {`1e3`, 0}, {`"1e3"`, 0},
		{`""`, 0}, {`"12a"`, 0}, {`" 12"`, 0}, {`"\u0031"`, 0}, {`true`, 0}, {`null`, 0}, {`[1]`, 0}, {`{}`, 0},
	} {
		var g genField
		err := json.Unmarshal([]byte(tt.in), &g)
		switch {
		case tt.in == `0`:
			if err != nil || g != 0 {
				t.Errorf("%s: %d %v", tt.in, g, err)
			}
		case tt.want == 0 && err == nil:
			t.Errorf("%s: accepted as %d", tt.in, g)
		case tt.want != 0 && (err != nil || uint64(g) != tt.want):
			t.Errorf("%s: %d %v, want %d", tt.in, g, err, tt.want)
		}
	}
}

// TestHandleSignalReasons: every signaling frame a Node cannot use comes back with its reason —
// malformed ones as ErrBadSignal/ErrBadRelay, ones the protocol ignores as ErrIgnoredSignal —
// never a silent nil.
func TestHandleSignalReasons(t *testing.T) {
	t.Parallel()
	r := newRelay(t)
	a := newNode(t, r, "aaaaaaaa", nil)
	r.signaler("bbbbbbbb")
	r.join("aaaaaaaa", a.n)
	ctx := ctxT(t, 10*time.Second)
	for _, tt := range []struct {
		typ, data string
		want      error
		reason    string
	}{
		{"offer", `{"sdp":"v=0"}`, ErrBadSignal, "missing or zero gen"},
		{"offer", `{"gen":0,"sdp":"v=0"}`, ErrBadSignal, "missing or zero gen"},
		{"offer", `{"gen":"x","sdp":"v=0"}`, ErrBadSignal, "positive integer"},
		{"offer", `{"gen":1.5,"sdp":"v=0"}`, ErrBadSignal, "positive integer"},
		{"offer", `{"gen":5}`, ErrBadSignal, "offer without sdp"},
		{"answer", `{"gen":5}`, ErrBadSignal, "answer without sdp"},
		{"ice", `{"gen":5}`, ErrBadSignal, "ice without candidate"},
		{"ice", `[]`, ErrBadSignal, "cannot unmarshal"},
		{"answer", `{"gen":5,"sdp":"v=0"}`, ErrIgnoredSignal, "no transport is being negotiated"},
		{"relay", `{"gen":5,"t":"sealed","b":"AQ"}`, ErrIgnoredSignal, "not the current relay transport"},
		{"relay", `{"gen":"x","t":"close"}`, ErrBadRelay, "positive integer"},
		{"future-kind", `{}`, ErrIgnoredSignal, "unknown type"},
	} {
		err := a.n.HandleSignal(ctx, "bbbbbbbb", tt.typ, json.RawMessage(tt.data))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s %s: %v, want %v with %q", tt.typ, tt.data, err, tt.want, tt.reason)
		}
	}
}

// TestAnnouncedMaxMessageSize (issue 10 §3 item 10): each side announces the largest sealed
// frame it takes in its SDP's a=max-message-size — 40 KiB when the session may use the server
// relay (auto, server), 256 KiB otherwise — and a sender refuses a larger message before it
// takes a sequence number, so the next message still arrives. A --via direct peer talking to a
// --via auto one is held to 40 KiB (before, it sent 256 KiB frames the auto peer could not have
// resent to it over the relay).
func TestAnnouncedMaxMessageSize(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 30*time.Second)
	r := newRelay(t)
	var mu sync.Mutex
	announced := map[string]string{}
	re := regexp.MustCompile(`a=max-message-size:(\d+)`)
	r.setFilter(func(from, _, typ string, data json.RawMessage) (bool, bool) {
		if typ == SignalOffer || typ == SignalAnswer {
			var p sigPayload
			_ = json.Unmarshal(data, &p)
			if m := re.FindStringSubmatch(p.SDP); m != nil {
				mu.Lock()
				announced[from] = m[1]
				mu.Unlock()
			}
		}
		return false, false
	})
	a := newNode(t, r, "a", nil) // auto
	b := newNode(t, r, "b", func(o *Options) { o.Via = ViaDirect })
	r.join("a", a.n)
	r.join("b", b.n)
	waitConnected(t, ctx, a)
	waitConnected(t, ctx, b)
	mu.Lock()
	if announced["a"] != "40960" || announced["b"] != "262144" {
		t.Errorf("announced %v, want a (auto) 40960, b (direct) 262144", announced)
	}
	mu.Unlock()
	maxBody := RelayMaxFrame - 25 - dataHeaderLen - len("chat")
	if err := b.n.Send(ctx, "a", "chat", make([]byte, maxBody+1)); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("direct peer sent %d bytes to an auto peer: %v", maxBody+1, err)
	}
	exchange(t, ctx, b, a, 3, maxBody, nil) // seq 1, 2, 3: nothing was burnt
}

// TestDecodeSigPayloadKeepsFields: every field a peer sends in offer/answer/ice data survives
// decoding (a dropped "upgrade" made a direct upgrade look like a new session).
func TestDecodeSigPayloadKeepsFields(t *testing.T) {
	t.Parallel()
	p, err := decodeSigPayload(SignalOffer, []byte(`{"gen":"7","sdp":"v=0","upgrade":true}`))
	if err != nil || p.Gen != 7 || p.SDP != "v=0" || !p.Upgrade {
		t.Fatalf("decoded %+v, %v", p, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := decodeSigPayload(SignalOffer, b)
	if err != nil || q != p {
		t.Fatalf("round trip %s: %+v, %v", b, q, err)
	}
}

func FuzzDecodeSigPayload(f *testing.F) {
	for _, s := range []string{`{"gen":1795739420340681,"sdp":"v=0"}`, `{"gen":"17","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`,
		`{"gen":1}`, `{"gen":"01"}`, `{}`} {
		f.Add("offer", []byte(s))
		f.Add("ice", []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		p, err := decodeSigPayload(typ, data)
		if err != nil {
			return
		}
		if p.Gen == 0 {
			t.Fatalf("accepted a zero gen: %q", data)
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodeSigPayload(typ, again)
		if err != nil || q.Gen != p.Gen || q.SDP != p.SDP || q.Upgrade != p.Upgrade {
			t.Fatalf("round trip %q -> %q: %v", data, again, err)
		}
	})
}
