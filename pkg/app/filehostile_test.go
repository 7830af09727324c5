package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/internal/fullfs"
	"github.com/verytippers/vtpeer/pkg/peer"
)

// A hostile sender: a bare peer.Node (no Room) that speaks the transfer protocol with this
// package's own encoders, and lies where a test wants it to.
type hostile struct {
	t    *testing.T
	node *peer.Node
	rx   string // the receiver's peer id
}

// newHostilePair is a receiver Room taking files into dir (auto-accept) and a hostile sender
// connected to it; the receiver's transfer events arrive on the returned channel.
func newHostilePair(ctx context.Context, t *testing.T, files *FileOptions) (*hostile, <-chan Event) {
	t.Helper()
	h := newHub(t)
	rx := newMember(t, h, "files", "rx", memberOpts{files: files})
	evs := make(chan Event, 256)
	go func() {
		for ev := range rx.room.Events() {
			switch ev.(type) {
			case TransferOffer, TransferProgress, TransferDone, *TransferError:
				evs <- ev
			}
		}
	}()
	n := h.node(t, "files", "evil", nil) // anonymous: offers are keyed by TransferID("", files)
	h.join("evil", n)
	hs := &hostile{t: t, node: n, rx: "rx"}
	hs.await(ctx, func(ev peer.Event) bool { _, ok := ev.(peer.PeerConnected); return ok })
	return hs, evs
}

// await returns the first event of the hostile node that match accepts.
func (hs *hostile) await(ctx context.Context, match func(peer.Event) bool) peer.Event {
	hs.t.Helper()
	for {
		select {
		case ev := <-hs.node.Events():
			if match(ev) {
				return ev
			}
		case <-ctx.Done():
			hs.t.Fatal("hostile sender: no such event")
		}
	}
}

// send sends a transfer message.
func (hs *hostile) send(ctx context.Context, kind string, v any) {
	hs.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		hs.t.Fatal(err)
	}
	if err := hs.node.Send(ctx, hs.rx, kind, body); err != nil {
		hs.t.Fatal(err)
	}
}

// reply waits for the receiver's message of kind and decodes it into v.
func (hs *hostile) reply(ctx context.Context, kind string, v any) {
	hs.t.Helper()
	ev := hs.await(ctx, func(ev peer.Event) bool { m, ok := ev.(peer.Message); return ok && m.Kind == kind })
	if err := json.Unmarshal(ev.(peer.Message).Body, v); err != nil {
		hs.t.Fatal(err)
	}
}

// offer sends a manifest for files and returns its id and the receiver's answer.
func (hs *hostile) offer(ctx context.Context, files []FileEntry) (string, FileAnswer) {
	hs.t.Helper()
	id := TransferID("", files)
	hs.send(ctx, KindFileOffer, FileOffer{ID: id, Files: files})
	var a FileAnswer
	hs.reply(ctx, KindFileAnswer, &a)
	return id, a
}

// chunks sends the chunks of data as file 0 of transfer id: on a DataChannel of its own
// (sealed) or, relay, as session messages; tamper may change each record before it goes. It
// runs on its own goroutine: a failure to start goes to errc.
func (hs *hostile) chunks(ctx context.Context, id string, data []byte, relay bool, tamper func(c uint64, rec []byte), errc chan<- error) {
	idb, _ := hex.DecodeString(id)
	st := FileStart{ID: id}
	var ch *peer.Channel
	var cc *chunkCipher
	if !relay {
		c, err := hs.node.OpenChannel(ctx, hs.rx, ChannelPrefix+id)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		ch, st.Channel, st.Salt = c, c.Label(), make([]byte, 16)
		_, _ = rand.Read(st.Salt)
		key, err := c.ExportKey(chunkKeyLabel, append(append([]byte(nil), idb...), st.Salt...), 32)
		if err != nil {
			errc <- err
			return
		}
		if cc, err = newChunkCipher(key); err != nil {
			errc <- err
			return
		}
	}
	body, _ := json.Marshal(st)
	if err := hs.node.Send(ctx, hs.rx, KindFileStart, body); err != nil {
		errc <- err
		return
	}
	for c := uint64(0); c*ChunkSize < uint64(len(data)); c++ {
		end := min(uint64(len(data)), (c+1)*ChunkSize)
		rec := encodeChunk(nil, cc, idb, 0, c, data[c*ChunkSize:end])
		if tamper != nil {
			tamper(c, rec)
		}
		var err error
		if ch != nil {
			err = ch.Send(ctx, rec)
		} else {
			err = hs.node.Send(ctx, hs.rx, KindFileChunk, rec)
		}
		if err != nil {
			return // the receiver may close the channel once it saw a bad chunk
		}
	}
}

