package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/btree"
)

// TestCachedMappingRoot: every change that can move a device's mapping
// tree lets the next FindBlock see it, through the cached root and the
// cached leaf. Each case warms the caches with lookups of device 1,
// changes the metadata, and compares every answer with a plain two-level
// lookup from pmd.root, in three orders (ascending, descending, strided),
// so that lookups land both inside and outside the last leaf.
func TestCachedMappingRoot(t *testing.T) {
	const nblocks = 300 // enough for the device's tree to have a second level
	cases := []struct {
		name   string
		change func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error))
	}{
		{"insert, same transaction", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			for b := uint64(0); b < nblocks; b++ {
				must(td.InsertBlock(nblocks+b, 5000+b))
			}
		}},
		{"insert after commit", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(pmd.CommitMetadata())
			must(td.InsertBlock(7, 4444))
		}},
		{"remove block", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(td.RemoveBlock(3))
		}},
		{"remove range", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(td.RemoveRange(10, 200))
		}},
		{"snapshot, then the origin is written", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(pmd.CreateSnap(2, 1))
			must(td.InsertBlock(9, 6000))
		}},
		{"another device changes", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(pmd.CreateThin(3))
			other, err := pmd.OpenThinDevice(3)
			must(err)
			for b := uint64(0); b < nblocks; b++ {
				must(other.InsertBlock(b, 8000+b))
			}
			must(other.Close())
		}},
		{"abort", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(pmd.CommitMetadata())
			must(td.InsertBlock(1, 7777))
			must(td.RemoveRange(100, 250))
			if _, err := td.FindBlock(1, true); err != nil {
				t.Fatal(err)
			}
			must(pmd.AbortMetadata())
		}},
		{"metadata snapshot reserved and released", func(t *testing.T, pmd *PoolMetadata, td *ThinDevice, must func(error)) {
			must(pmd.ReserveMetadataSnap())
			must(td.InsertBlock(2, 3333))
			must(pmd.ReleaseMetadataSnap())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, pmd, must := formatForTest(t, 16<<20)
			must(pmd.CreateThin(1))
			td, err := pmd.OpenThinDevice(1)
			must(err)
			for b := uint64(0); b < nblocks; b++ {
				must(td.InsertBlock(b, 1000+b))
			}
			compare := func(when string) {
				t.Helper()
				var order []uint64
				for b := uint64(0); b < 2*nblocks; b++ {
					order = append(order, b)
				}
				for b := uint64(2 * nblocks); b > 0; b-- {
					order = append(order, b-1)
				}
				for b := uint64(0); b < 2*nblocks; b++ {
					order = append(order, b*257%(2*nblocks))
				}
				for _, b := range order {
					got, gerr := td.FindBlock(b, true)
					var v [8]byte
					pmd.mu.Lock()
					werr := btree.Lookup(&pmd.info, pmd.root, []uint64{uint64(td.id), b}, v[:])
					pmd.mu.Unlock()
					var want LookupResult
					if werr == nil {
						want = td.unpack(le.Uint64(v[:]))
					}
					if (gerr == nil) != (werr == nil) || got != want {
						t.Fatalf("%s: block %d: FindBlock %+v, %v; the tree says %+v, %v", when, b, got, gerr, want, werr)
					}
				}
			}
			compare("before")
			c.change(t, pmd, td, must)
			compare("after")
		})
	}
}
