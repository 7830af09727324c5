// Package sigbench is the load generator behind "vtpeer bench signal": a
// bare coder/websocket relay hub as the baseline, a closed-loop relay
// benchmark, and an idle-connection opener with an RSS probe.
package sigbench

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// BareHub is the baseline: the plainest coder/websocket relay hub. Each
// connection has its reader (the handler goroutine) and a writer goroutine
// with a channel; the first frame's "room" is the room, every later frame
// is relayed raw to the other members.
type BareHub struct {
	mu    sync.Mutex
	rooms map[string]map[*hubConn]struct{}
}

type hubConn struct{ out chan []byte }

// NewBareHub returns an empty hub.
func NewBareHub() *BareHub { return &BareHub{rooms: make(map[string]map[*hubConn]struct{})} }

// ServeHTTP implements http.Handler.
func (h *BareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx := context.Background()
	c := &hubConn{out: make(chan []byte, 32)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range c.out {
			if ws.Write(ctx, websocket.MessageText, b) != nil {
				ws.CloseNow()
				for range c.out {
				}
				return
			}
		}
	}()
	room := ""
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			break
		}
		if room == "" {
			var f struct{ Room string }
			if json.Unmarshal(b, &f) != nil || f.Room == "" {
				continue
			}
			room = f.Room
			h.mu.Lock()
			if h.rooms[room] == nil {
				h.rooms[room] = make(map[*hubConn]struct{})
			}
			h.rooms[room][c] = struct{}{}
			h.mu.Unlock()
			continue
		}
		h.mu.Lock()
		for m := range h.rooms[room] {
			if m != c {
				select {
				case m.out <- b:
				default:
				}
			}
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	delete(h.rooms[room], c)
	if len(h.rooms[room]) == 0 {
		delete(h.rooms, room)
	}
	close(c.out)
	h.mu.Unlock()
	<-done
}
