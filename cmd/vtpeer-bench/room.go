package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/signal"
)

// benchPeer is one member of a benchmark room: a signaling client and a
// peer Node wired together the way `vtpeer join` wires them (dial, Node,
// join, then every signaling frame to the Node), without the application
// layer: the benchmarks measure the transport, so they read the Node's
// events themselves.
type benchPeer struct {
	client *signal.Client
	node   *peer.Node
	self   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// joinBench joins room on the server at url over via; signaling errors and
// reconnects are counted in tally.
func joinBench(ctx context.Context, url, room, via string, log *slog.Logger, tally *statusTally) (*benchPeer, error) {
	return joinBenchWith(ctx, url, room, &peer.Options{Via: via}, log, tally)
}

// joinBenchWith is joinBench with the Node's options taken from base (its
// Room, Signaler, LoopbackOnly and Logger are set here).
func joinBenchWith(ctx context.Context, url, room string, base *peer.Options, log *slog.Logger, tally *statusTally) (*benchPeer, error) {
	client, err := signal.Dial(ctx, url, &signal.ClientOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	opts := *base
	opts.Room, opts.Signaler, opts.LoopbackOnly, opts.Logger = room, signaler{client}, true, log
	node, err := peer.New(&opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	joined, err := client.Join(ctx, room)
	if err != nil {
		_ = node.Close()
		_ = client.Close()
		return nil, fmt.Errorf("join room %q: %w", room, err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	p := &benchPeer{client: client, node: node, self: joined.PeerID, cancel: cancel}
	node.Joined(loopCtx, joined.PeerID, joined.Peers, iceOf(joined.ICEServers))
	p.wg.Go(func() {
		for {
			f, err := client.Recv(loopCtx)
			if err != nil {
				return
			}
			switch f.Type {
			case signal.TypeJoined:
				node.Joined(loopCtx, f.PeerID, f.Peers, iceOf(f.ICEServers))
			case signal.TypePeerJoined:
				node.PeerJoined(f.PeerID)
			case signal.TypePeerLeft:
				node.PeerLeft(f.PeerID)
			case signal.TypeReconnecting:
				tally.add("reconnecting")
			case signal.TypeError:
				tally.add(f.Code)
			default:
				if f.From != "" {
					if err := node.HandleSignal(loopCtx, f.From, f.Type, f.Data); err != nil && !errors.Is(err, peer.ErrIgnoredSignal) && !errors.Is(err, peer.ErrClosed) {
						tally.add("refused")
					}
				}
			}
		}
	})
	return p, nil
}

// Close leaves the room.
func (p *benchPeer) Close() error {
	p.cancel()
	errNode := p.node.Close()
	errClient := p.client.Close()
	p.wg.Wait()
	return errors.Join(errNode, errClient)
}

func iceOf(servers []signal.ICEServer) []peer.ICEServer {
	out := make([]peer.ICEServer, 0, len(servers))
	for _, s := range servers {
		out = append(out, peer.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// signaler adapts signal.Client to peer.Signaler.
type signaler struct{ c *signal.Client }

// Signal sends one directed signaling frame.
func (s signaler) Signal(ctx context.Context, to, typ string, data json.RawMessage) error {
	return s.c.Send(ctx, signal.Frame{Type: typ, To: to, Data: data})
}