// awaitTransferError returns the receiver's TransferError; a file placed, or the hostile
// sender failing to start (errc), fails the test.
func awaitTransferError(ctx context.Context, t *testing.T, evs <-chan Event, errc <-chan error) *TransferError {
	t.Helper()
	for {
		select {
		case err := <-errc:
			t.Fatalf("the hostile sender could not start: %v", err)
		case ev := <-evs:
			switch e := ev.(type) {
			case *TransferError:
				return e
			case TransferDone:
				t.Fatalf("a file was placed: %+v", e)
			}
		case <-ctx.Done():
			t.Fatal("no TransferError on the receiver")
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func entryOf(path string, data []byte) FileEntry {
	sum := sha256.Sum256(data)
	return FileEntry{Path: path, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// TestHostileTamperedChunk: a chunk whose sealed bytes were changed in flight (on the
// transfer's DataChannel) or whose header names another chunk (on the session, over the
// relay) ends the transfer with bad_chunk; nothing is renamed into place.
func TestHostileTamperedChunk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		relay  bool
		tamper func(c uint64, rec []byte)
	}{
		{"sealed byte flipped on the DataChannel", false, func(c uint64, rec []byte) {
			if c == 3 {
				rec[len(rec)-20] ^= 0x40
			}
		}},
		{"header changed on the DataChannel", false, func(c uint64, rec []byte) {
			if c == 2 {
				rec[ChunkHeaderSize-1] ^= 1 // chunk 2 claims to be chunk 3: the AAD no longer matches
			}
		}},
		{"chunk index out of the file over the relay", true, func(c uint64, rec []byte) {
			if c == 1 {
				rec[ChunkHeaderSize-2] = 0xff
			}
		}},
		{"unknown record version over the relay", true, func(c uint64, rec []byte) {
			if c == 0 {
				rec[0] = 9
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			hs, evs := newHostilePair(ctx, t, &FileOptions{Dir: dir, AutoAccept: true})
			errc := make(chan error, 1)
			data := randomBytes(6*ChunkSize + 100)
			id, ans := hs.offer(ctx, []FileEntry{entryOf("doc.bin", data)})
			if !ans.Accept {
				t.Fatalf("offer refused: %+v", ans)
			}
			go hs.chunks(ctx, id, data, tc.relay, tc.tamper, errc)
			if te := awaitTransferError(ctx, t, evs, errc); te.Code != XferBadChunk || !te.Incoming || !errors.Is(te, ErrBadChunk) {
				t.Fatalf("receiver's error %v (code %s), want %s", te, te.Code, XferBadChunk)
			}
			var res FileResult
			hs.reply(ctx, KindFileResult, &res)
			if res.OK || res.Code != XferBadChunk {
				t.Fatalf("sender got %+v, want code %s", res, XferBadChunk)
			}
			if _, err := os.Stat(filepath.Join(dir, "doc.bin")); err == nil {
				t.Fatal("doc.bin was renamed into place")
			}
		})
	}
}

// TestHostileHashMismatch: every chunk authenticates, but the file is not the one the
// manifest describes: hash_mismatch, the .part is removed, nothing is placed.
func TestHostileHashMismatch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	hs, evs := newHostilePair(ctx, t, &FileOptions{Dir: dir, AutoAccept: true})
	errc := make(chan error, 1)
	claimed, sent := randomBytes(3*ChunkSize+5), randomBytes(3*ChunkSize+5)
	id, ans := hs.offer(ctx, []FileEntry{entryOf("swap.bin", claimed)})
	if !ans.Accept {
		t.Fatalf("offer refused: %+v", ans)
	}
	go hs.chunks(ctx, id, sent, false, nil, errc)
	if te := awaitTransferError(ctx, t, evs, errc); te.Code != XferHashMismatch {
		t.Fatalf("receiver's error %v (code %s), want %s", te, te.Code, XferHashMismatch)
	}
	var res FileResult
	hs.reply(ctx, KindFileResult, &res)
	if res.OK || res.Code != XferHashMismatch {
		t.Fatalf("sender got %+v, want code %s", res, XferHashMismatch)
	}
	for _, name := range []string{"swap.bin", "swap.bin.part"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Fatalf("%s is in the receive directory", name)
		}
	}
}

// TestHostileTraversalNames: manifests whose names could leave the receive directory (or are
// not portable) are refused with unsafe_path before anything is written.
func TestHostileTraversalNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../escape.txt", "a/../../escape.txt", "/etc/escape.txt", `..\escape.txt`, "C:escape.txt", "NUL.txt", "ok/./x", "a//b", "trail. "} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "inbox")
			hs, evs := newHostilePair(ctx, t, &FileOptions{Dir: dir, AutoAccept: true})
			errc := make(chan error, 1)
			_, ans := hs.offer(ctx, []FileEntry{entryOf(name, []byte("pwned"))})
			if ans.Accept || ans.Code != XferUnsafePath {
				t.Fatalf("answer %+v, want a refusal with %s", ans, XferUnsafePath)
			}
			if te := awaitTransferError(ctx, t, evs, errc); te.Code != XferUnsafePath || !errors.Is(te, ErrUnsafePath) {
				t.Fatalf("receiver's error %v, want %s", te, XferUnsafePath)
			}
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				if e.Name() != "inbox" {
					t.Fatalf("%s was written beside the receive directory", e.Name())
				}
			}
		})
	}
}

