package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// sendOptions are the flags of `vtpeer send`.
type sendOptions struct {
	room    string
	paths   []string
	to      string
	peer    string
	net     netFlags
	asJSON  bool
	timeout time.Duration
	account *accountFlags
}

// newSendCmd builds `vtpeer send PATH...`.
func newSendCmd(g *globals) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send PATH... --room R [--to 0x… | --peer ID]",
		Short: "Send files and directories to one peer in a room, sealed end to end",
		Long: `Offer the files and directories at PATH... (a directory goes with everything
beneath it, under its own name; symbolic links inside it are skipped) to one
peer in room R: the one proving the --to address, or the --peer ID, or else the
only peer connected (with several, name one). The receiver runs
` + "`vtpeer join R --receive-dir DIR`" + ` and accepts the offer (or --accept-files).

Files travel sealed, in chunks, on a DataChannel of their own; each is written
to NAME.part, checked against its SHA-256 and renamed into place. If the link
drops, or either side restarts, run the same send again (or keep this one
running): only the chunks the receiver does not hold verified travel.

Exits 0 once the receiver confirmed every file in place, 1 with the reason if
it refused them or the transfer failed.`,
		Args: cobra.MinimumNArgs(1),
	}
	f := cmd.Flags()
	f.StringVar(&o.room, "room", "", "room to join")
	f.StringVar(&o.to, "to", "", "send to the peer proving this account address")
	f.StringVar(&o.peer, "peer", "", "send to this peer ID")
	f.BoolVar(&o.asJSON, "json", false, "print every event as one JSON object per line on stdout (logs stay on stderr)")
	f.DurationVar(&o.timeout, "timeout", 0, "give up (exit 1) if the files are not all in place by then; 0 = no limit")
	o.net.bind(cmd, g)
	o.account = bindAccountFlags(cmd, g, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.paths = args
		err := runSend(cmd.Context(), cmd, g, o)
		if err != nil && o.asJSON {
			var te *app.TransferError
			var ee *exitError
			switch {
			case errors.As(err, &te):
				newOutput(cmd.OutOrStdout(), true).event(transferErrorEvent(te), "")
			case errors.As(err, &ee) && ee.code == exitUsage:
				newOutput(cmd.OutOrStdout(), true).event(evError{Type: "error", Code: "usage", Error: err.Error()}, "")
			default:
				code := "failed"
				if errors.Is(err, errTimedOut) {
					code = "timeout"
				}
				newOutput(cmd.OutOrStdout(), true).event(evError{Type: "error", Code: code, Error: err.Error()}, "")
			}
		}
		return err
	}
	return cmd
}

// check validates the flags and the paths (before anything is dialed).
func (o *sendOptions) check() error {
	if o.room == "" {
		return usageError(errors.New("--room is required"))
	}
	if err := checkRoom(o.room); err != nil {
		return err
	}
	if o.to != "" && o.peer != "" {
		return usageError(errors.New("give --to or --peer, not both"))
	}
	if o.to != "" {
		a, err := tips.ParseAddress(o.to)
		if err != nil {
			return usageError(fmt.Errorf("--to %q is not an address", o.to))
		}
		o.to = a.Hex()
	}
	if o.timeout < 0 {
		return usageError(errors.New("--timeout must not be negative"))
	}
	for _, p := range o.paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if !st.Mode().IsRegular() && !st.IsDir() {
			return fmt.Errorf("send: %s is neither a regular file nor a directory", p)
		}
	}
	return nil
}

