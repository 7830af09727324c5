package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"testing"
)

var benchSizes = []int{200, 64 << 10}

// BenchmarkSeal compares Session.Seal with a bare AES-256-GCM Seal of the
// same size (same nonce scheme, no header, no lock) in the same run.
func BenchmarkSeal(b *testing.B) {
	for _, n := range benchSizes {
		pt := make([]byte, n)
		b.Run(fmt.Sprintf("seal/%dB", n), func(b *testing.B) {
			so, _ := mustPair(b)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := so.Seal(pt); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw-gcm/%dB", n), func(b *testing.B) {
			g := rawGCM(b)
			var nonce [12]byte
			b.SetBytes(int64(n))
			b.ReportAllocs()
			seq := uint64(0)
			for b.Loop() {
				binary.BigEndian.PutUint64(nonce[4:], seq)
				seq++
				_ = g.Seal(make([]byte, 0, n+16), nonce[:], pt, nil)
			}
		})
	}
}

// BenchmarkOpen compares Session.Open with a bare AES-256-GCM Open. The
// receive counter is rewound before each Open so that one frame serves
// every iteration.
func BenchmarkOpen(b *testing.B) {
	for _, n := range benchSizes {
		pt := make([]byte, n)
		b.Run(fmt.Sprintf("seal/%dB", n), func(b *testing.B) {
			so, sa := mustPair(b)
			f, _ := so.Seal(pt)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sa.recv.seq = 0
				if _, err := sa.Open(f); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw-gcm/%dB", n), func(b *testing.B) {
			g := rawGCM(b)
			var nonce [12]byte
			ct := g.Seal(nil, nonce[:], pt, nil)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Open(nil, nonce[:], ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandshake is both sides of a full handshake (two key pairs,
// two X25519, hashing, HKDF, four AES key schedules) beside a bare
// X25519 key generation + ECDH pair as the baseline.
func BenchmarkHandshake(b *testing.B) {
	co, ca := configs("bench")
	b.Run("seal-both-sides", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			o, _ := NewHandshake(co)
			a, _ := NewHandshake(ca)
			if _, _, err := run(o, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-x25519-both-sides", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var sk [2][32]byte
			rand.Read(sk[0][:])
			rand.Read(sk[1][:])
			x, _ := ecdhPair(sk[0][:], sk[1][:])
			_ = x
		}
	})
}

func rawGCM(b *testing.B) cipher.AEAD {
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	return g
}
