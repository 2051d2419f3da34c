package btree_test

import (
	"encoding/binary"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// TestLookupInLeaf: for trees of one leaf and of several, every leaf
// LookupLeaf names answers each key in its range as Lookup does (present:
// the value; absent: ENODATA), and declines keys outside its range.
func TestLookupInLeaf(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys func(i uint64) uint64 // the i-th key inserted
		n    uint64
	}{
		{"one leaf, dense", func(i uint64) uint64 { return i }, 100},
		{"several leaves, dense", func(i uint64) uint64 { return i }, 1000},
		{"several leaves, every third key", func(i uint64) uint64 { return 3*i + 1 }, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 4096, 8)
			root, err := btree.Empty(&e.info)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < tc.n; i++ {
				e.data.IncBlocks(i, i+1)
				if root, _, err = btree.Insert(&e.info, root, []uint64{tc.keys(i)}, val(8, i)); err != nil {
					t.Fatal(err)
				}
			}
			// The leaves, as LookupLeaf names them.
			leaves := map[uint64]bool{}
			var v [8]byte
			for i := uint64(0); i < tc.n; i++ {
				leaf, err := btree.LookupLeaf(&e.info, root, tc.keys(i), v[:])
				if err != nil || binary.LittleEndian.Uint64(v[:]) != i {
					t.Fatalf("LookupLeaf(%d): %d, %v", tc.keys(i), binary.LittleEndian.Uint64(v[:]), err)
				}
				leaves[leaf] = true
			}
			if _, err := btree.LookupLeaf(&e.info, root, tc.keys(tc.n-1)+1, v[:]); err != linuxerr.ENODATA {
				t.Fatalf("LookupLeaf of an absent key: %v", err)
			}
			if tc.n > 200 && len(leaves) < 2 {
				t.Fatalf("%d keys in %d leaves", tc.n, len(leaves))
			}
			maxKey := tc.keys(tc.n-1) + 5
			for leaf := range leaves {
				answered := 0
				for k := uint64(0); k <= maxKey; k++ {
					var got, want [8]byte
					ok, gerr := btree.LookupInLeaf(&e.info, leaf, k, got[:])
					if !ok {
						continue
					}
					answered++
					werr := btree.Lookup(&e.info, root, []uint64{k}, want[:])
					if gerr != werr || (werr == nil && got != want) {
						t.Fatalf("leaf %d, key %d: %x, %v; Lookup: %x, %v", leaf, k, got, gerr, want, werr)
					}
				}
				if answered == 0 {
					t.Fatalf("leaf %d answered no key", leaf)
				}
			}
			if n := e.bm.Locked(); n != 0 {
				t.Fatalf("%d blocks still locked", n)
			}
		})
	}
}
