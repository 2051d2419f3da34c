package btree

import (
	"github.com/dmsim/dmsim/persistent-data/block"
)

// Cursor makes a run of Inserts into one single-level tree cheap when
// they land in the same leaf, as thin_restore's sorted mappings do: it
// keeps the leaf the last insert reached write locked, with the range of
// keys whose top-down insert would reach it, while every node on the way
// is a shadow of this transaction that is not shared and not full. An
// insert of such a key would then shadow each node in place and split
// nothing: the cursor changes the leaf alone, to the same bytes. Any
// other insert takes the general path (Insert) and moves the cursor.
//
// Nothing else may change the tree, or commit, while the cursor holds a
// leaf: Release it first. Tools only (thin_restore): the kernel never
// uses it.
type Cursor struct {
	Info   *Info
	leaf   *block.Block
	root   uint64
	lo, hi uint64 // keys in [lo, hi] reach the leaf
}

// Release drops the leaf.
func (c *Cursor) Release() {
	if c.leaf != nil {
		unlock(c.Info, c.leaf)
		c.leaf = nil
	}
}

// Insert is Insert(c.Info, root, []uint64{key}, value).
func (c *Cursor) Insert(root, key uint64, value []byte) (newRoot uint64, inserted bool, err error) {
	if c.leaf != nil && root == c.root && key >= c.lo && key <= c.hi {
		n := Node(c.leaf.Data())
		if nr := n.NrEntries(); nr < n.MaxEntries() {
			i := nr - 1
			if nr > 0 && key <= n.Key(i) {
				i = LowerBound(n, key)
			}
			if i < 0 || n.Key(i) != key {
				return root, true, insertAt(c.Info.VT.Size, n, i+1, key, value)
			}
			old := n.Value(i)
			if vt := c.Info.VT; vt.Dec != nil && (vt.Equal == nil || !vt.Equal(old, value)) {
				vt.Dec(old, 1)
			}
			copy(old, value)
			return root, false, nil
		}
	}
	c.Release()
	if newRoot, inserted, err = Insert(c.Info, root, []uint64{key}, value); err != nil {
		return 0, false, err
	}
	c.seek(newRoot, key)
	return newRoot, inserted, nil
}

// seek takes the leaf key reaches from root, if the way there qualifies.
func (c *Cursor) seek(root, key uint64) {
	tm := c.Info.TM
	inPlace := func(b uint64) bool {
		if !tm.IsShadow(b) {
			return false
		}
		shared, err := tm.BlockIsShared(b)
		return err == nil && !shared
	}
	lo, hi := uint64(0), ^uint64(0)
	b := root
	for depth := 0; depth <= maxDepth; depth++ {
		if !inPlace(b) {
			return
		}
		blk, err := readNode(c.Info, b, c.Info.VT.Size)
		if err != nil {
			return
		}
		n := Node(blk.Data())
		if n.IsLeaf() {
			unlock(c.Info, blk)
			if blk, err = tm.BM().WriteLock(b, Validator); err != nil {
				return
			}
			c.leaf, c.root, c.lo, c.hi = blk, root, lo, hi
			return
		}
		nr := n.NrEntries()
		i := LowerBound(n, key)
		if nr == n.MaxEntries() || i < 0 {
			unlock(c.Info, blk)
			return
		}
		lo = max(lo, n.Key(i))
		if i+1 < nr {
			k := n.Key(i + 1)
			if k == 0 {
				unlock(c.Info, blk)
				return
			}
			hi = min(hi, k-1)
		}
		b = n.Value64(i)
		unlock(c.Info, blk)
	}
}
