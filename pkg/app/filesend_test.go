package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"slices"
	"testing"
	"time"
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
