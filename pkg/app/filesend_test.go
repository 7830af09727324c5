package app

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
)

func TestHeldRanges(t *testing.T) {
	t.Parallel()
	o := FileOffer{Files: []FileEntry{
		{Path: "a", Size: 10 * ChunkSize},  // chunks 0..9
		{Path: "b", Size: 2*ChunkSize + 5}, // chunks 0..2, the last of 5 bytes
		{Path: "c", Size: 0},
	}}
	for _, tc := range []struct {
		name  string
		have  [][3]uint64
		want  [][3]uint64
		bytes int64
		ok    bool
	}{
		{"none", nil, [][3]uint64{}, 0, true},
		{"sorted out of order", [][3]uint64{{1, 0, 3}, {0, 5, 10}, {0, 0, 2}}, [][3]uint64{{0, 0, 2}, {0, 5, 10}, {1, 0, 3}}, 7*ChunkSize + 2*ChunkSize + 5, true},
		{"overlaps counted once", [][3]uint64{{0, 0, 6}, {0, 2, 4}, {0, 5, 8}}, [][3]uint64{{0, 0, 6}, {0, 2, 4}, {0, 5, 8}}, 8 * ChunkSize, true},
		{"empty range", [][3]uint64{{0, 3, 3}}, [][3]uint64{{0, 3, 3}}, 0, true},
		{"no such file", [][3]uint64{{3, 0, 0}}, nil, 0, false},
		{"past the file", [][3]uint64{{1, 0, 4}}, nil, 0, false},
		{"reversed", [][3]uint64{{0, 4, 2}}, nil, 0, false},
		{"chunks of an empty file", [][3]uint64{{2, 0, 1}}, nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, bytes, err := heldRanges(o, tc.have)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("ranges %v, want %v", got, tc.want)
			}
			if bytes != tc.bytes {
				t.Errorf("bytes %d, want %d", bytes, tc.bytes)
			}
		})
	}
}

// BenchmarkChunkSeal measures sealing and opening one 32 KiB chunk record (encodeChunk,
// DecodeChunk) against bare AES-256-GCM Seal and Open of the same 32 KiB: each iteration does
// both, alternately, so that the load of a shared machine weighs on both alike. It reports
// the time of each and their ratio:
//
//	go test -run XXX -bench ChunkSeal -count 3 ./pkg/app
func BenchmarkChunkSeal(b *testing.B) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	data := make([]byte, ChunkSize)
	_, _ = rand.Read(data)
	id := make([]byte, IDSize)
	cc, err := newChunkCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	nonce := make([]byte, 12)
	rec := make([]byte, 0, ChunkHeaderSize+ChunkSize+16)
	buf := make([]byte, 0, ChunkSize+16)
	var recT, bareT time.Duration
	b.SetBytes(2 * ChunkSize)
	b.ReportAllocs()
	for i := range b.N {
		t0 := time.Now()
		rec = encodeChunk(rec, cc, id, 1, uint64(i), data)
		if _, err := DecodeChunk(cc, rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		nonce[11] = byte(i)
		buf = g.Seal(buf[:0], nonce, data, nil)
		if _, err := g.Open(buf[:0], nonce, buf, nil); err != nil {
			b.Fatal(err)
		}
		recT += t1.Sub(t0)
		bareT += time.Since(t1)
	}
	b.ReportMetric(float64(recT.Nanoseconds())/float64(b.N), "record-ns/op")
	b.ReportMetric(float64(bareT.Nanoseconds())/float64(b.N), "aesgcm-ns/op")
	b.ReportMetric(float64(recT)/float64(bareT), "record/aesgcm")
}

// TestSendOffersAgainAfterChannelClosed: the transfer's channel closes under the sender while
// the session goes on (its PeerConnection was replaced) and no result came: after resultGrace the
// sender offers again (the receiver then answers with what it holds, or with the result), instead
// of waiting for a result nobody will send. A bare peer.Node plays the receiver.
func TestSendOffersAgainAfterChannelClosed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newHub(t)
	tx := newMember(t, h, "files", "tx", memberOpts{})
	go func() {
		for range tx.room.Events() {
		}
	}()
	rx := h.node(t, "files", "rx", nil)
	h.join("rx", rx)
	hs := &hostile{t: t, node: rx, rx: "tx"}
	hs.await(ctx, func(ev peer.Event) bool { _, ok := ev.(peer.PeerConnected); return ok })

	src := filepath.Join(t.TempDir(), "x.bin")
	if err := os.WriteFile(src, make([]byte, 3*ChunkSize), 0o644); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tx.room.SendFiles(ctx, []string{src}, pickOnly) }()

	var offer FileOffer
	hs.reply(ctx, KindFileOffer, &offer)
	hs.send(ctx, KindFileAnswer, FileAnswer{ID: offer.ID, Accept: true})
	var st FileStart
	hs.reply(ctx, KindFileStart, &st)
	if st.Channel == "" {
		t.Fatal("no channel on a direct path")
	}
	ch, err := rx.AcceptChannel(ctx, "tx", st.Channel)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ch.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	closed := time.Now()
	_ = ch.Close() // as when the PeerConnection goes: no result follows

	var again FileOffer
	hs.reply(ctx, KindFileOffer, &again)
	if again.ID != offer.ID {
		t.Fatalf("offered %s again, want %s", again.ID, offer.ID)
	}
	if d := time.Since(closed); d < resultGrace-time.Second {
		t.Fatalf("offered again %v after the channel closed, before the %v grace", d, resultGrace)
	}
	hs.send(ctx, KindFileResult, FileResult{ID: offer.ID, OK: true})
	if err := <-errc; err != nil {
		t.Fatalf("SendFiles: %v", err)
	}
}
