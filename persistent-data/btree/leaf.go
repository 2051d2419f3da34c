package btree

import "github.com/dmsim/dmsim/linuxerr"

// LookupLeaf is Lookup on a single-level tree that also names the leaf
// the key was found in, for a caller that keeps it while the tree does
// not change (LookupInLeaf): a run of lookups of nearby keys (sequential
// reads of a thin device) then reads one node each instead of walking down
// from the root. A cache of dmsim's: the kernel's dm_btree_lookup() walks
// from the root every time.
func LookupLeaf(info *Info, root, key uint64, dst []byte) (uint64, error) {
	s := roSpine{info: info}
	defer s.exit()
	rkey, err := lookupRaw(&s, root, key, LowerBound, info.VT.Size, dst)
	if err != nil {
		return 0, err
	}
	if rkey != key {
		return 0, linuxerr.ENODATA
	}
	return s.nodes[s.count-1].Location(), nil
}

// LookupInLeaf looks key up in leaf alone: a leaf LookupLeaf named, of a
// tree that has not changed since. Every key of the tree between the
// leaf's first and last keys is in the leaf, so a key in that range gets
// the answer the walk from the root would give (ok); for a key outside it
// ok is false and the caller walks the tree. An error reading the leaf is
// the walk's answer too, as the walk would have reached the same leaf.
func LookupInLeaf(info *Info, leaf, key uint64, dst []byte) (ok bool, err error) {
	blk, err := readNode(info, leaf, info.VT.Size)
	if err != nil {
		return true, err
	}
	defer unlock(info, blk)
	n := Node(blk.Data())
	nr := n.NrEntries()
	if !n.IsLeaf() || nr == 0 || key < n.Key(0) || key > n.Key(nr-1) {
		return false, nil
	}
	i := LowerBound(n, key)
	if n.Key(i) != key {
		return true, linuxerr.ENODATA
	}
	if dst != nil {
		copy(dst, n.Value(i))
	}
	return true, nil
}
