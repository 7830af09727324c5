package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/verytippers/vtpeer/pkg/app"
	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// joinLoop is the running `vtpeer join`: it renders the app.Room's events
// and turns stdin lines and /commands into calls on it.
type joinLoop struct {
	g      *globals
	o      *joinOptions
	out    *output
	signer tips.Signer // nil: anonymous
	log    *slog.Logger
	room   *app.Room

	received int           // messages and tips received (for --exit-after)
	unsent   []string      // stdin lines typed before any peer was connected
	lastErr  string        // the last peer error, to explain a timeout
	sent     bool          // --send messages were queued
	acked    chan error    // --send: all acknowledged (or failed)
	linger   time.Duration // how long to wait for our last receipts to be acknowledged

	files joinFiles // offers waiting for an answer, /send transfers, their rendering
}

func newJoinLoop(g *globals, o *joinOptions, out *output, log *slog.Logger) *joinLoop {
	return &joinLoop{g: g, o: o, out: out, log: log, linger: 2 * time.Second}
}

func (j *joinLoop) run(ctx context.Context) error {
	defer j.reportUndelivered()
	j.files.init(ctx, j)
	defer j.files.cancel()
	lines := readLines(j.g)
	for {
		select {
		case r := <-j.files.sent:
			j.sendDone(r)
		case ev, ok := <-j.room.Events():
			if !ok {
				return errors.New("peer node stopped")
			}
			switch done, err := j.handleEvent(ctx, ev); {
			case done == doneFinish:
				return j.finish(ctx)
			case done == doneNow:
				return err
			}
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdin ended
				if stdinIsTerminal(j.g) {
					j.log.Debug("join ends: end of terminal input")
					return nil
				}
				continue
			}
			if line.tooLong > 0 {
				err := fmt.Sprintf("input line of %d bytes is longer than %d: not sent", line.tooLong, maxInputLine)
				j.out.event(evError{Type: "error", Code: "line_too_long", Error: err}, "! "+err)
				continue
			}
			if quit := j.handleLine(ctx, line.text); quit {
				j.log.Debug("join ends: /quit")
				return nil
			}
		case err := <-j.acked:
			if err != nil {
				return fmt.Errorf("waiting for acknowledgements: %w", err)
			}
			j.out.text("* every connected peer acknowledged %d message(s)", len(j.o.send))
			return nil
		case <-ctx.Done():
			j.log.Debug("join ends", "cause", context.Cause(ctx))
			return j.ctxErr(ctx)
		}
	}
}

// What an event asks of the loop.
const (
	doneNot    = iota
	doneFinish // leave after our last messages reached the peers
	doneNow    // leave at once
)

// ctxErr explains why ctx ended.
func (j *joinLoop) ctxErr(ctx context.Context) error {
	if n := j.room.Waiting(); n > 0 {
		// --to: not delivered yet, but safe on disk — a success for a script, which must
		// not send them again.
		j.out.event(evQueued{Type: "queued", To: j.o.to, Count: n},
			fmt.Sprintf("* %d message(s) for %s not delivered yet: they stay in your outbox for the next meeting", n, j.o.to))
		return nil
	}
	if !errors.Is(context.Cause(ctx), errTimedOut) && len(j.o.send) > 0 {
		return errors.New("interrupted before every peer acknowledged --send")
	}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		what := "the session"
		switch {
		case len(j.o.send) > 0 && !j.sent:
			what = "a peer to connect (--send)"
		case len(j.o.send) > 0:
			what = "the peers to acknowledge --send"
		case j.o.exitAfter > 0:
			what = fmt.Sprintf("%d message(s) (--exit-after; %d received)", j.o.exitAfter, j.received)
		}
		err := fmt.Errorf("%w after %s waiting for %s", errTimedOut, j.o.timeout, what)
		if j.lastErr != "" {
			err = fmt.Errorf("%w (last peer error: %s)", err, j.lastErr)
		}
		return err
	}
	return nil // interrupted: leave quietly
}

