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
	"path/filepath"
	"sync"

	"github.com/verytippers/vtpeer/pkg/app"
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

// demoPeer is one of the demo's two peers: an app.Room over a room
// membership, with a tip desk, as `vtpeer join` runs them; the demo awaits
// its events one by one.
type demoPeer struct {
	ms   *membership
	room *app.Room
	desk *tips.Desk
}

func startDemoPeer(ctx context.Context, cfg demoPeerConfig) (*demoPeer, error) {
	desk, err := tips.OpenDesk(filepath.Join(cfg.home, "vtpeer.db"), &tips.DeskOptions{ForwardURL: cfg.forward, Signer: cfg.signer, Logger: cfg.logger})
	if err != nil {
		return nil, err
	}
	ms, err := startRoom(ctx, roomConfig{server: cfg.server, room: cfg.room, signer: cfg.signer, expect: cfg.expect,
		loopbackOnly: true, logger: cfg.logger, status: func(statusUpdate) {}})
	if err != nil {
		_ = desk.Close()
		return nil, fmt.Errorf("%s: %w", cfg.name, err)
	}
	room, err := app.New(&app.Options{Room: cfg.room, Node: ms.node, Signer: cfg.signer, Desk: desk, Present: ms.peers, Logger: cfg.logger})
	if err != nil {
		_ = ms.Close()
		_ = desk.Close()
		return nil, err
	}
	room.Start()
	return &demoPeer{ms: ms, room: room, desk: desk}, nil
}

// await returns the first event that match accepts; a peer error ends it.
func (p *demoPeer) await(ctx context.Context, match func(app.Event) bool) (app.Event, error) {
	for {
		select {
		case ev, ok := <-p.room.Events():
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

func (p *demoPeer) close() {
	_ = p.room.Close()
	_ = p.ms.Close()
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