// runSend joins the room, picks the recipient and sends the files.
func runSend(ctx context.Context, cmd *cobra.Command, g *globals, o *sendOptions) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	ice, err := o.net.iceServers()
	if err != nil {
		return err
	}
	out := newOutput(cmd.OutOrStdout(), o.asJSON)
	signer, err := pickAccount(cmd, o.account, o.asJSON, out, log)
	if err != nil {
		return err
	}
	var acct tips.Signer // nil, not a nil *KeySigner, when anonymous
	if signer != nil {
		defer signer.Close()
		acct = signer
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.timeout, errTimedOut)
		defer cancel()
	}
	cfg := roomConfig{server: o.net.server, room: o.room, token: o.net.token, iceServers: ice, signer: acct,
		loopbackOnly: o.net.loopback, via: o.net.via, p2pTimeout: o.net.p2p, turnWait: o.net.turnWait, connect: o.net.connect, logger: log,
		status: func(s statusUpdate) {
			if s.kind == "error" {
				out.event(evError{Type: "error", Code: s.code, Error: s.err.Error()}, fmt.Sprintf("! server: %v (%s)", s.err, s.code))
			}
		}}
	ms, err := startRoom(ctx, cfg)
	if err != nil {
		return err
	}
	defer ms.Close()
	// A room that only sends: offers of files and tips to us are refused.
	room, err := app.New(&app.Options{Room: o.room, Node: ms.node, Signer: acct, Present: ms.peers, Logger: log})
	if err != nil {
		return err
	}
	room.Start()
	defer room.Close()
	out.text("* joined room %q as %s; %d peer(s) here", o.room, shortID(ms.self), len(ms.peers))

	target, err := awaitPeer(ctx, room, ms.peers, o.to, o.peer, false, app.ChooseFileTarget, "the recipient of the files")
	if err != nil {
		return err
	}
	var addr string
	for _, p := range room.Peers() {
		if p.ID == target {
			addr = p.Address
			who := shortID(target)
			if addr != "" {
				who += " (" + addr + ")"
			}
			out.event(evPeerConnected{Type: "peer-connected", Peer: p.ID, SAS: p.SAS, Address: p.Address, Path: p.Path, Candidate: p.CandidateType},
				fmt.Sprintf("* sending to %s via %s — SAS %s: compare it with your peer", who, p.Path, p.SAS))
			if p.Path == peer.PathServer {
				out.text("* %s is reachable only through the server relay: the files go that way, at the relay's budget", shortID(target))
			}
		}
	}

	view := newTransferView(out, g.stdout, func(id string) string { return nameIn(room, id) })
	stop, rendered := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(rendered)
		render := func(ev app.Event) {
			if !view.handle(ev) {
				showSendPeerEvent(out, view, ev)
			}
		}
		for {
			select {
			case ev, ok := <-room.Events():
				if !ok {
					return
				}
				render(ev)
			case <-stop:
				for { // what SendFiles emitted before it returned
					select {
					case ev, ok := <-room.Events():
						if !ok {
							return
						}
						render(ev)
					default:
						return
					}
				}
			}
		}
	}()
	err = room.SendFiles(ctx, o.paths, filePicker(target, addr, o.to, o.peer))
	close(stop)
	<-rendered
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	room.Linger(fctx) // our acknowledgement of the receiver's result
	fcancel()
	return sendErr(ctx, o, err)
}

// filePicker is the recipient of SendFiles: the chosen peer while it is connected; once it
// is gone (a dropped link, or a restarted receiver with a new peer id), the peer proving the
// same account, or --peer, or the only connected peer.
func filePicker(target, addr, to, peerFlag string) app.PickPeer {
	return func(ps []peer.PeerInfo) (string, error) {
		for _, p := range ps {
			if p.ID == target && p.Connected {
				return target, nil
			}
		}
		switch {
		case to != "":
			return app.ChooseFileTarget(ps, to, "")
		case peerFlag != "":
			return app.ChooseFileTarget(ps, "", peerFlag)
		case addr != "":
			return app.ChooseFileTarget(ps, addr, "")
		}
		return app.ChooseFileTarget(ps, "", "")
	}
}

// sendErr words the outcome of SendFiles for the exit.
func sendErr(ctx context.Context, o *sendOptions, err error) error {
	var te *app.TransferError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return &transferFailed{line: "send: " + transferErrorLine(shortID(te.Peer), te), te: te}
	case errors.Is(context.Cause(ctx), errTimedOut):
		return fmt.Errorf("send: %w after %s before every file was in place (the receiver keeps what arrived: send again to resume)", errTimedOut, o.timeout)
	case ctx.Err() != nil:
		return errors.New("send: interrupted (the receiver keeps what arrived: send the same files again to resume)")
	}
	return err
}

// transferFailed is a failed transfer worded for the user; errors.As finds the
// *app.TransferError (its code goes into the --json transfer-error event).
type transferFailed struct {
	line string
	te   *app.TransferError
}

func (e *transferFailed) Error() string { return e.line }
func (e *transferFailed) Unwrap() error { return e.te }

// showSendPeerEvent shows the peer news a sender needs.
func showSendPeerEvent(out *output, view *transferView, ev app.Event) {
	switch e := ev.(type) {
	case peer.PeerConnected:
		view.pause()
		out.event(evPeerConnected{Type: "peer-connected", Peer: e.Peer, SAS: e.SAS, Address: e.Address, Path: e.Path, Candidate: e.CandidateType},
			fmt.Sprintf("* connected to %s via %s — SAS %s", shortID(e.Peer), e.Path, e.SAS))
	case peer.PeerLeft:
		view.pause()
		out.event(evPeerLeft{Type: "peer-left", Peer: e.Peer, Reason: e.Reason}, fmt.Sprintf("* %s is gone (%s); the transfer resumes when it is back", shortID(e.Peer), e.Reason))
	case peer.PathChanged:
		out.event(evPathChanged{Type: "path-changed", Peer: e.Peer, From: e.From, To: e.To}, fmt.Sprintf("* %s now over %s (was %s)", shortID(e.Peer), e.To, e.From))
	case peer.Error:
		view.pause()
		out.event(evError{Type: "error", Peer: e.Peer, Code: e.Code, Error: e.Err.Error()}, fmt.Sprintf("! %s: %v", shortID(e.Peer), e.Err))
	}
}

// nameIn is how a peer of room is shown: its proven address, else its id.
func nameIn(room *app.Room, id string) string {
	for _, p := range room.Peers() {
		if p.ID == id {
			return peerName(p)
		}
	}
	return shortID(id)
}
