package seal

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkPaired alternates a batch of Session operations with a batch of
// bare AES-256-GCM operations of the same size and reports the median of
// the per-pair time ratios ("seal/raw"), which shared-machine noise
// affects far less than two separate benchmarks.
func BenchmarkPaired(b *testing.B) {
	const batch = 16
	for _, n := range benchSizes {
		for _, op := range []string{"seal", "open"} {
			b.Run(fmt.Sprintf("%s/%dB", op, n), func(b *testing.B) {
				so, sa := mustPair(b)
				g := rawGCM(b)
				pt := make([]byte, n)
				frame, _ := so.Seal(pt)
				var nonce [12]byte
				rawCT := g.Seal(nil, nonce[:], pt, nil)
				var ratios []float64
				var sealNS, rawNS time.Duration
				for b.Loop() {
					t0 := time.Now()
					for range batch {
						if op == "seal" {
							so.send.mu.Lock()
							so.send.seq, so.send.bytes = 0, 0
							so.send.mu.Unlock()
							if _, err := so.Seal(pt); err != nil {
								b.Fatal(err)
							}
						} else {
							sa.recv.mu.Lock()
							sa.recv.seq = 0
							sa.recv.mu.Unlock()
							if _, err := sa.Open(frame); err != nil {
								b.Fatal(err)
							}
						}
					}
					t1 := time.Now()
					for i := range batch {
						if op == "seal" {
							binary.BigEndian.PutUint64(nonce[4:], uint64(i))
							_ = g.Seal(make([]byte, 0, n+TagSize), nonce[:], pt, nil)
						} else if _, err := g.Open(nil, nonce[:], rawCT, nil); err != nil {
							b.Fatal(err)
						}
					}
					t2 := time.Now()
					sealNS += t1.Sub(t0)
					rawNS += t2.Sub(t1)
					ratios = append(ratios, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
				}
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "seal/raw")
				b.ReportMetric(float64(sealNS.Nanoseconds())/float64(b.N*batch), "seal-ns/op")
				b.ReportMetric(float64(rawNS.Nanoseconds())/float64(b.N*batch), "raw-ns/op")
				b.ReportMetric(float64(n)*float64(b.N*batch)/rawNS.Seconds()/1e6, "raw-MB/s")
				b.ReportMetric(float64(n)*float64(b.N*batch)/sealNS.Seconds()/1e6, "seal-MB/s")
			})
		}
	}
}