// finish lets our last messages (receipts) reach the peers before leaving.
func (j *joinLoop) finish(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, j.linger)
	defer cancel()
	j.room.Linger(wctx)
	return nil
}

// showStatus prints signaling news.
func (j *joinLoop) showStatus(s statusUpdate) {
	switch s.kind {
	case "joined":
		line := fmt.Sprintf("* joined room %q as %s; %d peer(s) here, connecting", j.o.room, shortID(s.peerID), len(s.peers))
		if len(s.peers) == 0 {
			line = fmt.Sprintf("* joined room %q as %s; nobody else is here yet, waiting", j.o.room, shortID(s.peerID))
		}
		j.out.event(evJoined{Type: "joined", Room: j.o.room, PeerID: s.peerID, Peers: nonNil(s.peers)}, line)
	case "rejoined":
		j.out.event(evStatus{Type: "rejoined"}, "* back on the signaling server")
	case "reconnecting":
		j.out.event(evStatus{Type: "reconnecting", Error: s.err.Error()}, "* signaling server lost, reconnecting (open chats go on)")
	case "dial-failed":
		j.out.event(evStatus{Type: "reconnecting", Error: s.err.Error(), Attempt: s.attempt},
			fmt.Sprintf("* signaling server not reachable (attempt %d): %v; retrying in %s", s.attempt, s.err, s.retryIn.Round(time.Millisecond)))
	case "error":
		j.out.event(evError{Type: "error", Code: s.code, Error: s.err.Error()}, fmt.Sprintf("! server: %v (%s)", s.err, s.code))
	case "refused":
		j.out.event(evError{Type: "error", Peer: s.peerID, Code: s.code, Error: s.err.Error()},
			fmt.Sprintf("! %s sent a signaling frame that cannot be used: %v", shortID(s.peerID), s.err))
	}
}

// handleEvent shows one Room event and says whether join is done.
func (j *joinLoop) handleEvent(ctx context.Context, ev app.Event) (int, error) {
	if j.handleTransfer(ev) {
		return doneNot, nil
	}
	j.files.view.pause()
	switch e := ev.(type) {
	case peer.PeerConnected:
		j.showConnected(e)
		if j.o.to == "" {
			j.startSend(ctx)
		}
		for _, line := range j.unsent { // typed before anyone was here: to the first peer(s) to connect
			if err := j.room.Chat(ctx, e.Peer, line); err != nil {
				j.out.event(evError{Type: "error", Peer: e.Peer, Code: "send", Error: err.Error()}, "! "+err.Error())
			}
		}
		j.unsent = nil
	case peer.Error:
		msg := e.Err.Error()
		j.lastErr = msg
		j.out.event(evError{Type: "error", Peer: e.Peer, Code: e.Code, Error: msg}, fmt.Sprintf("! %s: %s", shortID(e.Peer), msg))
	case app.Chat, app.Tip:
		j.showReceived(e)
		j.received++
		if j.o.exitAfter > 0 && j.received >= j.o.exitAfter {
			return doneFinish, nil
		}
	case app.Receipt:
		j.out.event(receiptEvent(e), receiptLine(j.nameOf(e.Peer), receiptEvent(e)))
	case app.Delivered:
		j.out.event(evDelivered{Type: "delivered", To: e.To, Count: e.Count},
			fmt.Sprintf("* %d queued message(s) delivered to %s", e.Count, e.To))
		if e.Done {
			return doneFinish, nil
		}
	case app.Deposited:
		if e.Mailed > 0 {
			j.out.event(evDeposited{Type: "deposited", To: e.To, Count: e.Count},
				fmt.Sprintf("* %d message(s) for %s left in the server's mailbox (sealed to their key)", e.Count, e.To))
		}
		return doneNow, nil
	case app.DepositSkipped:
		if e.NoKey {
			j.out.text("* %s is not here and never proved a mail key to you: the messages wait in the outbox for a direct meeting", e.To)
		} else {
			j.out.text("* %d message(s) for %s are older than %s: the recipient would refuse them as mail, so they wait in the outbox for a direct meeting",
				e.Stale, e.To, seal.MailMaxAge)
		}
	case app.Problem:
		j.showProblem(e)
	case app.Other:
		j.log.Debug("ignoring a message of unknown kind", "kind", e.Kind, "peer", e.Peer)
	default:
		j.showPeerEvent(ev)
	}
	return doneNot, nil
}

