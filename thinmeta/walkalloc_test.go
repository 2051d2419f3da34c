package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestWalkAllocs: the reader's walks allocate nothing per block (fresh
// memory costs a page fault per page, more than the read), on a device
// tree of hundreds of leaves spread over more chunks than a Fork (thin_check's
// walkers) caches.
func TestWalkAllocs(t *testing.T) {
	const n = 100_000
	ops := []restoreOp{{begin: true, dev: 3}}
	for i := uint64(0); i < n; i++ {
		ops = append(ops, restoreOp{vblock: 2 * i, data: i, time: uint32(i % 5)})
	}
	ops = append(ops, restoreOp{end: true})
	img, err := runRestore(ops, n, 2048, false)
	if err != nil {
		t.Fatal(err)
	}
	dev := block.NewMemDevice(int64(len(img)))
	dev.WriteAt(img, 0)
	im := NewImage(dev)
	sb, err := im.Superblock(SuperblockLocation)
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	if err := im.ReadTree(sb.DataMappingRoot, 8, nil, func(_ uint64, v []byte) error {
		root = le.Uint64(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var leaves, chunks int
	seen := map[uint64]bool{}
	if err := im.WalkTree(root, func(v *NodeVisit) (bool, error) {
		if !v.Node.IsInternal() {
			leaves++
		}
		if c := v.Block / chunkBlocks; !seen[c] {
			seen[c], chunks = true, chunks+1
		}
		return true, v.Err
	}); err != nil {
		t.Fatal(err)
	}
	f := im.Fork()
	if leaves < 200 || chunks <= f.maxChunks {
		t.Fatalf("the tree has %d leaves in %d chunks: too small to tell", leaves, chunks)
	}
	for _, tc := range []struct {
		name string
		walk func() error
	}{
		{"ReadTree", func() error { return f.ReadTree(root, 8, nil, nil) }},
		{"WalkTree", func() error {
			return f.WalkTree(root, func(v *NodeVisit) (bool, error) { return true, v.Err })
		}},
		{"RecountMetadata", func() error { _, err := f.RecountMetadata(&sb, nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(3, func() {
				if e := tc.walk(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%.0f allocations, %d leaves in %d chunks", allocs, leaves, chunks)
			// a few for the walk itself, not one per node or entry
			if allocs > 30 {
				t.Errorf("%.0f allocations for a walk of %d leaves", allocs, leaves)
			}
		})
	}
}
