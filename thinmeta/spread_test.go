package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// TestHeldLeaf: a walk's leaf callback holds its leaf while it walks
// other trees (the recount walks every device's subtree from the
// top-level leaf; ReadTree's callers read a device's mappings from the
// top-level entry). With 40 subtrees in chunks of their own, more than the
// Image caches, the leaf's memory must not be reused meanwhile.
func TestHeldLeaf(t *testing.T) {
	const children = 40
	dev := block.NewMemDevice((children + 2) * chunkBlocks * block.Size)
	leaf := func(loc uint64, values []uint64) {
		p := make([]byte, block.Size)
		n := btree.Node(p)
		le.PutUint32(p[4:], btree.LeafNode)
		le.PutUint64(p[8:], loc)
		le.PutUint32(p[16:], uint32(len(values)))
		le.PutUint32(p[20:], uint32(btree.CalcMaxEntries(8)))
		le.PutUint32(p[24:], 8)
		for i, v := range values {
			le.PutUint64(p[btree.HeaderSize+8*i:], uint64(i))
			le.PutUint64(n.Value(i), v)
		}
		le.PutUint32(p, block.Checksum(p[4:], btree.CsumXor))
		if _, err := dev.WriteAt(p, int64(loc)*block.Size); err != nil {
			t.Fatal(err)
		}
	}
	var want []uint64
	for k := uint64(1); k <= children; k++ {
		want = append(want, k*chunkBlocks)
		leaf(k*chunkBlocks, nil)
	}
	leaf(1, want)
	all := func(uint64) bool { return true }
	for _, tc := range []struct {
		name string
		walk func(im *Image, sub func(root uint64) error) error
	}{
		{"countTree", func(im *Image, sub func(uint64) error) error {
			return im.countTree(1, all, func(n btree.Node) error {
				for i := 0; i < n.NrEntries(); i++ {
					if err := sub(n.Value64(i)); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		{"ReadTree", func(im *Image, sub func(uint64) error) error {
			return im.ReadTree(1, 8, nil, func(_ uint64, v []byte) error { return sub(le.Uint64(v)) })
		}},
		{"WalkTree", func(im *Image, sub func(uint64) error) error {
			return im.WalkTree(1, func(v *NodeVisit) (bool, error) {
				for i := 0; v.Err == nil && i < v.Node.NrEntries(); i++ {
					if err := sub(v.Node.Value64(i)); err != nil {
						return false, err
					}
				}
				return false, v.Err
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := NewImage(dev)
			var got []uint64
			err := tc.walk(im, func(root uint64) error {
				got = append(got, root)
				return im.ReadTree(root, 8, nil, nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("visited %d subtrees, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("subtree %d at block %d, want %d: the held leaf changed", i, got[i], want[i])
				}
			}
		})
	}
}