// showConnected announces a sealed session.
func (j *joinLoop) showConnected(e peer.PeerConnected) {
	via := fmt.Sprintf("%s candidate (%s)", e.CandidateType, e.Path)
	if e.Path == peer.PathServer {
		via = "the server relay (no direct path; still sealed end to end)"
	}
	line := fmt.Sprintf("* connected to %s via %s — SAS %s: compare it with your peer", shortID(e.Peer), via, e.SAS)
	j.out.event(evPeerConnected{Type: "peer-connected", Peer: e.Peer, SAS: e.SAS, Address: e.Address, Path: e.Path, Candidate: e.CandidateType}, line)
	if e.Address != "" {
		j.out.text("* %s proved account %s", shortID(e.Peer), e.Address)
	}
}

// showReceived shows a chat message or a tip (live, queued or mailed).
func (j *joinLoop) showReceived(ev app.Event) {
	switch e := ev.(type) {
	case app.Chat:
		if e.Mail {
			j.out.event(evMessage{Type: "message", Peer: e.Peer, From: e.From, Text: e.Text, SentAt: e.SentAt.UTC().Format(time.RFC3339)},
				fmt.Sprintf("<%s> (mail, sent %s): %s", shortID(e.From), e.SentAt.Local().Format("Jan 2 15:04"), e.Text))
			return
		}
		j.out.event(evMessage{Type: "message", Peer: e.Peer, Text: e.Text}, fmt.Sprintf("<%s>: %s", j.nameOf(e.Peer), e.Text))
	case app.Tip:
		ev := tipEventOf(e.Peer, e.Verdict)
		switch {
		case e.Peer == "mailbox":
			j.out.event(evTip{Type: "tip", tipEvent: ev}, tipLine(shortID(e.From), ev)+" (from the mailbox)")
		case e.Queued:
			j.out.event(evTip{Type: "tip", tipEvent: ev}, tipLine(j.nameOf(e.Peer), ev)+" (queued by the tipper)")
		default:
			j.out.event(evTip{Type: "tip", tipEvent: ev}, tipLine(j.nameOf(e.Peer), ev))
		}
	}
}

// showProblem reports something that arrived and could not be used.
func (j *joinLoop) showProblem(e app.Problem) {
	msg := e.Err.Error()
	var line string
	switch e.Code {
	case app.CodeBadMessage:
		msg, line = "undecodable chat message", "! undecodable chat message from "+j.nameOf(e.Peer)
	case app.CodeBadMail:
		line = "! mail that does not open: " + msg
	case app.CodeMailTooOld, app.CodeMailFromFuture:
		line = fmt.Sprintf("! mail from %s refused: %v", e.From, e.Err)
	case app.CodeMail:
		line = "! mail: " + msg
	default:
		line = "! " + msg
	}
	j.out.event(evError{Type: "error", Peer: e.Peer, Code: e.Code, Error: msg}, line)
}

