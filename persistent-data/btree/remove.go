package btree

import (
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

func errMissing(key uint64) error {
	return fmt.Errorf("btree is missing key %d: %w", key, linuxerr.EINVAL)
}

// nodeShift moves all entries by shift places (node_shift()); nr is unchanged.
func nodeShift(n Node, shift int) {
	nr := n.NrEntries()
	if shift < 0 {
		moveEntries(n, 0, n, -shift, nr+shift)
	} else {
		moveEntries(n, shift, n, 0, nr)
	}
}

// nodeCopy is node_copy(): shift < 0 appends the first -shift entries of
// right to left; shift > 0 copies the last shift entries of left to the
// front of right.
func nodeCopy(left, right Node, shift int) error {
	nrLeft := left.NrEntries()
	if left.ValueSize() != right.ValueSize() {
		return fmt.Errorf("mismatched value size: %w", linuxerr.EILSEQ)
	}
	if shift < 0 {
		if nrLeft-shift > left.MaxEntries() {
			return fmt.Errorf("bad shift: %w", linuxerr.EINVAL)
		}
		copyEntries(left, nrLeft, right, 0, -shift)
	} else {
		if shift > right.MaxEntries() {
			return fmt.Errorf("bad shift: %w", linuxerr.EINVAL)
		}
		copyEntries(right, 0, left, nrLeft-shift, shift)
	}
	return nil
}

func deleteAt(n Node, index int) {
	nr := n.NrEntries()
	if c := nr - (index + 1); c > 0 {
		moveEntries(n, index, n, index+1, c)
	}
	n.setNr(nr - 1)
}

func mergeThreshold(n Node) int { return n.MaxEntries() / 3 }

type child struct {
	index int
	block *block.Block
	n     Node
}

func initChild(info *Info, vt *ValueType, parent Node, index int) (child, error) {
	b, inc, err := shadowNode(info, parent.Value64(index))
	if err != nil {
		return child{}, err
	}
	n := Node(b.Data())
	if err := checkNode(n, b.Location(), vt.Size); err != nil {
		info.TM.Unlock(b)
		return child{}, err
	}
	if inc {
		incChildren(info.TM, n, vt)
	}
	parent.setValue64(index, b.Location())
	return child{index, b, n}, nil
}

// shift moves count entries from left to right (count > 0) or from right
// to left (count < 0).
func shift(left, right Node, count int) error {
	nrLeft, nrRight := left.NrEntries(), right.NrEntries()
	max := left.MaxEntries()
	if max != right.MaxEntries() {
		return fmt.Errorf("node max_entries mismatch: %w", linuxerr.EILSEQ)
	}
	if nrLeft-count > max || nrLeft-count < 0 || nrRight+count > max || nrRight+count < 0 {
		return fmt.Errorf("node shift out of bounds: %w", linuxerr.EINVAL)
	}
	if count == 0 {
		return nil
	}
	if count > 0 {
		nodeShift(right, count)
		if err := nodeCopy(left, right, count); err != nil {
			return err
		}
	} else {
		if err := nodeCopy(left, right, count); err != nil {
			return err
		}
		nodeShift(right, count)
	}
	left.setNr(nrLeft - count)
	right.setNr(nrRight + count)
	return nil
}

// rebalance2Nodes is __rebalance2(): merge or even out two siblings.
func rebalance2Nodes(info *Info, parent Node, l, r *child) error {
	left, right := l.n, r.n
	nrLeft, nrRight := left.NrEntries(), right.NrEntries()
	threshold := 2 * (mergeThreshold(left) + 1)
	if nrLeft+nrRight < threshold {
		if err := nodeCopy(left, right, -nrRight); err != nil {
			return err
		}
		left.setNr(nrLeft + nrRight)
		deleteAt(parent, r.index)
		// The right block goes; its children now belong to left.
		return info.TM.Dec(r.block.Location())
	}
	targetLeft := (nrLeft + nrRight) / 2
	if err := shift(left, right, nrLeft-targetLeft); err != nil {
		return err
	}
	parent.setKey(r.index, right.Key(0))
	return nil
}

func rebalance2(s *shadowSpine, info *Info, vt *ValueType, leftIndex int) error {
	parent := Node(s.current().Data())
	l, err := initChild(info, vt, parent, leftIndex)
	if err != nil {
		return err
	}
	r, err := initChild(info, vt, parent, leftIndex+1)
	if err != nil {
		info.TM.Unlock(l.block)
		return err
	}
	err = rebalance2Nodes(info, parent, &l, &r)
	info.TM.Unlock(l.block)
	info.TM.Unlock(r.block)
	return err
}

func deleteCenterNode(info *Info, parent Node, l, c, r *child) error {
	left, center, right := l.n, c.n, r.n
	nrLeft, nrCenter, nrRight := left.NrEntries(), center.NrEntries(), right.NrEntries()
	max := left.MaxEntries()
	sh := max - nrLeft
	if nrCenter < sh {
		sh = nrCenter
	}
	if err := nodeCopy(left, center, -sh); err != nil {
		return err
	}
	left.setNr(nrLeft + sh)
	if sh != nrCenter {
		sh = nrCenter - sh
		if nrRight+sh > max {
			return fmt.Errorf("node shift out of bounds: %w", linuxerr.EINVAL)
		}
		nodeShift(right, sh)
		if err := nodeCopy(center, right, sh); err != nil {
			return err
		}
		right.setNr(nrRight + sh)
	}
	parent.setKey(r.index, right.Key(0))
	deleteAt(parent, c.index)
	r.index--
	if err := info.TM.Dec(c.block.Location()); err != nil {
		return err
	}
	return rebalance2Nodes(info, parent, l, r)
}

func redistribute3Remove(parent Node, l, c, r *child) error {
	left, center, right := l.n, c.n, r.n
	nrLeft, nrCenter, nrRight := left.NrEntries(), center.NrEntries(), right.NrEntries()
	total := nrLeft + nrCenter + nrRight
	targetRight := total / 3
	remainder := 0
	if targetRight*3 != total {
		remainder = 1
	}
	targetLeft := targetRight + remainder
	if targetLeft > left.MaxEntries() {
		return fmt.Errorf("redistribute3: target too large: %w", linuxerr.EINVAL)
	}
	if nrLeft < nrRight {
		s := nrLeft - targetLeft
		if s < 0 && nrCenter < -s {
			if err := shift(left, center, -nrCenter); err != nil {
				return err
			}
			s += nrCenter
			if err := shift(left, right, s); err != nil {
				return err
			}
			nrRight += s
		} else if err := shift(left, center, s); err != nil {
			return err
		}
		if err := shift(center, right, targetRight-nrRight); err != nil {
			return err
		}
	} else {
		s := targetRight - nrRight
		if s > 0 && nrCenter < s {
			if err := shift(center, right, nrCenter); err != nil {
				return err
			}
			s -= nrCenter
			if err := shift(left, right, s); err != nil {
				return err
			}
			nrLeft -= s
		} else if err := shift(center, right, s); err != nil {
			return err
		}
		if err := shift(left, center, nrLeft-targetLeft); err != nil {
			return err
		}
	}
	parent.setKey(c.index, center.Key(0))
	parent.setKey(r.index, right.Key(0))
	return nil
}

func rebalance3(s *shadowSpine, info *Info, vt *ValueType, leftIndex int) error {
	parent := Node(s.current().Data())
	l, err := initChild(info, vt, parent, leftIndex)
	if err != nil {
		return err
	}
	c, err := initChild(info, vt, parent, leftIndex+1)
	if err != nil {
		info.TM.Unlock(l.block)
		return err
	}
	r, err := initChild(info, vt, parent, leftIndex+2)
	if err != nil {
		info.TM.Unlock(l.block)
		info.TM.Unlock(c.block)
		return err
	}
	defer func() {
		info.TM.Unlock(l.block)
		info.TM.Unlock(c.block)
		info.TM.Unlock(r.block)
	}()
	if l.n.MaxEntries() != c.n.MaxEntries() || c.n.MaxEntries() != r.n.MaxEntries() {
		return fmt.Errorf("bad btree metadata, max_entries differ: %w", linuxerr.EILSEQ)
	}
	threshold := mergeThreshold(l.n)*4 + 1
	if l.n.NrEntries()+c.n.NrEntries()+r.n.NrEntries() < threshold {
		return deleteCenterNode(info, parent, &l, &c, &r)
	}
	return redistribute3Remove(parent, &l, &c, &r)
}

// rebalanceChildren is rebalance_children(): make sure the child that key
// lives in has more than the minimum number of entries.
func rebalanceChildren(s *shadowSpine, info *Info, vt *ValueType, key uint64) error {
	n := Node(s.current().Data())
	if n.NrEntries() == 1 {
		// A root with a single child takes over the child's contents.
		b := n.Value64(0)
		c, err := readNode(info, b, vt.Size)
		if err != nil {
			return err
		}
		copy(n, c.Data())
		err = info.TM.Dec(c.Location())
		info.TM.Unlock(c)
		return err
	}
	i := LowerBound(n, key)
	if i < 0 {
		return linuxerr.ENODATA
	}
	hasLeft := i > 0
	hasRight := i < n.NrEntries()-1
	switch {
	case !hasLeft:
		return rebalance2(s, info, vt, i)
	case !hasRight:
		return rebalance2(s, info, vt, i-1)
	default:
		return rebalance3(s, info, vt, i-1)
	}
}

func doLeaf(n Node, key uint64) (int, error) {
	i := LowerBound(n, key)
	if i < 0 || i >= n.NrEntries() || n.Key(i) != key {
		return 0, linuxerr.ENODATA
	}
	return i, nil
}

// removeRaw is remove_raw() (exact = true) and remove_nearest() (exact =
// false): shadow down towards key rebalancing on the way.
func removeRaw(s *shadowSpine, info *Info, vt *ValueType, root, key uint64, index int, exact bool) (int, error) {
	i := index
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return 0, errDepth()
		}
		if err := s.step(root, vt); err != nil {
			return 0, err
		}
		if s.hasParent() {
			Node(s.parent().Data()).setValue64(i, s.current().Location())
		}
		n := Node(s.current().Data())
		if n.IsLeaf() {
			if exact {
				return doLeaf(n, key)
			}
			return LowerBound(n, key), nil
		}
		if err := rebalanceChildren(s, info, vt, key); err != nil {
			return 0, err
		}
		n = Node(s.current().Data())
		if n.IsLeaf() {
			if exact {
				return doLeaf(n, key)
			}
			return LowerBound(n, key), nil
		}
		i = LowerBound(n, key)
		if i < 0 {
			return 0, linuxerr.ENODATA
		}
		root = n.Value64(i)
	}
}

