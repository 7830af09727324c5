package app

import "testing"

func TestChunkSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		n    uint64
		all  bool
		set  []uint64
		want uint64
	}{
		{"empty file", 0, true, nil, 0},
		{"none", 130, false, nil, 0},
		{"all", 130, true, nil, 130},
		{"word edges", 130, false, []uint64{0, 63, 64, 127, 128, 129}, 6},
		{"twice", 10, false, []uint64{3, 3}, 1},
		{"all and more", 65, true, []uint64{64}, 65},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newChunkSet(tc.n, tc.all)
			for _, c := range tc.set {
				s.set(c)
			}
			if got := s.count(); got != tc.want {
				t.Fatalf("count %d, want %d", got, tc.want)
			}
			in := map[uint64]bool{}
			for _, c := range tc.set {
				in[c] = true
			}
			for c := range tc.n {
				if s.has(c) != (tc.all || in[c]) {
					t.Errorf("has(%d) = %v", c, s.has(c))
				}
			}
		})
	}
}