// showPeerEvent shows the Node's news about a peer.
func (j *joinLoop) showPeerEvent(ev app.Event) {
	switch e := ev.(type) {
	case peer.PathChanged:
		j.out.event(evPathChanged{Type: "path-changed", Peer: e.Peer, From: e.From, To: e.To},
			fmt.Sprintf("* %s now over %s (was %s); SAS %s", shortID(e.Peer), e.To, e.From, e.SAS))
	case peer.PeerLeft:
		line := fmt.Sprintf("* %s left the room", shortID(e.Peer))
		if e.Reason != "left" {
			line = fmt.Sprintf("* %s is gone (%s)", shortID(e.Peer), e.Reason)
		}
		j.out.event(evPeerLeft{Type: "peer-left", Peer: e.Peer, Reason: e.Reason}, line)
	case peer.SASChanged:
		line := fmt.Sprintf("! %s: the SAS changed from %s to %s — a new session: compare the new SAS with your peer again", shortID(e.Peer), e.Old, e.New)
		j.out.event(evSASChanged{Type: "sas-changed", Peer: e.Peer, Old: e.Old, New: e.New, Address: e.Address}, line)
	case peer.HandshakeFailed:
		line := fmt.Sprintf("! %s: handshake %d did not finish (%s)", shortID(e.Peer), e.Count, e.Reason)
		if e.Capped {
			line += fmt.Sprintf("; stopped after %d: possibly someone in the middle; type /retry %s to try again", e.Count, e.Peer)
		}
		j.out.event(evHandshakeFailed{Type: "handshake-failed", Peer: e.Peer, Count: e.Count, Reason: e.Reason, Capped: e.Capped}, line)
	case peer.Undelivered:
		if e.Reason == peer.UndeliveredSASChanged {
			j.out.event(evUndelivered{Type: "undelivered", Peer: e.Peer, Count: e.Count, When: "sas-changed", Reason: e.Reason, Dropped: e.Dropped},
				fmt.Sprintf("! %d message(s) to %s were never acknowledged and are NOT sent to its new session: compare the new SAS with your peer, then send them again", e.Count, shortID(e.Peer)))
			break
		}
		j.out.event(evUndelivered{Type: "undelivered", Peer: e.Peer, Count: e.Count, When: "left"},
			fmt.Sprintf("! %d message(s) to %s not acknowledged: they may not have arrived", e.Count, shortID(e.Peer)))
	}
}

// startSend sends the --send messages to every connected peer, once.
func (j *joinLoop) startSend(ctx context.Context) {
	if len(j.o.send) == 0 || j.sent {
		return
	}
	j.sent = true
	var targets []string
	for _, p := range j.room.Peers() {
		if p.Connected {
			targets = append(targets, p.ID)
		}
	}
	j.acked = make(chan error, 1)
	for _, id := range targets {
		for _, text := range j.o.send {
			if err := j.room.Chat(ctx, id, text); err != nil {
				j.acked <- err
				return
			}
		}
	}
	go func() {
		for _, id := range targets {
			if err := j.room.WaitAcked(ctx, id); err != nil {
				j.acked <- err
				return
			}
		}
		j.acked <- nil
	}()
}

// handleLine runs one stdin line; it reports whether to quit.
func (j *joinLoop) handleLine(ctx context.Context, line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return false
	}
	j.files.view.pause()
	if strings.HasPrefix(line, "/") {
		return j.command(ctx, line)
	}
	if j.answerLine(line) {
		return false
	}
	connected := 0
	for _, p := range j.room.Peers() {
		if !p.Connected {
			continue
		}
		connected++
		if err := j.room.Chat(ctx, p.ID, line); err != nil {
			j.out.event(evError{Type: "error", Peer: p.ID, Code: "send", Error: err.Error()}, "! "+err.Error())
		}
	}
	if connected == 0 {
		if len(j.unsent) >= maxUnsent {
			j.out.event(evError{Type: "error", Code: "not_sent", Error: "nobody is connected and too many lines wait already: line dropped"}, "! nobody is connected; line dropped")
			return false
		}
		j.unsent = append(j.unsent, line)
		j.out.text("* nobody is connected yet; the message goes out when a peer connects")
	}
	return false
}

