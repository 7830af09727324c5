package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// answerWait bounds the wait for a FileAnswer once the offer went out; a receiver that asks
// its user waits longer (the user may be away): the sender re-offers after it.
const answerWait = 10 * time.Minute

// resultGrace is how long the sender waits for the result once the transfer's channel closed
// under it with the session still up, before it offers again.
const resultGrace = 15 * time.Second

// outgoing routes the receiver's answers and results to SendFiles.
type outgoing struct {
	answers chan FileAnswer
	results chan FileResult
}

// PickPeer chooses the peer a transfer goes to among the Node's peers (see ChooseTipTarget).
type PickPeer func(ps []peer.PeerInfo) (string, error)

// SendFiles offers the files and directories at paths to the peer pick chooses, and sends what
// the receiver does not hold yet: on a DataChannel of its own on a direct or TURN path, on the
// session (with a TransferWarning) over the server relay. When the transport drops, or either
// side restarts and the same files are sent again, the receiver reports the chunks it holds
// verified and only the others travel. It returns nil once the receiver confirmed every file in
// place, or a *TransferError. Progress goes to Events.
func (r *Room) SendFiles(ctx context.Context, paths []string, pick PickPeer) error {
	files, srcs, err := BuildManifest(paths)
	if err != nil {
		return err
	}
	var sender string
	if r.o.Signer != nil {
		sender = r.o.Signer.Address().Hex()
	}
	offer := FileOffer{ID: TransferID(sender, files), Files: files}
	out := &outgoing{answers: make(chan FileAnswer, 4), results: make(chan FileResult, 4)}
	r.mu.Lock()
	if r.out[offer.ID] != nil {
		r.mu.Unlock()
		return fmt.Errorf("send files: transfer %s is already being sent", short(offer.ID))
	}
	r.out[offer.ID] = out
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.out, offer.ID)
		r.mu.Unlock()
	}()
	s := &sending{r: r, out: out, offer: offer, srcs: srcs, began: time.Now()}
	r.emit(TransferOffer{ID: offer.ID, From: sender, Files: files, Total: offer.Total()})
	for {
		peerID, err := r.waitPeer(ctx, pick)
		if err != nil {
			return err
		}
		s.peer = peerID
		done, err := s.attempt(ctx)
		if done || err != nil {
			return err
		}
		r.log.Info("transfer interrupted; offering again", "id", short(offer.ID))
	}
}

// sending is one SendFiles.
type sending struct {
	r      *Room
	out    *outgoing
	offer  FileOffer
	srcs   []string
	peer   string
	began  time.Time
	moved  int64
	last   time.Time
	warned bool
}

