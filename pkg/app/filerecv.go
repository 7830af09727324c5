package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// Receiver limits.
const (
	recordEvery   = 256 // chunks between two syncs of the .part files and the record (8 MiB)
	progressEvery = 250 * time.Millisecond
	startWait     = 60 * time.Second // an accepted offer waits this long for its FileStart
	placedMemory  = 10 * time.Minute // a transfer received in full is answered again this long
)

// placedXfer is a transfer received in full: an offer of it again from the same peer (the
// sender did not see the result: its transport changed at that moment) gets the OK result again.
type placedXfer struct {
	peer string
	at   time.Time
}

// placedChunk marks a file of the record as renamed into place.
const placedChunk = ^uint64(0)

// incoming is one offer being received, run by its own goroutine.
type incoming struct {
	r      *Room
	peer   string
	from   string
	offer  FileOffer
	idb    []byte
	ctx    context.Context
	cancel context.CancelFunc
	starts chan FileStart
	relay  chan []byte
	decide chan bool
	done   chan struct{}

	root     *os.Root
	files    []*rxFile
	pending  []recEntry
	flushing chan error // the background sync of the previous batch (nil: none running)
	bytes    int64      // in place (held or received)
	moved    int64      // received in this run
	began    time.Time
	last     time.Time
	left     int             // files not yet in place
	placed   map[uint32]bool // files an earlier run of this transfer put in place (the record says)
	refused  bool            // the offer was answered no
}

// rxFile is one file being received.
type rxFile struct {
	e        FileEntry
	f        *os.File
	have     chunkSet
	missing  uint64
	h        hash.Hash
	hashedTo int64
	dirty    bool
	placed   bool
}

// onOffer starts receiving an offer (from the run loop).
func (r *Room) onOffer(m peer.Message) {
	from := r.addressOf(m.Peer)
	o, err := DecodeFileOffer(from, m.Body)
	if err != nil {
		code := XferBadManifest
		if errors.Is(err, ErrUnsafePath) {
			code = XferUnsafePath
		}
		r.emit(&TransferError{Peer: m.Peer, ID: o.ID, Incoming: true, Code: code, Err: err})
		r.sendJSON(m.Peer, KindFileAnswer, FileAnswer{ID: o.ID, Code: code, Reason: err.Error()})
		return
	}
	if r.o.Files == nil {
		r.sendJSON(m.Peer, KindFileAnswer, FileAnswer{ID: o.ID, Code: XferNotReceiving, Reason: "this peer takes no files (no receive directory)"})
		r.emit(&TransferError{Peer: m.Peer, ID: o.ID, Incoming: true, Code: XferNotReceiving, Err: errors.New("an offer of files, and no receive directory")})
		return
	}
	if r.placedAgain(m.Peer, o) {
		r.log.Info("transfer offered again after it was received in full: the result goes again", "peer", short(m.Peer), "id", short(o.ID))
		r.sendJSON(m.Peer, KindFileResult, FileResult{ID: o.ID, OK: true})
		return
	}
	r.mu.Lock()
	old := r.in[o.ID]
	r.mu.Unlock()
	if old != nil { // the sender starts again (a new link, or it restarted): the old run stops
		old.cancel()
		<-old.done
	}
	ctx, cancel := context.WithCancel(r.ctx)
	idb, _ := hex.DecodeString(o.ID)
	in := &incoming{r: r, peer: m.Peer, from: from, offer: o, idb: idb, ctx: ctx, cancel: cancel,
		starts: make(chan FileStart, 1), relay: make(chan []byte, 16), decide: make(chan bool, 1), done: make(chan struct{})}
	r.mu.Lock()
	r.in[o.ID] = in
	r.mu.Unlock()
	r.wg.Go(in.run)
}

// placedAgain reports whether o, from peerID, was received in full within placedMemory and its
// files are still in the receive directory at their sizes.
func (r *Room) placedAgain(peerID string, o FileOffer) bool {
	r.mu.Lock()
	px, ok := r.placed[o.ID]
	r.mu.Unlock()
	if !ok || px.peer != peerID || time.Since(px.at) > placedMemory {
		return false
	}
	root, err := os.OpenRoot(r.o.Files.Dir)
	if err != nil {
		return false
	}
	defer root.Close()
	for _, f := range o.Files {
		st, err := root.Lstat(f.Path)
		if err != nil || !st.Mode().IsRegular() || st.Size() != f.Size {
			return false
		}
	}
	return true
}

