package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// hostileProxy is a signaling server gone bad, built from real parts: a WebSocket proxy in front
// of a real `vtpeer serve` that sees every frame of every client and may drop frames, rename a
// joining peer or inject frames of its own, as a compromised server can.
type hostileProxy struct {
	t        *testing.T
	upstream string // ws://host:port of the real server
	srv      *httptest.Server

	mu     sync.Mutex
	conns  []*proxyConn
	drop   func(to string, f proxyFrame) bool // server → client frames for which it returns true are dropped
	rename string                             // the next join asks for this peer id instead
	steal  string                             // the next join takes over this peer id with its resume secret
	joined chan string                        // peer id of each client the server answered joined
}

type proxyConn struct {
	client, up *websocket.Conn
	mu         sync.Mutex
	id         string
	resume     string // the resume secret of its join
}

func (c *proxyConn) peerID() string { c.mu.Lock(); defer c.mu.Unlock(); return c.id }

// proxyFrame is what the proxy reads of a signaling frame.
type proxyFrame struct {
	Type string          `json:"type"`
	From string          `json:"from"`
	Peer string          `json:"peerId"`
	Data json.RawMessage `json:"data"`
}

// relayT is the "t" of a relay frame's data ("hello", "sealed", "close"), "" for other frames.
func (f proxyFrame) relayT() string {
	if f.Type != "relay" {
		return ""
	}
	var d struct {
		T string `json:"t"`
	}
	_ = json.Unmarshal(f.Data, &d)
	return d.T
}

func newHostileProxy(t *testing.T, upstream string) *hostileProxy {
	p := &hostileProxy{t: t, upstream: upstream, joined: make(chan string, 16)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.client.CloseNow()
			_ = c.up.CloseNow()
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	return p
}

// url is the ws:// URL clients use.
func (p *hostileProxy) url() string { return "ws" + strings.TrimPrefix(p.srv.URL, "http") }

func (p *hostileProxy) setDrop(f func(to string, fr proxyFrame) bool) {
	p.mu.Lock()
	p.drop = f
	p.mu.Unlock()
}

// renameNext makes the next join ask the server for id (a process that restarts under the id
// of one that left, or an impostor the server lets in under that id).
func (p *hostileProxy) renameNext(id string) { p.mu.Lock(); p.rename = id; p.mu.Unlock() }

// impersonateNext makes the next join take over id's place in the room with the resume secret
// id joined with (a server that lets an impostor in looks the same to the others: no peer-left,
// the same peer id).
func (p *hostileProxy) impersonateNext(id string) { p.mu.Lock(); p.steal = id; p.mu.Unlock() }

// inject sends raw to the client joined as to, as if the server had relayed it.
func (p *hostileProxy) inject(ctx context.Context, to string, raw []byte) {
	p.t.Helper()
	p.mu.Lock()
	var c *proxyConn
	for _, pc := range p.conns {
		if pc.peerID() == to {
			c = pc
		}
	}
	p.mu.Unlock()
	if c == nil {
		p.t.Fatalf("proxy: no client %s", to)
	}
	if err := c.client.Write(ctx, websocket.MessageText, raw); err != nil {
		p.t.Fatalf("proxy: inject to %s: %v", to, err)
	}
}

// waitJoined returns the peer id of the next client the server answered joined.
func (p *hostileProxy) waitJoined(ctx context.Context) string {
	p.t.Helper()
	select {
	case id := <-p.joined:
		return id
	case <-ctx.Done():
		p.t.Fatal("proxy: nobody joined")
	}
	return ""
}

func (p *hostileProxy) serve(w http.ResponseWriter, r *http.Request) {
	client, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx := context.Background()
	up, _, err := websocket.Dial(ctx, p.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		_ = client.Close(websocket.StatusInternalError, "upstream")
		return
	}
	client.SetReadLimit(1 << 20)
	up.SetReadLimit(1 << 20)
	c := &proxyConn{client: client, up: up}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { // server → client
		defer close(done)
		p.pump(ctx, up, client, func(b []byte) []byte {
			var f proxyFrame
			if json.Unmarshal(b, &f) != nil {
				return b
			}
			if f.Type == "joined" {
				c.mu.Lock()
				c.id = f.Peer
				c.mu.Unlock()
				p.joined <- f.Peer
			}
			p.mu.Lock()
			drop := p.drop
			p.mu.Unlock()
			if drop != nil && drop(c.peerID(), f) {
				return nil
			}
			return b
		})
	}()
	p.pump(ctx, client, up, func(b []byte) []byte { // client → server
		var f map[string]any
		if json.Unmarshal(b, &f) == nil && f["type"] == "join" {
			p.mu.Lock()
			if p.rename != "" {
				f["peerId"], p.rename = p.rename, ""
				b, _ = json.Marshal(f)
			}
			if p.steal != "" {
				for _, o := range p.conns {
					if o.peerID() == p.steal {
						o.mu.Lock()
						f["peerId"], f["resume"] = p.steal, o.resume
						o.mu.Unlock()
					}
				}
				p.steal = ""
				b, _ = json.Marshal(f)
			}
			p.mu.Unlock()
			c.mu.Lock()
			c.resume, _ = f["resume"].(string)
			c.mu.Unlock()
		}
		return b
	})
	<-done
}

// pump copies frames from src to dst through edit (nil: drop) until either side ends, then
// closes the other side with the same status, so the server sees a client leave as it left.
func (p *hostileProxy) pump(ctx context.Context, src, dst *websocket.Conn, edit func([]byte) []byte) {
	for {
		typ, b, err := src.Read(ctx)
		if err != nil {
			code := websocket.CloseStatus(err)
			if code == -1 || code == websocket.StatusNoStatusRcvd {
				code = websocket.StatusGoingAway
			}
			_ = dst.Close(code, "")
			return
		}
		if b = edit(b); b == nil {
			continue
		}
		if err := dst.Write(ctx, typ, b); err != nil {
			_ = src.Close(websocket.StatusGoingAway, "")
			return
		}
	}
}