// attempt offers, sends what is missing and waits for the result. done false with a nil error:
// the transport went away, try again.
func (s *sending) attempt(ctx context.Context) (bool, error) {
	r, o := s.r, s.offer
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gone := r.watchPeer(ctx, s.peer)
	body, err := json.Marshal(o)
	if err != nil {
		return true, err
	}
	if err := r.o.Node.Send(ctx, s.peer, KindFileOffer, body); err != nil {
		return s.interrupted(ctx, err)
	}
	// finish ends the transfer on the receiver's result.
	finish := func(res FileResult) (bool, error) {
		if !res.OK {
			return true, &TransferError{Peer: s.peer, ID: o.ID, Code: res.Code, Err: errors.New(res.Reason)}
		}
		for i, f := range o.Files {
			r.emit(TransferDone{Peer: s.peer, ID: o.ID, Path: f.Path, Size: f.Size, SHA256: f.SHA256, Last: i == len(o.Files)-1})
		}
		return true, nil
	}
	var ans FileAnswer
	t := time.NewTimer(answerWait)
	defer t.Stop()
	for ans.ID != o.ID {
		select {
		case ans = <-s.out.answers:
		case res := <-s.out.results:
			// Also an OK one: the result of an earlier attempt whose transport looked gone
			// just as the receiver confirmed, or the receiver's answer to this re-offer of a
			// transfer it already placed in full (placedAgain).
			return finish(res)
		case <-gone:
			return false, nil
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
	if !ans.Accept {
		code := ans.Code
		if code == "" {
			code = XferRefused
		}
		return true, &TransferError{Peer: s.peer, ID: o.ID, Code: code, Err: errors.New(orDash(ans.Reason))}
	}
	// The transfer's channel stays open until the result: closing a DataChannel right after the
	// last Send may lose what is still in flight in some stacks, and a receiver that takes the
	// channel late still finds it open.
	ch, err := s.push(ctx, ans.Have)
	if ch != nil {
		defer ch.Close()
	}
	if err != nil {
		return s.interrupted(ctx, err)
	}
	var chDone <-chan struct{}
	if ch != nil {
		chDone = ch.Done()
	}
	var grace <-chan time.Time
	for {
		select {
		case res := <-s.out.results:
			return finish(res)
		case <-chDone:
			// The channel went (its transport changed) while the session goes on: the result
			// may still come on the session; if not, offer again and the receiver answers with
			// what it holds (or with the result, when it has everything in place).
			chDone = nil
			g := time.NewTimer(resultGrace)
			defer g.Stop()
			grace = g.C
		case <-grace:
			r.log.Info("transfer: its channel closed and no result came; offering again", "id", short(o.ID))
			return false, nil
		case <-gone:
			select { // a result that came with the transport's end still counts
			case res := <-s.out.results:
				return finish(res)
			default:
			}
			return false, nil
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}

// interrupted: a send failed; the transfer goes on when the peer is back, unless ctx ended or
// the error is ours.
func (s *sending) interrupted(ctx context.Context, err error) (bool, error) {
	var te *TransferError
	switch {
	case ctx.Err() != nil:
		return true, ctx.Err()
	case errors.As(err, &te):
		return true, err
	}
	s.r.log.Info("transfer: send failed", "id", short(s.offer.ID), "err", err)
	return false, nil
}

// push sends the chunks the receiver does not hold, on the transfer's own channel when the path
// has one (returned, still open: the caller closes it) or on the session.
func (s *sending) push(ctx context.Context, have [][3]uint64) (*peer.Channel, error) {
	r, o := s.r, s.offer
	held, heldBytes, err := heldRanges(o, have)
	if err != nil {
		return nil, &TransferError{Peer: s.peer, ID: o.ID, Code: XferBadManifest, Err: err}
	}
	idb, _ := hex.DecodeString(o.ID)
	st := FileStart{ID: o.ID}
	var ch *peer.Channel
	var cc *chunkCipher
	if c, err := r.o.Node.OpenChannel(ctx, s.peer, ChannelPrefix+o.ID); err == nil {
		ch = c
		st.Channel, st.Salt = c.Label(), make([]byte, 16)
		if _, err := rand.Read(st.Salt); err != nil {
			return ch, err
		}
		key, err := c.ExportKey(chunkKeyLabel, append(append([]byte(nil), idb...), st.Salt...), 32)
		if err != nil {
			return ch, err
		}
		cc, err = newChunkCipher(key)
		clear(key)
		if err != nil {
			return ch, err
		}
	} else if !errors.Is(err, peer.ErrNoChannel) {
		return ch, err
	} else if !s.warned {
		s.warned = true
		r.emit(TransferWarning{Peer: s.peer, ID: o.ID, Code: "relay",
			Reason: "no direct or TURN path to the peer: the files go through the signaling server's relay, at its budget (slow)"})
	}
	body, err := json.Marshal(st)
	if err != nil {
		return ch, err
	}
	if err := r.o.Node.Send(ctx, s.peer, KindFileStart, body); err != nil {
		return ch, err
	}
	bytes := heldBytes
	buf := make([]byte, ChunkSize)
	rec := make([]byte, 0, ChunkHeaderSize+ChunkSize+16)
	for i, f := range o.Files {
		if f.Chunks() == 0 {
			continue
		}
		fh, err := os.Open(s.srcs[i])
		if err != nil {
			return ch, &TransferError{Peer: s.peer, ID: o.ID, Path: f.Path, Code: XferSourceChanged, Err: err}
		}
		for c := range f.Chunks() {
			for len(held) > 0 && (held[0][0] < uint64(i) || (held[0][0] == uint64(i) && held[0][2] <= c)) {
				held = held[1:] // ranges behind us
			}
			if len(held) > 0 && held[0][0] == uint64(i) && held[0][1] <= c {
				continue
			}
			n := f.chunkLen(c)
			if _, err := fh.ReadAt(buf[:n], int64(c)*ChunkSize); err != nil {
				_ = fh.Close()
				return ch, &TransferError{Peer: s.peer, ID: o.ID, Path: f.Path, Code: XferSourceChanged, Err: fmt.Errorf("read: %w", err)}
			}
			rec = encodeChunk(rec, cc, idb, uint32(i), c, buf[:n])
			if ch != nil {
				err = ch.Send(ctx, rec)
			} else {
				err = r.o.Node.Send(ctx, s.peer, KindFileChunk, rec)
			}
			if err != nil {
				_ = fh.Close()
				return ch, err
			}
			bytes += int64(n)
			s.moved += int64(n)
			if now := time.Now(); now.Sub(s.last) >= progressEvery {
				s.last = now
				r.emit(progress(s.peer, o, false, f.Path, bytes, s.moved, s.began))
			}
		}
		_ = fh.Close()
	}
	r.emit(progress(s.peer, o, false, "", bytes, s.moved, s.began))
	return ch, nil
}

// heldRanges checks the receiver's Have against the manifest and returns it sorted by file and
// first chunk, with the bytes it covers (overlapping ranges counted once). It takes memory in
// proportion to the ranges, not to the chunks (a resumed file of any size is a few ranges).
func heldRanges(o FileOffer, have [][3]uint64) ([][3]uint64, int64, error) {
	held := slices.Clone(have)
	for _, h := range held {
		if h[0] >= uint64(len(o.Files)) || h[2] > o.Files[h[0]].Chunks() || h[1] > h[2] {
			return nil, 0, errors.New("the receiver's answer names chunks the files do not have")
		}
	}
	slices.SortFunc(held, func(a, b [3]uint64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	var bytes int64
	var end uint64 // of the ranges counted so far in this file
	for k, h := range held {
		if k == 0 || h[0] != held[k-1][0] {
			end = 0
		}
		first := max(h[1], end)
		if first < h[2] {
			f := o.Files[h[0]]
			bytes += min(int64(h[2])*ChunkSize, f.Size) - int64(first)*ChunkSize
			end = h[2]
		}
	}
	return held, bytes, nil
}

// BuildManifest lists the regular files at paths (a directory contributes the files beneath it
// under its own name; symbolic links and other special files inside a directory are skipped)
// with their sizes and SHA-256. It returns the entries and the files' paths on disk.
func BuildManifest(paths []string) ([]FileEntry, []string, error) {
	var files []FileEntry
	var srcs []string
	add := func(src, rel string) error {
		if err := CheckPath(rel); err != nil {
			return fmt.Errorf("send %s: %w", src, err)
		}
		fh, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		defer fh.Close()
		h := sha256.New()
		n, err := io.Copy(h, fh)
		if err != nil {
			return fmt.Errorf("send: hash %s: %w", src, err)
		}
		files = append(files, FileEntry{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		srcs = append(srcs, src)
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("send: %w", err)
		}
		base := filepath.Base(filepath.Clean(p))
		switch {
		case st.Mode().IsRegular():
			if err := add(p, base); err != nil {
				return nil, nil, err
			}
		case st.IsDir():
			err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				rel, err := filepath.Rel(p, q)
				if err != nil {
					return err
				}
				return add(q, base+"/"+filepath.ToSlash(rel))
			})
			if err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("send: %s is neither a file nor a directory", p)
		}
	}
	if len(files) == 0 {
		return nil, nil, errors.New("send: no files")
	}
	if len(files) > MaxFiles {
		return nil, nil, fmt.Errorf("send: %d files, at most %d in one transfer", len(files), MaxFiles)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if k := strings.ToLower(f.Path); seen[k] {
			return nil, nil, fmt.Errorf("send: %s named twice", f.Path)
		} else {
			seen[k] = true
		}
	}
	return files, srcs, nil
}

// handleFile dispatches a transfer message (run loop).
func (r *Room) handleFile(m peer.Message) {
	switch m.Kind {
	case KindFileOffer:
		r.onOffer(m)
	case KindFileAnswer:
		var a FileAnswer
		if err := decodeJSON(m.Body, &a, &a.ID); err != nil {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadMessage, Err: err})
			return
		}
		if out := r.outgoingFor(a.ID); out != nil {
			select {
			case out.answers <- a:
			default:
				r.log.Warn("file answer dropped: earlier ones are still unread", "peer", short(m.Peer), "id", short(a.ID))
			}
		}
	case KindFileResult, KindFileCancel:
		var res FileResult
		if err := decodeJSON(m.Body, &res, &res.ID); err != nil {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadMessage, Err: err})
			return
		}
		if m.Kind == KindFileCancel {
			res.OK = false
			if in := r.incomingFor(res.ID, m.Peer); in != nil {
				in.cancel()
			}
		}
		if out := r.outgoingFor(res.ID); out != nil {
			select {
			case out.results <- res:
			default:
				r.log.Warn("file result dropped: earlier ones are still unread", "peer", short(m.Peer), "id", short(res.ID), "ok", res.OK)
			}
		}
	case KindFileStart:
		var st FileStart
		if err := decodeJSON(m.Body, &st, &st.ID); err != nil {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadMessage, Err: err})
			return
		}
		if in := r.incomingFor(st.ID, m.Peer); in != nil {
			select {
			case in.starts <- st:
			default:
				r.log.Warn("file start dropped: an earlier one is still unread", "peer", short(m.Peer), "id", short(st.ID))
			}
		}
	case KindFileChunk:
		if len(m.Body) < ChunkHeaderSize {
			r.emit(Problem{Peer: m.Peer, Code: CodeBadMessage, Err: fmt.Errorf("%w: short record", ErrBadChunk)})
			return
		}
		if in := r.incomingFor(hex.EncodeToString(m.Body[2:2+IDSize]), m.Peer); in != nil {
			select {
			case in.relay <- m.Body:
			case <-in.ctx.Done():
			}
		}
	}
}