// TestTransferSymlinkInReceiveDir: symbolic links already in the receive directory lead
// nowhere: a directory link pointing out of it is not followed (the transfer fails, nothing is
// written outside), and a file-name link is an existing file (exists), its target untouched.
func TestTransferSymlinkInReceiveDir(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		link  string // the link's name in the receive directory
		files []FileEntry
		code  string
	}{
		{"directory link out", "out", []FileEntry{entryOf("out/x.txt", []byte("pwned"))}, XferIO},
		{"file link out", "x.txt", []FileEntry{entryOf("x.txt", []byte("pwned"))}, XferExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir, outside := t.TempDir(), t.TempDir()
			target := outside
			if tc.code == XferExists {
				target = filepath.Join(outside, "victim")
				if err := os.WriteFile(target, []byte("mine"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(target, filepath.Join(dir, tc.link)); err != nil {
				t.Fatal(err)
			}
			hs, evs := newHostilePair(ctx, t, &FileOptions{Dir: dir, AutoAccept: true})
			errc := make(chan error, 1)
			id, ans := hs.offer(ctx, tc.files)
			if ans.Accept {
				go hs.chunks(ctx, id, []byte("pwned"), false, nil, errc)
			}
			if te := awaitTransferError(ctx, t, evs, errc); te.Code != tc.code {
				t.Fatalf("receiver's error %v (code %s), want %s", te, te.Code, tc.code)
			}
			entries, _ := os.ReadDir(outside)
			for _, e := range entries {
				if e.Name() != "victim" {
					t.Fatalf("%s was written outside the receive directory", e.Name())
				}
			}
			if b, err := os.ReadFile(filepath.Join(outside, "victim")); tc.code == XferExists && (err != nil || string(b) != "mine") {
				t.Fatalf("the link's target was changed: %q %v", b, err)
			}
		})
	}
}

// TestTransferDiskFull: the receive directory's disk runs out of space (a tiny tmpfs): the
// transfer ends with disk_full, the error says the .part is kept, and the .part is there.
func TestTransferDiskFull(t *testing.T) {
	t.Parallel()
	dir := fullfs.Tiny(t, "1m")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hs, evs := newHostilePair(ctx, t, &FileOptions{Dir: dir, AutoAccept: true})
	errc := make(chan error, 1)
	data := randomBytes(3 << 20)
	id, ans := hs.offer(ctx, []FileEntry{entryOf("huge.bin", data)})
	if !ans.Accept {
		t.Fatalf("offer refused: %+v", ans)
	}
	go hs.chunks(ctx, id, data, false, nil, errc)
	te := awaitTransferError(ctx, t, evs, errc)
	if te.Code != XferDiskFull || !errors.Is(te, ErrTransfer) {
		t.Fatalf("receiver's error %v (code %s), want %s", te, te.Code, XferDiskFull)
	}
	var res FileResult
	hs.reply(ctx, KindFileResult, &res)
	if res.OK || res.Code != XferDiskFull {
		t.Fatalf("sender got %+v, want code %s", res, XferDiskFull)
	}
	if _, err := os.Stat(filepath.Join(dir, "huge.bin.part")); err != nil {
		t.Fatalf("the .part is not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "huge.bin")); err == nil {
		t.Fatal("huge.bin was placed")
	}
}