// notePlaced remembers a transfer received in full and forgets those older than placedMemory.
func (r *Room) notePlaced(peerID string, o FileOffer) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, px := range r.placed {
		if now.Sub(px.at) > placedMemory {
			delete(r.placed, id)
		}
	}
	r.placed[o.ID] = placedXfer{peer: peerID, at: now}
}

// Accept answers an incoming offer that waits for the user (TransferOffer).
func (r *Room) Accept(id string, yes bool) error {
	r.mu.Lock()
	in := r.in[id]
	r.mu.Unlock()
	if in == nil {
		return fmt.Errorf("accept %s: no such offer", short(id))
	}
	select {
	case in.decide <- yes:
	default:
	}
	return nil
}

func (in *incoming) run() {
	defer close(in.done)
	defer in.cancel()
	defer func() {
		in.r.mu.Lock()
		if in.r.in[in.offer.ID] == in {
			delete(in.r.in, in.offer.ID)
		}
		in.r.mu.Unlock()
	}()
	code, err := in.receive()
	in.closeFiles()
	if err == nil {
		return
	}
	in.r.emit(&TransferError{Peer: in.peer, ID: in.offer.ID, Incoming: true, Code: code, Err: err})
	if !in.refused && code != XferInterrupted && code != XferCancelled {
		in.r.sendJSON(in.peer, KindFileResult, FileResult{ID: in.offer.ID, Code: code, Reason: err.Error()})
	}
}

// refuse answers no and reports why.
func (in *incoming) refuse(code string, err error) (string, error) {
	in.r.sendJSON(in.peer, KindFileAnswer, FileAnswer{ID: in.offer.ID, Code: code, Reason: err.Error()})
	in.refused = true
	return code, err
}

// receive runs the transfer; it returns a code and an error when it did not complete.
func (in *incoming) receive() (string, error) {
	fo, o := in.r.o.Files, in.offer
	for _, f := range o.Files {
		if f.Size > fo.MaxFileSize {
			return in.refuse(XferTooLarge, fmt.Errorf("%s is %d bytes; this receiver takes at most %d", f.Path, f.Size, fo.MaxFileSize))
		}
	}
	if err := os.MkdirAll(fo.Dir, 0o700); err != nil {
		return in.refuse(XferIO, fmt.Errorf("receive directory: %w", err))
	}
	root, err := os.OpenRoot(fo.Dir)
	if err != nil {
		return in.refuse(XferIO, fmt.Errorf("receive directory: %w", err))
	}
	in.root = root
	var held int
	placed := map[uint32]bool{}
	_ = in.r.rec.chunks(o.ID, func(f uint32, c uint64, _ []byte) {
		held++
		placed[f] = placed[f] || c == placedChunk
	})
	in.placed = placed
	for i, f := range o.Files {
		if st, err := root.Lstat(f.Path); err == nil && (!placed[uint32(i)] || !st.Mode().IsRegular() || st.Size() != f.Size) {
			return in.refuse(XferExists, fmt.Errorf("%s is already in the receive directory", f.Path))
		}
	}
	in.r.emit(TransferOffer{Peer: in.peer, From: in.from, ID: o.ID, Incoming: true, Files: o.Files, Total: o.Total()})
	if held == 0 && !fo.AutoAccept {
		select {
		case yes := <-in.decide:
			if !yes {
				return in.refuse(XferRefused, errors.New("the receiver refused the files"))
			}
		case <-in.ctx.Done():
			return XferCancelled, errors.New("the offer was replaced or the room closed")
		}
	}
	if code, err := in.openParts(); err != nil {
		return in.refuse(code, err)
	}
	in.r.sendJSON(in.peer, KindFileAnswer, FileAnswer{ID: o.ID, Accept: true, Have: in.haveRanges()})
	in.began, in.last = time.Now(), time.Now()
	if code, err := in.finishReady(); err != nil {
		return code, err
	}
	if in.left == 0 {
		return in.complete()
	}
	return in.receiveChunks()
}