func (r *Room) outgoingFor(id string) *outgoing {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out[id]
}

func (r *Room) incomingFor(id, peerID string) *incoming {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.in[id]; in != nil && in.peer == peerID {
		return in
	}
	return nil
}

// sendJSON sends a transfer message; a failure is logged (the other side times out or resumes).
func (r *Room) sendJSON(peerID, kind string, v any) {
	body, err := json.Marshal(v)
	if err == nil {
		err = r.o.Node.Send(r.ctx, peerID, kind, body)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("sending a transfer message failed", "peer", peerID, "kind", kind, "err", err)
	}
}

// addressOf is the account peerID proved, "" if none.
func (r *Room) addressOf(peerID string) string {
	for _, p := range r.o.Node.Peers() {
		if p.ID == peerID {
			return p.Address
		}
	}
	return ""
}

// waitPeer waits until pick finds a peer among the connected ones.
func (r *Room) waitPeer(ctx context.Context, pick PickPeer) (string, error) {
	for {
		ch := r.peersChanged()
		if id, err := pick(r.o.Node.Peers()); err == nil {
			return id, nil
		} else if errors.Is(err, ErrAmbiguousTarget) {
			return "", err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", fmt.Errorf("send files: waiting for the recipient: %w", ctx.Err())
		case <-r.ctx.Done():
			return "", ErrClosedRoom
		}
	}
}

// peersChanged is closed at the next peer event (connected, left, failed).
func (r *Room) peersChanged() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peersCh
}

// notePeers wakes waitPeer and peerGone (run loop).
func (r *Room) notePeers() {
	r.mu.Lock()
	close(r.peersCh)
	r.peersCh = make(chan struct{})
	r.mu.Unlock()
}

// watchPeer is closed when peerID is no longer connected (checked at each peer event), or
// never; its goroutine ends with ctx.
func (r *Room) watchPeer(ctx context.Context, peerID string) <-chan struct{} {
	gone := make(chan struct{})
	r.wg.Go(func() {
		for {
			ch := r.peersChanged()
			connected := false
			for _, p := range r.o.Node.Peers() {
				connected = connected || (p.ID == peerID && p.Connected)
			}
			if !connected {
				close(gone)
				return
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return
			case <-r.ctx.Done():
				return
			}
		}
	})
	return gone
}
