package transaction

import "testing"

// TestShadowSet: the set holds exactly the blocks added since the last
// reset, across word boundaries and as it grows.
func TestShadowSet(t *testing.T) {
	var s shadowSet
	for _, round := range [][]uint64{
		{0, 63, 64, 1000, 5},
		{1 << 20, 2, 65},
		{},
	} {
		s.reset()
		in := map[uint64]bool{}
		for _, b := range round {
			s.add(b)
			in[b] = true
		}
		for b := uint64(0); b < 1<<20+70; b++ {
			if s.has(b) != in[b] {
				t.Fatalf("round %v: has(%d) = %v", round, b, s.has(b))
			}
		}
	}
}
