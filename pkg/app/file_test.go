package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
)

// writeTree makes a directory tree to send: name/{a.txt, empty, sub/big.bin (size bytes)}.
func writeTree(t *testing.T, name string, size int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	big := make([]byte, size)
	_, _ = rand.Read(big)
	for p, data := range map[string][]byte{"a.txt": []byte("hello\n"), "empty": nil, "sub/big.bin": big} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func sameTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs", rel)
		}
		if _, err := os.Stat(filepath.Join(dst, rel+".part")); err == nil {
			t.Errorf("%s.part left behind", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pickOnly is the one connected peer.
func pickOnly(ps []peer.PeerInfo) (string, error) {
	for _, p := range ps {
		if p.Connected {
			return p.ID, nil
		}
	}
	return "", errors.New("no peer is connected")
}

// autoAcceptPair is a receiver that takes every offer into a fresh directory (returned) and a
// sender, in a room of their own.
func autoAcceptPair(t *testing.T) (dir string, rx, tx *member) {
	t.Helper()
	h := newHub(t)
	dir = t.TempDir()
	rx = newMember(t, h, "files", "rx", memberOpts{files: &FileOptions{Dir: dir, AutoAccept: true}})
	tx = newMember(t, h, "files", "tx", memberOpts{})
	return dir, rx, tx
}

func TestTransferTree(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, rx, tx := autoAcceptPair(t)
	src := writeTree(t, "tree", 3<<20+123)
	errc := make(chan error, 1)
	go func() {
		errc <- tx.room.SendFiles(ctx, []string{src}, func(ps []peer.PeerInfo) (string, error) {
			return ChooseTipTarget(ps, rx.signer.Address().Hex(), "")
		})
	}()
	go func() { // the sender's events must be read
		for range tx.room.Events() {
		}
	}()
	done := await(ctx, t, rx.room, func(e TransferDone) bool { return e.Last })
	if !done.Incoming {
		t.Fatal("not incoming")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, dir)
}

// TestTransferOfferedAgainAfterDone: a sender that did not see the result (its transport
// changed just then) offers again; the receiver, which has the files in place, answers with the
// result again instead of refusing files that "already exist". Once a placed file changed size,
// an offer again is refused as before (XferExists).
func TestTransferOfferedAgainAfterDone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, rx, tx := autoAcceptPair(t)
	go func() {
		for range tx.room.Events() {
		}
	}()
	offers := make(chan TransferOffer, 4)
	go func() {
		for ev := range rx.room.Events() {
			if o, ok := ev.(TransferOffer); ok {
				offers <- o
			}
		}
	}()
	src := writeTree(t, "tree", 200<<10)
	for i := range 2 {
		if err := tx.room.SendFiles(ctx, []string{src}, pickOnly); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	sameTree(t, src, dir)
	if n := len(offers); n != 1 {
		t.Fatalf("the receiver saw %d offers, want 1 (the second is answered from what is in place)", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "tree", "a.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := tx.room.SendFiles(ctx, []string{src}, pickOnly)
	var te *TransferError
	if !errors.As(err, &te) || te.Code != XferExists {
		t.Fatalf("after a placed file changed: %v, want code %s", err, XferExists)
	}
}

func TestTransferRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files *FileOptions
		pre   func(dir string)
		code  string
	}{
		{"not receiving", nil, nil, XferNotReceiving},
		{"too large", &FileOptions{MaxFileSize: 1000, AutoAccept: true}, nil, XferTooLarge},
		{"exists", &FileOptions{AutoAccept: true}, func(dir string) {
			_ = os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
			_ = os.WriteFile(filepath.Join(dir, "tree", "a.txt"), []byte("mine"), 0o644)
		}, XferExists},
		{"refused by the user", &FileOptions{}, nil, XferRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h := newHub(t)
			dir := t.TempDir()
			if tc.files != nil {
				tc.files.Dir = dir
			}
			if tc.pre != nil {
				tc.pre(dir)
			}
			rx := newMember(t, h, "files", "rx", memberOpts{files: tc.files})
			tx := newMember(t, h, "files", "tx", memberOpts{})
			go func() {
				for ev := range rx.room.Events() {
					if o, ok := ev.(TransferOffer); ok && tc.code == XferRefused {
						_ = rx.room.Accept(o.ID, false)
					}
				}
			}()
			go func() {
				for range tx.room.Events() {
				}
			}()
			src := writeTree(t, "tree", 5000)
			err := tx.room.SendFiles(ctx, []string{src}, pickOnly)
			var te *TransferError
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Fatalf("err %v, want code %s", err, tc.code)
			}
			if _, err := os.Stat(filepath.Join(dir, "tree", "sub", "big.bin")); err == nil {
				t.Fatal("a file was placed")
			}
		})
	}
}

