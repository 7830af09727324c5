package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// demoPeerConfig describes one of the demo's two peers.
type demoPeerConfig struct {
	name, server, room string
	signer             tips.Signer
	expect             string
	home               string
	forward            string // recipient only
	logger             *slog.Logger
}

// demoTipEvent is how the recipient's pump reports a tip it judged.
type demoTipEvent struct{ ev tipEvent }

// demoPeer is a room session whose events the demo awaits one by one; tips
// are judged (and receipted) by its tip desk as `vtpeer join` does.
type demoPeer struct {
	rs     *roomSession
	desk   *tipDesk
	events chan any
	wg     sync.WaitGroup
}

func startDemoPeer(ctx context.Context, cfg demoPeerConfig) (*demoPeer, error) {
	desk, err := openTipDesk(tipDeskConfig{home: cfg.home, maxAge: tips.DefaultMaxAge, forwardURL: cfg.forward, signer: cfg.signer, logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	rs, err := startRoom(ctx, roomConfig{server: cfg.server, room: cfg.room, signer: cfg.signer, expect: cfg.expect,
		loopbackOnly: true, logger: cfg.logger, status: func(statusUpdate) {}})
	if err != nil {
		_ = desk.Close()
		return nil, fmt.Errorf("%s: %w", cfg.name, err)
	}
	p := &demoPeer{rs: rs, desk: desk, events: make(chan any, 64)}
	p.wg.Add(1)
	go p.pump(ctx)
	return p, nil
}

func (p *demoPeer) node() *peer.Node { return p.rs.node }

// pump judges tips and passes every event on to await.
func (p *demoPeer) pump(ctx context.Context) {
	defer p.wg.Done()
	defer close(p.events)
	for ev := range p.rs.node.Events() {
		var out any = ev
		if m, ok := ev.(peer.Message); ok && m.Kind == kindTip {
			tev, receipt := p.desk.receive(ctx, m.Peer, m.Body)
			if body, err := json.Marshal(receipt); err == nil {
				_ = p.rs.node.Send(ctx, m.Peer, kindReceipt, body)
			}
			out = demoTipEvent{tev}
		}
		p.events <- out
	}
}

// await returns the first event that match accepts; a peer error ends it.
func (p *demoPeer) await(ctx context.Context, match func(any) bool) (any, error) {
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return nil, errDemoPeerGone
			}
			if e, isErr := ev.(peer.Error); isErr {
				return nil, fmt.Errorf("demo: %s: %w", e.Code, e.Err)
			}
			if match(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errTimedOut) {
				return nil, errors.New("demo: timed out")
			}
			return nil, ctx.Err()
		}
	}
}

func (p *demoPeer) chat(ctx context.Context, to, text string) error {
	body, err := json.Marshal(chatBody{Text: text})
	if err != nil {
		return err
	}
	return p.rs.node.Send(ctx, to, kindChat, body)
}

func (p *demoPeer) close() {
	_ = p.rs.Close()
	p.wg.Wait()
	_ = p.desk.Close()
}

// orchestrator is the demo's stand-in for the VeryTippers relayer: it takes
// POST /submit-meta and checks the signature as the relayer would.
type orchestrator struct {
	srv  *httptest.Server
	url  string
	got  chan struct{}
	once sync.Once
}

func startOrchestrator(say demoStep) (*orchestrator, error) {
	o := &orchestrator{got: make(chan struct{})}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		var fb tips.ForwardBody
		if err == nil {
			err = json.Unmarshal(body, &fb)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/submit-meta" || err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		say("orchestrator", "POST /submit-meta from=%s amount=%s wei v=%d messageHash=%s", fb.From, fb.Amount, fb.V, shortID(fb.MessageHash))
		w.WriteHeader(http.StatusAccepted)
		o.once.Do(func() { close(o.got) })
	}))
	o.url = o.srv.URL
	return o, nil
}

// await waits for the first forwarded tip.
func (o *orchestrator) await(ctx context.Context) error {
	select {
	case <-o.got:
		return nil
	case <-ctx.Done():
		return errors.New("demo: the orchestrator got no tip")
	}
}

func (o *orchestrator) close() { o.srv.Close() }
