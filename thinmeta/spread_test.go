package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// TestCountTreeHeldLeaf: countTree's leaf callback holds its leaf while it
// reads on (the recount walks every device's subtree from the top-level
// leaf). With 40 subtrees in chunks of their own, more than the Image
// caches, the leaf's memory must not be reused meanwhile.
func TestCountTreeHeldLeaf(t *testing.T) {
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
	im := NewImage(dev)
	var got []uint64
	err := im.countTree(1, func(uint64) bool { return true }, func(n btree.Node) error {
		for i := 0; i < n.NrEntries(); i++ {
			got = append(got, n.Value64(i))
			if err := im.countTree(n.Value64(i), func(uint64) bool { return true }, nil); err != nil {
				return err
			}
		}
		return nil
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
}
