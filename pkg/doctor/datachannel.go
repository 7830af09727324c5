package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
)

// pipe is an in-process Signaler: frames from one Node are handed, in
// order, to the other Node's HandleSignal.
type pipe struct {
	from string
	ch   chan pipeFrame
}

type pipeFrame struct {
	typ  string
	data json.RawMessage
}

// Signal implements peer.Signaler.
func (p *pipe) Signal(ctx context.Context, _, typ string, data json.RawMessage) error {
	select {
	case p.ch <- pipeFrame{typ: typ, data: append(json.RawMessage(nil), data...)}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// relayedDataChannel connects two in-process peers that may only use TURN
// relay candidates of the server's ICE servers, sends one message from one
// to the other, and returns how long it all took.
func relayedDataChannel(ctx context.Context, o *Options, servers []signal.ICEServer) (time.Duration, error) {
	// Twice the timeout: two allocations and ICE checks through them.
	dctx, cancel := context.WithTimeout(ctx, 2*o.Timeout)
	defer cancel()
	start := time.Now()
	var ice []peer.ICEServer
	for _, s := range servers {
		ice = append(ice, peer.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	toA, toB := &pipe{from: "doctor-b", ch: make(chan pipeFrame, 64)}, &pipe{from: "doctor-a", ch: make(chan pipeFrame, 64)}
	room := randomRoom() // bound into both seal transcripts: one room for both
	newNode := func(sig *pipe) (*peer.Node, error) {
		return peer.New(&peer.Options{Room: room, Signaler: sig, ICEServers: ice, Via: peer.ViaTURN,
			Logger: o.Logger.With("component", "doctor-peer")})
	}
	a, err := newNode(toB)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := newNode(toA)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	deliver := func(p *pipe, to *peer.Node) {
		defer wg.Done()
		for {
			select {
			case f := <-p.ch:
				if err := to.HandleSignal(dctx, p.from, f.typ, f.data); err != nil && !errors.Is(err, peer.ErrIgnoredSignal) {
					o.Logger.Debug("doctor: signal", "err", err)
				}
			case <-dctx.Done():
				return
			}
		}
	}
	wg.Add(2)
	go deliver(toB, b)
	go deliver(toA, a)

	a.Joined(dctx, "doctor-a", nil, ice)
	a.PeerJoined("doctor-b")
	b.Joined(dctx, "doctor-b", []string{"doctor-a"}, ice) // the newer member offers

	connected := func(n *peer.Node) (peer.PeerConnected, error) {
		for {
			select {
			case e, ok := <-n.Events():
				if !ok {
					return peer.PeerConnected{}, peer.ErrClosed
				}
				switch e := e.(type) {
				case peer.PeerConnected:
					return e, nil
				case peer.Error:
					return peer.PeerConnected{}, fmt.Errorf("%s: %w", e.Code, e.Err)
				}
			case <-dctx.Done():
				return peer.PeerConnected{}, fmt.Errorf("not connected within %s", 2*o.Timeout)
			}
		}
	}
	ca, err := connected(a)
	if err != nil {
		return 0, err
	}
	if ca.Path != peer.PathTURN {
		return 0, fmt.Errorf("%w (path %s)", errNoRelay, ca.Path)
	}
	if _, err := connected(b); err != nil {
		return 0, err
	}
	body := []byte("vtpeer doctor")
	if err := b.Send(dctx, "doctor-a", "doctor", body); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	for {
		select {
		case e, ok := <-a.Events():
			if !ok {
				return 0, peer.ErrClosed
			}
			if m, isMsg := e.(peer.Message); isMsg && string(m.Body) == string(body) {
				return time.Since(start), nil
			}
		case <-dctx.Done():
			return 0, fmt.Errorf("the message did not arrive within %s", 2*o.Timeout)
		}
	}
}