// Remove is dm_btree_remove(): delete keys, decrementing its value. ENODATA
// when absent. As in the kernel, the path has been shadowed even when the
// key is absent: the returned root is then the shadowed tree (the kernel's
// callers drop it, leaving the old root with one reference fewer), so
// callers should look a key up before removing it.
func Remove(info *Info, root uint64, keys []uint64) (uint64, error) {
	le64vt := Le64Type(info.TM)
	s := shadowSpine{info: info}
	defer s.exit()
	index := 0
	last := info.Levels - 1
	for level := 0; level < info.Levels; level++ {
		vt := &le64vt
		if level == last {
			vt = &info.VT
		}
		var err error
		if index, err = removeRaw(&s, info, vt, root, keys[level], index, true); err != nil {
			return s.root, err
		}
		n := Node(s.current().Data())
		if level != last {
			root = n.Value64(index)
			continue
		}
		if info.VT.Dec != nil {
			info.VT.Dec(n.Value(index), 1)
		}
		deleteAt(n, index)
	}
	return s.root, nil
}

// removeOne is remove_one(): remove the first entry in [keys[last], endKey)
// of the leaf holding keys[last]; the last key is advanced past it.
func removeOne(info *Info, root uint64, keys []uint64, endKey uint64) (uint64, error) {
	le64vt := Le64Type(info.TM)
	s := shadowSpine{info: info}
	defer s.exit()
	last := info.Levels - 1
	index := 0
	var err error
	for level := 0; level < last; level++ {
		if index, err = removeRaw(&s, info, &le64vt, root, keys[level], index, true); err != nil {
			return s.root, err
		}
		root = Node(s.current().Data()).Value64(index)
	}
	if index, err = removeRaw(&s, info, &info.VT, root, keys[last], index, false); err != nil {
		return s.root, err
	}
	n := Node(s.current().Data())
	if index < 0 {
		index = 0
	}
	if index >= n.NrEntries() {
		return s.root, linuxerr.ENODATA
	}
	k := n.Key(index)
	if k >= keys[last] && k < endKey {
		if info.VT.Dec != nil {
			info.VT.Dec(n.Value(index), 1)
		}
		deleteAt(n, index)
		keys[last] = k + 1
		return s.root, nil
	}
	return s.root, linuxerr.ENODATA
}

// RemoveLeaves is dm_btree_remove_leaves(): remove consecutive entries from
// keys[last] up to endKey, stopping at the first gap. keys[last] is
// advanced past the removed entries.
func RemoveLeaves(info *Info, root uint64, keys []uint64, endKey uint64) (uint64, int, error) {
	removed := 0
	for {
		nr, err := removeOne(info, root, keys, endKey)
		if err == nil || nr != 0 {
			root = nr
		}
		if err != nil {
			if err == linuxerr.ENODATA {
				return root, removed, nil
			}
			return root, removed, err
		}
		removed++
	}
}