// openParts opens every NAME.part (creating directories beneath the root) and keeps what the
// record says and the .part proves it holds. The record is read as it is stored, without a copy
// in memory. The postbox's record lists a file's chunks in order, so the verified prefix of a
// .part also feeds the file's SHA-256 and is not read again when the file is complete (place
// hashes the rest from the disk).
func (in *incoming) openParts() (string, error) {
	for i, e := range in.offer.Files {
		if in.placed[uint32(i)] {
			if _, err := in.root.Lstat(e.Path); err == nil {
				rx := &rxFile{e: e, have: newChunkSet(e.Chunks(), true), placed: true}
				in.files = append(in.files, rx)
				in.bytes += e.Size
				continue
			}
		}
		if d := path.Dir(e.Path); d != "." {
			if err := in.root.MkdirAll(d, 0o755); err != nil {
				return codeOf(err), fmt.Errorf("create %s: %w", d, err)
			}
		}
		f, err := in.root.OpenFile(e.Path+".part", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return codeOf(err), fmt.Errorf("open %s.part: %w", e.Path, err)
		}
		in.files = append(in.files, &rxFile{e: e, f: f, have: newChunkSet(e.Chunks(), false), h: sha256.New()})
		in.left++
	}
	buf := make([]byte, ChunkSize)
	if err := in.r.rec.chunks(in.offer.ID, func(fi uint32, c uint64, sum []byte) {
		if int(fi) >= len(in.files) {
			return
		}
		rx := in.files[fi]
		if rx.f == nil || c >= rx.have.n || rx.have.has(c) {
			return // placed, the placed mark, or twice
		}
		n := rx.e.chunkLen(c)
		if _, err := rx.f.ReadAt(buf[:n], int64(c)*ChunkSize); err != nil {
			return
		}
		if got := sha256.Sum256(buf[:n]); !bytes.Equal(got[:16], sum) {
			return
		}
		rx.have.set(c)
		in.bytes += int64(n)
		if off := int64(c) * ChunkSize; off == rx.hashedTo {
			rx.h.Write(buf[:n])
			rx.hashedTo += int64(n)
		}
	}); err != nil {
		return XferIO, err
	}
	for _, rx := range in.files {
		rx.missing = rx.have.n - rx.have.count()
	}
	return "", nil
}

// haveRanges lists the held chunks as [file, first, end) ranges.
func (in *incoming) haveRanges() [][3]uint64 {
	var out [][3]uint64
	for i, rx := range in.files {
		for c := uint64(0); c < rx.have.n; {
			if !rx.have.has(c) {
				c++
				continue
			}
			e := c
			for e < rx.have.n && rx.have.has(e) {
				e++
			}
			out = append(out, [3]uint64{uint64(i), c, e})
			c = e
		}
	}
	return out
}

// finishReady places the files that need no chunk (empty or all held).
func (in *incoming) finishReady() (string, error) {
	for _, rx := range in.files {
		if rx.missing == 0 && !rx.placed {
			if code, err := in.place(rx); err != nil {
				return code, err
			}
		}
	}
	return "", nil
}

// receiveChunks waits for the sender's FileStart and takes chunks until every file is in place.
func (in *incoming) receiveChunks() (string, error) {
	var st FileStart
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case st = <-in.starts:
	case <-t.C:
		return XferInterrupted, errors.New("the sender did not start")
	case <-in.ctx.Done():
		return XferInterrupted, errors.New("the offer was replaced or the room closed")
	}
	next := func() ([]byte, error) {
		select {
		case b := <-in.relay:
			return b, nil
		case <-in.ctx.Done():
			return nil, in.ctx.Err()
		}
	}
	var cc *chunkCipher
	if st.Channel != "" {
		actx, cancel := context.WithTimeout(in.ctx, startWait)
		ch, err := in.r.o.Node.AcceptChannel(actx, in.peer, st.Channel)
		cancel()
		if err != nil {
			return XferInterrupted, fmt.Errorf("transfer channel: %w", err)
		}
		defer ch.Close()
		key, err := ch.ExportKey(chunkKeyLabel, append(append([]byte(nil), in.idb...), st.Salt...), 32)
		if err != nil {
			return XferInterrupted, err
		}
		cc, err = newChunkCipher(key)
		clear(key)
		if err != nil {
			return XferIO, err
		}
		next = func() ([]byte, error) { return ch.Recv(in.ctx) }
	}
	for in.left > 0 {
		rec, err := next()
		if err != nil {
			in.flush()
			return XferInterrupted, fmt.Errorf("transport gone after %d bytes: %w", in.bytes, err)
		}
		if code, err := in.take(cc, rec); err != nil {
			in.flush()
			return code, err
		}
	}
	return in.complete()
}

