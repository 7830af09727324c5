package sigbench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Result is one relay measurement.
type Result struct {
	Pairs    int
	Frames   int
	Duration time.Duration
	P50, P99 time.Duration
}

// Rate is frames relayed per second.
func (r Result) Rate() float64 { return float64(r.Frames) / r.Duration.Seconds() }

// RunRelay opens pairs of connections to url, puts each pair in its own
// room, and for duration has A send frames that B receives, one in flight
// per pair (closed loop). vtpeer says whether url speaks the vtpeer
// protocol (joined/peer-joined answers) or is the bare hub (silent join).
func RunRelay(ctx context.Context, url string, pairs int, duration time.Duration, vtpeer bool) (Result, error) {
	return RunRelayAcross(ctx, url, url, pairs, duration, vtpeer)
}

// RunRelayAcross is RunRelay with each pair's sender A connected to urlA
// and its receiver B to urlB: two nodes of a cluster, or the same one.
func RunRelayAcross(ctx context.Context, urlA, urlB string, pairs int, duration time.Duration, vtpeer bool) (Result, error) {
	type pair struct {
		a, b *websocket.Conn
		room string
	}
	ps := make([]pair, pairs)
	defer func() {
		for _, p := range ps {
			if p.a != nil {
				p.a.CloseNow()
			}
			if p.b != nil {
				p.b.CloseNow()
			}
		}
	}()
	for i := range ps {
		ps[i].room = fmt.Sprintf("bench-%d-%d", os.Getpid(), i)
		room := `{"type":"join","room":"` + ps[i].room + `"}`
		for k, c := range []**websocket.Conn{&ps[i].a, &ps[i].b} {
			url := urlA
			if k == 1 {
				url = urlB
			}
			ws, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				return Result{}, fmt.Errorf("dial: %w", err)
			}
			ws.SetReadLimit(1 << 20)
			*c = ws
			if err := ws.Write(ctx, websocket.MessageText, []byte(room)); err != nil {
				return Result{}, err
			}
			if vtpeer {
				if _, _, err := ws.Read(ctx); err != nil { // joined
					return Result{}, err
				}
			}
		}
		if vtpeer {
			if _, _, err := ps[i].a.Read(ctx); err != nil { // peer-joined
				return Result{}, err
			}
		}
	}
	if !vtpeer { // the bare hub answers nothing: make sure both joins landed
		time.Sleep(50 * time.Millisecond)
	}
	var mu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, pairs)
	deadline := time.Now().Add(duration)
	start := time.Now()
	for i := range ps {
		wg.Add(1)
		go func(p pair) {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			msg := []byte(`{"type":"ice","room":"` + p.room + `","data":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host","n":0}}`)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := p.a.Write(ctx, websocket.MessageText, msg); err != nil {
					errc <- err
					return
				}
				if _, _, err := p.b.Read(ctx); err != nil {
					errc <- err
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}(ps[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return Result{}, err
	default:
	}
	slices.Sort(lats)
	r := Result{Pairs: pairs, Frames: len(lats), Duration: elapsed}
	if len(lats) > 0 {
		r.P50, r.P99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return r, nil
}

// OpenIdle opens n connections to url, each joining room "idle-<i/8>",
// and returns them; closing them is the caller's job.
func OpenIdle(ctx context.Context, url string, n int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			return conns, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, ws)
		join := fmt.Sprintf(`{"type":"join","room":"idle-%d"}`, i/8)
		if err := ws.Write(ctx, websocket.MessageText, []byte(join)); err != nil {
			return conns, err
		}
		// keep reading so pings are answered; the client's memory is not measured.
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
	return conns, nil
}

// RSS returns the VmRSS of process pid in KiB.
func RSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// OpenIdleSpread is OpenIdle over several servers: connection i goes to
// urls[i%len(urls)] from local address sources[i%len(sources)] (none: the
// system's choice), so the 8 members of a room sit on different servers
// of a cluster, and more connections fit than one source address has
// ephemeral ports for.
func OpenIdleSpread(ctx context.Context, urls, sources []string, n int) ([]*websocket.Conn, error) {
	clients := make([]*http.Client, max(len(sources), 1))
	for i := range clients {
		d := &net.Dialer{Timeout: 30 * time.Second}
		if len(sources) > 0 {
			ip := net.ParseIP(sources[i])
			if ip == nil {
				return nil, fmt.Errorf("source address %q: not an IP address", sources[i])
			}
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		clients[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		ws, _, err := websocket.Dial(ctx, urls[i%len(urls)], &websocket.DialOptions{HTTPClient: clients[i%len(clients)]})
		if err != nil {
			return conns, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, ws)
		// The pid keeps the rooms of several bench processes apart.
		join := fmt.Sprintf(`{"type":"join","room":"idle-%d-%d"}`, os.Getpid(), i/8)
		if err := ws.Write(ctx, websocket.MessageText, []byte(join)); err != nil {
			return conns, err
		}
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
	return conns, nil
}
