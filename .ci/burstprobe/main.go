// Command burstprobe replays issue 8's burst scenarios against a running
// `vtpeer serve` and prints what arrived; docs/BENCHMARKS.md ("Bursts,
// queues and back-pressure") has the commands. It is a measuring tool, not
// part of vtpeer: go build -o /tmp/burstprobe ./.ci/burstprobe
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

type frame struct{ Type, Code, PeerID string }

func dial(ctx context.Context, url string) *websocket.Conn {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		log.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	return ws
}

func join(ctx context.Context, ws *websocket.Conn, room string) string {
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"`+room+`"}`)); err != nil {
		log.Fatalf("join: %v", err)
	}
	for {
		var f frame
		if err := wsjson.Read(ctx, ws, &f); err != nil {
			log.Fatalf("join: %v", err)
		}
		if f.Type == "joined" {
			return f.PeerID
		}
	}
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/", "signaling server")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, senders := range []int{1, 7} {
		burst(ctx, *url, senders)
	}
	bypass(ctx, *url)
	for _, n := range []int{60, 100} {
		flood(ctx, *url, n)
	}
}

// burst: senders × 39 frames of 1 KiB (the default bucket of 40, join
// included) to a receiver that reads only once they are all written.
func burst(ctx context.Context, url string, senders int) {
	room := fmt.Sprintf("burst%d", senders)
	recv := dial(ctx, url)
	defer recv.CloseNow()
	rid := join(ctx, recv, room)
	ss := make([]*websocket.Conn, senders)
	for i := range ss {
		ss[i] = dial(ctx, url)
		defer ss[i].CloseNow()
		join(ctx, ss[i], room)
		var f frame
		_ = wsjson.Read(ctx, recv, &f) // peer-joined
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() {
			for n := range 39 {
				f := fmt.Sprintf(`{"type":"offer","room":"%s","to":"%s","data":"%d %s"}`, room, rid, n, strings.Repeat("x", 1024))
				_ = s.Write(ctx, websocket.MessageText, []byte(f))
			}
		})
	}
	wg.Wait()
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	got := 0
	for got < 39*senders {
		var f frame
		if err := wsjson.Read(rctx, recv, &f); err != nil {
			break
		}
		if f.Type == "offer" {
			got++
		}
	}
	fmt.Printf("burst: %d sender(s) × 39 × 1 KiB: receiver got %d/%d in %v\n", senders, got, 39*senders, time.Since(start).Round(time.Millisecond))
}

// bypass: 2000 offers carrying "type":"relay" inside data.
func bypass(ctx context.Context, url string) {
	c := dial(ctx, url)
	join(ctx, c, "bypass")
	limited, other := 0, 0
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			var f frame
			if err := wsjson.Read(ctx, c, &f); err != nil {
				return
			}
			if f.Code == "rate_limited" {
				limited++
			} else {
				other++
			}
		}
	})
	start := time.Now()
	sent := 0
	for range 2000 {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"offer","room":"bypass","data":{"type":"relay"}}`)); err != nil {
			break // closed with 1008
		}
		sent++
	}
	el := time.Since(start)
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	<-wctx.Done() // let the answers arrive
	wcancel()
	_ = c.CloseNow()
	wg.Wait()
	fmt.Printf("bypass: %d of 2000 frames written in %v; %d rate_limited answers, %d other\n", sent, el.Round(time.Millisecond), limited, other)
}

// flood: n frames written without reading, then read to the close.
func flood(ctx context.Context, url string, n int) {
	c := dial(ctx, url)
	defer c.CloseNow()
	join(ctx, c, fmt.Sprintf("flood%d", n))
	for range n {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ice","room":"r","data":1}`)); err != nil {
			break
		}
	}
	got := 0
	for {
		var f frame
		if err := wsjson.Read(ctx, c, &f); err != nil {
			fmt.Printf("flood: %d frames: %d rate_limited received, then close %d\n", n, got, websocket.CloseStatus(err))
			return
		}
		if f.Code == "rate_limited" {
			got++
		}
	}
}