// take checks one chunk record against the manifest and writes it to its .part.
func (in *incoming) take(cc *chunkCipher, rec []byte) (string, error) {
	c, err := DecodeChunk(cc, rec)
	if err != nil {
		return XferBadChunk, err
	}
	if string(c.ID) != string(in.idb) || int(c.File) >= len(in.files) {
		return XferBadChunk, fmt.Errorf("%w: not a chunk of this transfer", ErrBadChunk)
	}
	rx := in.files[c.File]
	if c.Chunk >= rx.have.n || len(c.Data) != rx.e.chunkLen(c.Chunk) {
		return XferBadChunk, fmt.Errorf("%w: chunk %d of %s does not fit its size", ErrBadChunk, c.Chunk, rx.e.Path)
	}
	if rx.have.has(c.Chunk) {
		return "", nil
	}
	off := int64(c.Chunk) * ChunkSize
	if _, err := rx.f.WriteAt(c.Data, off); err != nil {
		return codeOf(err), in.writeErr(rx, err)
	}
	if off == rx.hashedTo {
		rx.h.Write(c.Data)
		rx.hashedTo += int64(len(c.Data))
	}
	sum := sha256.Sum256(c.Data)
	in.pending = append(in.pending, recEntry{file: c.File, chunk: c.Chunk, sum: [16]byte(sum[:16])})
	rx.have.set(c.Chunk)
	rx.dirty = true
	rx.missing--
	in.bytes += int64(len(c.Data))
	in.moved += int64(len(c.Data))
	if len(in.pending) >= recordEvery {
		if err := in.flushAsync(); err != nil {
			return codeOf(err), in.writeErr(rx, err)
		}
	}
	if now := time.Now(); now.Sub(in.last) >= progressEvery {
		in.last = now
		in.r.emit(progress(in.peer, in.offer, true, rx.e.Path, in.bytes, in.moved, in.began))
	}
	if rx.missing == 0 {
		return in.place(rx)
	}
	return "", nil
}

// writeErr words a failed write; the .part and the record of what it holds are kept.
func (in *incoming) writeErr(rx *rxFile, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("no space left on the disk writing %s.part (kept, %d of %d bytes of the transfer in place; free space and send again to resume): %w",
			rx.e.Path, in.bytes, in.offer.Total(), err)
	}
	return fmt.Errorf("write %s.part: %w", rx.e.Path, err)
}

// flushAsync starts syncing the .part files written since the last flush, then recording their
// chunks, in the background, so that the chunks that follow are taken meanwhile (an fsync of
// 8 MiB would hold up the transport). At most one batch is in flight: it first waits for the
// previous one, whose error it returns.
func (in *incoming) flushAsync() error {
	if err := in.waitFlush(); err != nil {
		return err
	}
	files, batch := in.batch()
	if len(files) == 0 && len(batch) == 0 {
		return nil
	}
	done := make(chan error, 1)
	in.flushing = done
	id, rec := in.offer.ID, in.r.rec
	in.r.wg.Go(func() { done <- syncAndRecord(rec, id, files, batch) })
	return nil
}

// flush syncs the .part files written since the last flush, then records their chunks; it
// waits for a background flush first.
func (in *incoming) flush() error {
	if err := in.waitFlush(); err != nil {
		return err
	}
	files, batch := in.batch()
	return syncAndRecord(in.r.rec, in.offer.ID, files, batch)
}

// waitFlush waits for the background flush, if one runs, and returns its error.
func (in *incoming) waitFlush() error {
	if in.flushing == nil {
		return nil
	}
	err := <-in.flushing
	in.flushing = nil
	return err
}

// batch takes the .part files written and the chunks received since the last flush.
func (in *incoming) batch() ([]*os.File, []recEntry) {
	var files []*os.File
	for _, rx := range in.files {
		if rx.dirty && rx.f != nil {
			files = append(files, rx.f)
			rx.dirty = false
		}
	}
	batch := in.pending
	in.pending = make([]recEntry, 0, recordEvery)
	return files, batch
}

// syncAndRecord syncs files, then adds entries to the record: a chunk is recorded only once
// its bytes are on the disk.
func syncAndRecord(rec recordStore, id string, files []*os.File, entries []recEntry) error {
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return rec.add(id, entries)
}