func (j *joinLoop) command(ctx context.Context, line string) bool {
	f := strings.Fields(line)
	switch f[0] {
	case "/quit":
		return true
	case "/peers":
		ps := j.room.Peers()
		if len(ps) == 0 {
			j.out.text("* no peers")
		}
		for _, p := range ps {
			state := "connecting"
			if p.Connected {
				state = "connected via " + p.Path
			}
			j.out.text("* %s %s SAS %s account %s unacked %d", p.ID, state, orDash(p.SAS), orDash(p.Address), p.Unacked)
		}
	case "/sas":
		for _, p := range j.room.Peers() {
			if p.Connected {
				j.out.text("* %s SAS %s", peerName(p), p.SAS)
			}
		}
	case "/tip":
		if err := j.chatTip(ctx, f[1:]); err != nil {
			j.out.text("! /tip: %v", err)
		}
	case "/retry":
		j.retry(f[1:])
	case "/send":
		// Paths as a shell takes them: quotes or backslashes keep spaces inside a name.
		args, err := shellwords.Parse(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "/send")))
		if err != nil {
			j.out.text("! /send: %v (quote a path with spaces: /send \"my file.txt\")", err)
			break
		}
		j.sendFiles(ctx, args)
	case "/accept", "/refuse":
		j.answer(f[0] == "/accept", f[1:])
	default:
		j.out.text("! unknown command %s (try /peers, /sas, /tip 0x… AMOUNT [cid], /send PATH…, /accept [ID], /refuse [ID], /retry [peer], /quit)", f[0])
	}
	return false
}

// chatTip signs and sends a tip from the chat: /tip 0x… 5 [cid].
func (j *joinLoop) chatTip(ctx context.Context, args []string) error {
	if j.signer == nil {
		return errors.New("needs an account: start join with --account 0x…, or keep exactly one account in the keystore (`vtpeer account new` creates one)")
	}
	if len(args) < 2 || len(args) > 3 {
		return errors.New("usage: /tip 0xADDRESS AMOUNT_VERY [cid]")
	}
	to, err := tips.ParseAddress(args[0])
	if err != nil {
		return err
	}
	amount, err := tips.ParseAmount(args[1])
	if err != nil {
		return err
	}
	meta := tips.NewMeta(j.signer.Address(), to, amount, "", time.Now())
	if len(args) == 3 {
		meta.Cid = args[2]
	}
	sm, err := tips.Sign(j.signer, meta)
	if err != nil {
		return err
	}
	target, err := app.ChooseTipTarget(j.room.Peers(), to.Hex(), "")
	if err != nil {
		return err
	}
	if err := j.room.SendTip(ctx, target, sm); err != nil {
		return err
	}
	j.out.text("* tip of %s VERY to %s sent to %s; waiting for the receipt", tips.FormatAmount(amount), to.Hex(), shortID(target))
	return nil
}

// maxUnsent bounds the stdin lines kept while nobody is connected.
const maxUnsent = 1000

func (j *joinLoop) nameOf(id string) string {
	for _, p := range j.room.Peers() {
		if p.ID == id {
			return peerName(p)
		}
	}
	return shortID(id)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// retry lets the Node handshake again with the named peers (all known peers without a live
// session when none is named) after it stopped: too many unfinished handshakes, or a refused
// session (continuity_failed, possible_mitm ...). The next session may show a new SAS.
func (j *joinLoop) retry(ids []string) {
	if len(ids) == 0 {
		for _, p := range j.room.Peers() {
			if !p.Connected {
				ids = append(ids, p.ID)
			}
		}
	}
	if len(ids) == 0 {
		j.out.text("* every known peer is connected")
	}
	for _, id := range ids {
		if err := j.room.Retry(id); err != nil {
			j.out.text("! /retry %s: %v", id, err)
			continue
		}
		j.out.text("* trying %s again; compare the SAS if it changes", shortID(id))
	}
}

// reportUndelivered tells, at exit, which peers still have messages they never acknowledged.
func (j *joinLoop) reportUndelivered() {
	for _, p := range j.room.Peers() {
		if p.Unacked > 0 {
			j.out.event(evUndelivered{Type: "undelivered", Peer: p.ID, Count: p.Unacked, When: "exit"},
				fmt.Sprintf("! leaving with %d message(s) to %s not acknowledged: they may not have arrived", p.Unacked, shortID(p.ID)))
		}
	}
}
