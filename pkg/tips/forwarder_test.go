package tips

import (
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// orchestrator is a test relayer: per messageHash, the status codes to answer
// in turn (200 once the list is used up); it counts the POSTs.
type orchestrator struct {
	mu     sync.Mutex
	script map[string][]int
	down   map[string]bool // answer 503 while set
	posts  map[string]int
	oks    map[string]int
	bodies []map[string]any
}

func (o *orchestrator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	h, _ := body["messageHash"].(string)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bodies = append(o.bodies, body)
	o.posts[h]++
	code := http.StatusOK
	if o.down[h] {
		code = http.StatusServiceUnavailable
	} else if s := o.script[h]; len(s) > 0 {
		code, o.script[h] = s[0], s[1:]
	}
	if code/100 == 2 {
		o.oks[h]++
	}
	w.WriteHeader(code)
}

func (o *orchestrator) count(h common.Hash) (posts, oks int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.posts[h.Hex()], o.oks[h.Hex()]
}

type attemptEvent struct {
	hash  common.Hash
	state string
}

func signedTip(t *testing.T, amount int64) *SignedMeta {
	t.Helper()
	sm, err := Sign(testSigner(t, 0), Meta{To: testSigner(t, 1).Address(), Amount: big.NewInt(amount), Cid: "c", Nonce: big.NewInt(amount)})
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// waitState reads attempt events until hash has reached state, remembering
// the events it read in seen.
func waitState(ctx context.Context, t *testing.T, ev <-chan attemptEvent, seen map[attemptEvent]bool, hash common.Hash, state string) {
	t.Helper()
	for !seen[attemptEvent{hash, state}] {
		select {
		case e := <-ev:
			seen[e] = true
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s to become %s", hash.Hex(), state)
		}
	}
}

func startForwarder(t *testing.T, path, url string) (*Store, *Forwarder, <-chan attemptEvent, func()) {
	t.Helper()
	st, err := OpenStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := make(chan attemptEvent, 64)
	client := &http.Client{}
	f, err := NewForwarder(st, url, &ForwarderOptions{
		HTTPClient: client, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnAttempt: func(h common.Hash, state, _ string) { ev <- attemptEvent{h, state} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		client.CloseIdleConnections()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	return st, f, ev, stop
}

func TestForwarder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	retried, refused, later := signedTip(t, 1), signedTip(t, 2), signedTip(t, 3)
	hRetried, hRefused, hLater := retried.Meta.MessageHash(), refused.Meta.MessageHash(), later.Meta.MessageHash()
	orch := &orchestrator{posts: map[string]int{}, oks: map[string]int{}, script: map[string][]int{
		hRetried.Hex(): {503, 500, 429},
		hRefused.Hex(): {400},
	}, down: map[string]bool{hLater.Hex(): true}}
	srv := httptest.NewServer(orch)
	path := filepath.Join(t.TempDir(), "tips.db")

	seen := map[attemptEvent]bool{}
	_, f, ev, stop := startForwarder(t, path, srv.URL)
	for _, sm := range []*SignedMeta{retried, refused, later} {
		if err := f.Enqueue(ctx, sm); err != nil {
			t.Fatal(err)
		}
	}
	waitState(ctx, t, ev, seen, hRetried, ForwardDelivered)
	waitState(ctx, t, ev, seen, hRefused, ForwardFailed)
	if err := f.Enqueue(ctx, retried); err != nil { // acknowledged: ignored
		t.Fatal(err)
	}
	if st, _ := f.Status(hLater); st != ForwardQueued {
		t.Fatalf("later is %q", st)
	}
	stop()

	if p, ok := orch.count(hRetried); p != 4 || ok != 1 {
		t.Fatalf("retried tip: %d posts, %d acknowledged; want 4 and 1", p, ok)
	}
	if p, _ := orch.count(hRefused); p != 1 {
		t.Fatalf("refused tip posted %d times, want 1", p)
	}

	// Restart: the queued tip is delivered once the orchestrator recovers,
	// the acknowledged one is never sent again, even when enqueued again.
	// (A new server: Close waits for requests that the stopped forwarder
	// abandoned, so none is answered by the recovered orchestrator.)
	srv.Close()
	orch.mu.Lock()
	orch.down[hLater.Hex()] = false
	orch.mu.Unlock()
	srv = httptest.NewServer(orch)
	defer srv.Close()
	_, f, ev, stop = startForwarder(t, path, srv.URL)
	defer stop()
	if err := f.Enqueue(ctx, retried); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, ev, seen, hLater, ForwardDelivered)
	if p, ok := orch.count(hRetried); p != 4 || ok != 1 {
		t.Fatalf("after restart retried tip: %d posts, %d acknowledged", p, ok)
	}
	if _, ok := orch.count(hLater); ok != 1 {
		t.Fatalf("later tip acknowledged %d times", ok)
	}

	// The body is exactly the relayer's fields plus signature and hash.
	orch.mu.Lock()
	body := orch.bodies[len(orch.bodies)-1]
	orch.mu.Unlock()
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "amount,cidHash,from,messageHash,nonce,r,s,signature,to,v" {
		t.Fatalf("body keys %s", got)
	}
	sig := later.Signature
	want := map[string]any{
		"from": later.Meta.From.Hex(), "to": later.Meta.To.Hex(), "amount": "3", "nonce": "3",
		"cidHash": later.Meta.CidHashValue().Hex(), "messageHash": hLater.Hex(), "v": float64(sig[64]),
		"r": "0x" + common.Bytes2Hex(sig[:32]), "s": "0x" + common.Bytes2Hex(sig[32:64]), "signature": "0x" + common.Bytes2Hex(sig),
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, body[k], v)
		}
	}
}

func TestNewForwarderValidates(t *testing.T) {
	t.Parallel()
	st, err := OpenStore(filepath.Join(t.TempDir(), "tips.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, u := range []string{"", "ftp://x", "http://"} {
		if _, err := NewForwarder(st, u, nil); err == nil {
			t.Errorf("accepted URL %q", u)
		}
	}
	if _, err := NewForwarder(st, "http://x", &ForwarderOptions{MinBackoff: -1}); err == nil {
		t.Error("accepted negative backoff")
	}
}