// place checks a complete file's SHA-256 and renames NAME.part to NAME.
func (in *incoming) place(rx *rxFile) (string, error) {
	if err := in.flush(); err != nil {
		return codeOf(err), in.writeErr(rx, err)
	}
	if _, err := io.Copy(rx.h, io.NewSectionReader(rx.f, rx.hashedTo, rx.e.Size-rx.hashedTo)); err != nil {
		return XferIO, fmt.Errorf("hash %s.part: %w", rx.e.Path, err)
	}
	got := hex.EncodeToString(rx.h.Sum(nil))
	_ = rx.f.Close()
	rx.f = nil
	if got != rx.e.SHA256 {
		_ = in.root.Remove(rx.e.Path + ".part")
		_ = in.r.rec.drop(in.offer.ID)
		return XferHashMismatch, fmt.Errorf("%s: SHA-256 %s, the manifest says %s (the .part was removed)", rx.e.Path, got, rx.e.SHA256)
	}
	if _, err := in.root.Lstat(rx.e.Path); err == nil {
		return XferExists, fmt.Errorf("%s appeared in the receive directory meanwhile (%s.part kept)", rx.e.Path, rx.e.Path)
	}
	if err := in.root.Rename(rx.e.Path+".part", rx.e.Path); err != nil {
		return codeOf(err), fmt.Errorf("rename %s.part: %w", rx.e.Path, err)
	}
	rx.placed = true
	in.left--
	for i, f := range in.files {
		if f == rx {
			_ = in.r.rec.add(in.offer.ID, []recEntry{{file: uint32(i), chunk: placedChunk}})
		}
	}
	in.r.emit(TransferDone{Peer: in.peer, ID: in.offer.ID, Incoming: true, Path: rx.e.Path, Size: rx.e.Size, SHA256: got, Last: in.left == 0})
	return "", nil
}

// complete tells the sender every file is in place and forgets the record. The result is
// queued before the last progress event, so that a reader of the events who then waits for the
// peer's acknowledgements (Node.WaitAcked) knows the sender has it.
func (in *incoming) complete() (string, error) {
	_ = in.r.rec.drop(in.offer.ID)
	in.r.notePlaced(in.peer, in.offer)
	in.r.sendJSON(in.peer, KindFileResult, FileResult{ID: in.offer.ID, OK: true})
	in.r.emit(progress(in.peer, in.offer, true, "", in.bytes, in.moved, in.began))
	return "", nil
}

func (in *incoming) closeFiles() {
	_ = in.waitFlush() // its files are closed below
	for _, rx := range in.files {
		if rx.f != nil {
			_ = rx.f.Close()
		}
	}
	if in.root != nil {
		_ = in.root.Close()
	}
}

// codeOf maps a file system error to a transfer code.
func codeOf(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return XferDiskFull
	case errors.Is(err, fs.ErrExist):
		return XferExists
	default:
		return XferIO
	}
}

// progress builds a TransferProgress with its rate and ETA.
func progress(peerID string, o FileOffer, incoming bool, file string, bytes, moved int64, began time.Time) TransferProgress {
	p := TransferProgress{Peer: peerID, ID: o.ID, Incoming: incoming, File: file, Bytes: bytes, Total: o.Total(), Moved: moved}
	if s := time.Since(began).Seconds(); s > 0 {
		p.Rate = float64(moved) / s
	}
	if p.Rate > 0 {
		p.ETA = time.Duration(float64(p.Total-p.Bytes) / p.Rate * float64(time.Second))
	}
	return p
}

// chunkSet is the set of a file's chunks in place: one bit per chunk (4 MiB for the largest
// file the protocol allows), so that what a receiver keeps in memory hardly grows with the
// file's size.
type chunkSet struct {
	n uint64   // chunks of the file
	w []uint64 // bit c%64 of w[c/64]
}

func newChunkSet(n uint64, all bool) chunkSet {
	s := chunkSet{n: n, w: make([]uint64, (n+63)/64)}
	if all {
		for c := range n {
			s.set(c)
		}
	}
	return s
}

func (s chunkSet) has(c uint64) bool { return s.w[c/64]&(1<<(c%64)) != 0 }

func (s chunkSet) set(c uint64) { s.w[c/64] |= 1 << (c % 64) }

// count is the number of chunks in the set.
func (s chunkSet) count() uint64 {
	var k int
	for _, w := range s.w {
		k += bits.OnesCount64(w)
	}
	return uint64(k)
}