// TestTransferResume: the receiver stops (its Room and Node close, as a killed process) half
// way; a new receiver process of the same account with the same postbox and receive directory
// gets only the chunks it does not hold verified. With "tampered", a recorded chunk of the
// .part is changed while no receiver runs: the new receiver must not count it as held (nor
// feed it to the file's hash), gets it again, and the file still verifies.
func TestTransferResume(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper bool
	}{{"clean", false}, {"tampered", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testTransferResume(t, tc.tamper)
		})
	}
}

func testTransferResume(t *testing.T, tamper bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	h := newHub(t)
	dir, home := t.TempDir(), t.TempDir()
	signer := newTestSigner(t)
	const size = 48 << 20
	src := writeTree(t, "tree", size)

	rx1 := newMember(t, h, "files", "rx1", memberOpts{files: &FileOptions{Dir: dir, AutoAccept: true}, postbox: true, home: home, signer: signer})
	tx := newMember(t, h, "files", "tx", memberOpts{})
	var last TransferProgress
	progressc := make(chan TransferProgress, 1024)
	go func() {
		for ev := range tx.room.Events() {
			if p, ok := ev.(TransferProgress); ok {
				progressc <- p
			} else {
				t.Logf("tx event %T %+v", ev, ev)
			}
		}
	}()
	errc := make(chan error, 1)
	go func() {
		err := tx.room.SendFiles(ctx, []string{src}, func(ps []peer.PeerInfo) (string, error) {
			return ChooseTipTarget(ps, signer.Address().Hex(), "")
		})
		errc <- err
	}()
	// Stop the first receiver once half of the data is on its disk.
	await(ctx, t, rx1.room, func(e TransferProgress) bool { return e.Incoming && e.Bytes > size/2 })
	_ = rx1.room.Close()
	_ = rx1.node.Close()
	_ = rx1.pb.Close()
	h.leave("rx1")
	if tamper {
		part := filepath.Join(dir, "tree", "sub", "big.bin.part")
		f, err := os.OpenFile(part, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 16)
		if _, err := f.ReadAt(b, 3*ChunkSize+100); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] ^= 0xff
		}
		if _, err := f.WriteAt(b, 3*ChunkSize+100); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}

	rx2 := newMember(t, h, "files", "rx2", memberOpts{files: &FileOptions{Dir: dir, AutoAccept: true}, postbox: true, home: home, signer: signer})
	off := await(ctx, t, rx2.room, func(e TransferOffer) bool { return e.Incoming })
	_ = off
	await(ctx, t, rx2.room, func(e TransferDone) bool { return e.Last })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, dir)
	for len(progressc) > 0 {
		last = <-progressc
	}
	if last.Moved >= last.Total+size/4 || last.Moved < last.Total/2 {
		t.Fatalf("moved %d bytes for %d: the resume did not skip what the first receiver held", last.Moved, last.Total)
	}
	t.Logf("moved %d of %d bytes", last.Moved, last.Total)
}

// TestRecordDir: without a postbox, FileOptions.RecordDir keeps the record of received chunks in
// transfers.db (what a restarted receiver resumes from: TestE2ESendResumeAfterKill's anonymous
// receiver); a transfers.db another Room holds leaves the record in memory, and the Room works.
func TestRecordDir(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	home := t.TempDir()
	first := newMember(t, h, "files", "first", memberOpts{files: &FileOptions{Dir: t.TempDir(), RecordDir: home}})
	if first.room.recDB == nil {
		t.Fatal("no transfers.db opened in RecordDir")
	}
	if _, ok := first.room.rec.(boltRecord); !ok {
		t.Fatalf("record %T, want the file", first.room.rec)
	}
	second := newMember(t, h, "files", "second", memberOpts{files: &FileOptions{Dir: t.TempDir(), RecordDir: home}})
	if _, ok := second.room.rec.(*memRecord); !ok || second.room.recDB != nil {
		t.Fatalf("record %T with transfers.db held by another Room, want memory", second.room.rec)
	}
	withPostbox := newMember(t, h, "files", "pb", memberOpts{postbox: true, files: &FileOptions{Dir: t.TempDir(), RecordDir: t.TempDir()}})
	if withPostbox.room.recDB != nil {
		t.Fatal("a Room with a postbox opened transfers.db too")
	}
}
