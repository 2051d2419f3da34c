package thinmeta

import (
	"math/rand"
	"testing"
)

// TestRefCounts checks the two-bit counter against a map.
func TestRefCounts(t *testing.T) {
	for _, n := range []uint64{1, 31, 32, 33, 1000} {
		rng := rand.New(rand.NewSource(int64(n)))
		r := newRefCounts(n)
		want := map[uint64]uint32{}
		for i := 0; i < 3000; i++ {
			b := uint64(rng.Int63n(int64(n) + 5))
			switch rng.Intn(4) {
			case 0:
				r.clear(b)
				delete(want, b)
			default:
				r.inc(b)
				if b < n {
					want[b]++
				}
			}
		}
		got := map[uint64]uint32{}
		last := -1
		r.each(func(b uint64, c uint32) {
			if int(b) <= last {
				t.Errorf("n=%d: each out of order at %d", n, b)
			}
			last = int(b)
			got[b] = c
		})
		if len(got) != len(want) {
			t.Errorf("n=%d: each saw %d blocks, want %d", n, len(got), len(want))
		}
		for b, c := range want {
			if got[b] != c || r.get(b) != c {
				t.Errorf("n=%d block %d: each %d, get %d, want %d", n, b, got[b], r.get(b), c)
			}
		}
		if r.get(n+3) != 0 {
			t.Errorf("n=%d: a block beyond the end is counted", n)
		}
	}
}
