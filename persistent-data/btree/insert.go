package btree

import (
	"github.com/dmsim/dmsim/persistent-data/block"
)

// redistribute2 evens out two siblings (redistribute2 in dm-btree.c).
func redistribute2(left, right Node) {
	nrLeft, nrRight := left.NrEntries(), right.NrEntries()
	total := nrLeft + nrRight
	targetLeft := total / 2
	targetRight := total - targetLeft
	if nrLeft < targetLeft {
		delta := targetLeft - nrLeft
		copyEntries(left, nrLeft, right, 0, delta)
		shiftDown(right, delta)
	} else if nrLeft > targetLeft {
		delta := nrLeft - targetLeft
		if nrRight > 0 {
			shiftUp(right, delta)
		}
		copyEntries(right, 0, left, targetLeft, delta)
	}
	left.setNr(targetLeft)
	right.setNr(targetRight)
}

// redistribute3 spreads left and right over three nodes; center is empty.
func redistribute3(left, center, right Node) {
	nrLeft, nrRight := left.NrEntries(), right.NrEntries()
	total := nrLeft + nrRight
	targetLeft := total / 3
	targetCenter := (total - targetLeft) / 2
	targetRight := total - targetLeft - targetCenter
	if nrLeft < targetLeft {
		leftShort := targetLeft - nrLeft
		copyEntries(left, nrLeft, right, 0, leftShort)
		copyEntries(center, 0, right, leftShort, targetCenter)
		shiftDown(right, nrRight-targetRight)
	} else if nrLeft < targetLeft+targetCenter {
		leftToCenter := nrLeft - targetLeft
		copyEntries(center, 0, left, targetLeft, leftToCenter)
		copyEntries(center, leftToCenter, right, 0, targetCenter-leftToCenter)
		shiftDown(right, nrRight-targetRight)
	} else {
		rightShort := targetRight - nrRight
		shiftUp(right, rightShort)
		copyEntries(right, 0, left, nrLeft-rightShort, rightShort)
		copyEntries(center, 0, left, targetLeft, nrLeft-targetLeft)
	}
	left.setNr(targetLeft)
	center.setNr(targetCenter)
	right.setNr(targetRight)
}

func initSibling(dst, src Node) {
	dst.SetFlags(src.Flags())
	dst.setNr(0)
	dst.setMax(src.MaxEntries())
	dst.setValueSize(src.ValueSize())
}

// splitOneIntoTwo is split_one_into_two(): a new right sibling takes half.
func splitOneIntoTwo(s *shadowSpine, parentIndex int, key uint64) error {
	left := s.current()
	right, err := newBlock(s.info)
	if err != nil {
		return err
	}
	ln, rn := Node(left.Data()), Node(right.Data())
	initSibling(rn, ln)
	redistribute2(ln, rn)
	pn := Node(s.parent().Data())
	var loc [8]byte
	le.PutUint64(loc[:], right.Location())
	if err := insertAt(8, pn, parentIndex+1, rn.Key(0), loc[:]); err != nil {
		unlock(s.info, right)
		return err
	}
	if key < rn.Key(0) {
		unlock(s.info, right)
		s.nodes[1] = left
	} else {
		unlock(s.info, left)
		s.nodes[1] = right
	}
	return nil
}

// shadowChild is shadow_child(): shadow child index of parent and repoint it.
func shadowChild(info *Info, vt *ValueType, parent Node, index int) (*block.Block, error) {
	b, inc, err := shadowNode(info, parent.Value64(index))
	if err != nil {
		return nil, err
	}
	if err := checkNode(Node(b.Data()), b.Location(), vt.Size); err != nil {
		unlock(info, b)
		return nil, err
	}
	if inc {
		incChildren(info.TM, Node(b.Data()), vt)
	}
	parent.setValue64(index, b.Location())
	return b, nil
}

// splitTwoIntoThree is split_two_into_three().
func splitTwoIntoThree(s *shadowSpine, parentIndex int, vt *ValueType, key uint64) error {
	parent := s.parent()
	pn := Node(parent.Data())
	var left, middle, right *block.Block
	var middleIndex int
	var err error
	if parentIndex == 0 {
		middleIndex = 1
		left = s.current()
		if right, err = shadowChild(s.info, vt, pn, parentIndex+1); err != nil {
			return err
		}
	} else {
		middleIndex = parentIndex
		right = s.current()
		if left, err = shadowChild(s.info, vt, pn, parentIndex-1); err != nil {
			return err
		}
	}
	if middle, err = newBlock(s.info); err != nil {
		return err
	}
	ln, mn, rn := Node(left.Data()), Node(middle.Data()), Node(right.Data())
	initSibling(mn, ln)
	redistribute3(ln, mn, rn)
	pn.setKey(middleIndex, rn.Key(0))
	var loc [8]byte
	le.PutUint64(loc[:], middle.Location())
	if err := insertAt(8, pn, middleIndex, mn.Key(0), loc[:]); err != nil {
		if s.current() != left {
			unlock(s.info, left)
		}
		unlock(s.info, middle)
		if s.current() != right {
			unlock(s.info, right)
		}
		return err
	}
	switch {
	case key < mn.Key(0):
		unlock(s.info, middle)
		unlock(s.info, right)
		s.nodes[1] = left
	case key < rn.Key(0):
		unlock(s.info, left)
		unlock(s.info, right)
		s.nodes[1] = middle
	default:
		unlock(s.info, left)
		unlock(s.info, middle)
		s.nodes[1] = right
	}
	return nil
}

// splitBeneath is btree_split_beneath(): the root keeps its block and
// becomes an internal node over two new children.
func splitBeneath(s *shadowSpine, key uint64) error {
	newParent := s.current()
	pn := Node(newParent.Data())
	size := s.info.VT.Size
	if pn.IsInternal() {
		size = 8
	}
	left, err := newBlock(s.info)
	if err != nil {
		return err
	}
	ln := Node(left.Data())
	nrLeft := pn.NrEntries() / 2
	ln.SetFlags(pn.Flags())
	ln.setNr(nrLeft)
	ln.setMax(pn.MaxEntries())
	ln.setValueSize(pn.ValueSize())
	copy(ln[HeaderSize:HeaderSize+8*nrLeft], pn[HeaderSize:])
	copy(ln[ln.valueOff(0):ln.valueOff(0)+nrLeft*size], pn[pn.valueOff(0):])

	right, err := newBlock(s.info)
	if err != nil {
		unlock(s.info, left)
		return err
	}
	rn := Node(right.Data())
	nrRight := pn.NrEntries() - nrLeft
	rn.SetFlags(pn.Flags())
	rn.setNr(nrRight)
	rn.setMax(pn.MaxEntries())
	rn.setValueSize(pn.ValueSize())
	copy(rn[HeaderSize:HeaderSize+8*nrRight], pn[HeaderSize+8*nrLeft:])
	copy(rn[rn.valueOff(0):rn.valueOff(0)+nrRight*size], pn[pn.valueOff(nrLeft):])

	pn.SetFlags(InternalNode)
	pn.setNr(2)
	pn.setMax(CalcMaxEntries(8))
	pn.setValueSize(8)
	pn.setKey(0, ln.Key(0))
	pn.setValue64(0, left.Location())
	pn.setKey(1, rn.Key(0))
	pn.setValue64(1, right.Location())
	unlock(s.info, left)
	unlock(s.info, right)
	return nil
}

func rebalanceLeft(s *shadowSpine, vt *ValueType, parentIndex int, key uint64) error {
	parent := Node(s.parent().Data())
	sib, err := shadowChild(s.info, vt, parent, parentIndex-1)
	if err != nil {
		return err
	}
	left, right := Node(sib.Data()), Node(s.current().Data())
	redistribute2(left, right)
	parent.setKey(parentIndex, right.Key(0))
	if key < right.Key(0) {
		unlock(s.info, s.nodes[1])
		s.nodes[1] = sib
	} else {
		unlock(s.info, sib)
	}
	return nil
}

func rebalanceRight(s *shadowSpine, vt *ValueType, parentIndex int, key uint64) error {
	parent := Node(s.parent().Data())
	sib, err := shadowChild(s.info, vt, parent, parentIndex+1)
	if err != nil {
		return err
	}
	left, right := Node(s.current().Data()), Node(sib.Data())
	redistribute2(left, right)
	parent.setKey(parentIndex+1, right.Key(0))
	if key < right.Key(0) {
		unlock(s.info, sib)
	} else {
		unlock(s.info, s.nodes[1])
		s.nodes[1] = sib
	}
	return nil
}

func nodeFreeSpace(info *Info, b uint64) (int, error) {
	blk, err := bnReadLock(info, b)
	if err != nil {
		return 0, err
	}
	n := Node(blk.Data())
	space := n.MaxEntries() - n.NrEntries()
	unlock(info, blk)
	return space, nil
}

// spaceThreshold is SPACE_THRESHOLD: the free entries a sibling needs
// before entries are moved into it.
const spaceThreshold = 8

// rebalanceOrSplit is rebalance_or_split().
func rebalanceOrSplit(s *shadowSpine, vt *ValueType, parentIndex int, key uint64) error {
	parent := Node(s.parent().Data())
	nrParent := parent.NrEntries()
	leftShared, rightShared := false, false
	var err error
	if parentIndex > 0 {
		leftB := parent.Value64(parentIndex - 1)
		if leftShared, err = s.info.TM.BlockIsShared(leftB); err != nil {
			return err
		}
		if !leftShared {
			free, err := nodeFreeSpace(s.info, leftB)
			if err != nil {
				return err
			}
			if free >= spaceThreshold {
				return rebalanceLeft(s, vt, parentIndex, key)
			}
		}
	}
	if parentIndex < nrParent-1 {
		rightB := parent.Value64(parentIndex + 1)
		if rightShared, err = s.info.TM.BlockIsShared(rightB); err != nil {
			return err
		}
		if !rightShared {
			free, err := nodeFreeSpace(s.info, rightB)
			if err != nil {
				return err
			}
			if free >= spaceThreshold {
				return rebalanceRight(s, vt, parentIndex, key)
			}
		}
	}
	if leftShared || rightShared || nrParent <= 2 || parentIndex == 0 || parentIndex+1 == nrParent {
		return splitOneIntoTwo(s, parentIndex, key)
	}
	return splitTwoIntoThree(s, parentIndex, vt, key)
}

func containsKey(n Node, key uint64) bool {
	i := LowerBound(n, key)
	return i >= 0 && n.Key(i) == key
}

func hasSpaceForInsert(n Node, key uint64) bool {
	if n.NrEntries() == n.MaxEntries() {
		if n.IsLeaf() {
			return containsKey(n, key)
		}
		return false
	}
	return true
}

// insertRaw is btree_insert_raw(): shadow down to the leaf for key, making
// room on the way; returns the index to insert or overwrite at.
func insertRaw(s *shadowSpine, root uint64, vt *ValueType, key uint64, index int) (int, error) {
	i, top := index, true
	var n Node
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return 0, errDepth()
		}
		if err := s.step(root, vt); err != nil {
			return 0, err
		}
		if s.hasParent() && i >= 0 {
			Node(s.parent().Data()).setValue64(i, s.current().Location())
		}
		n = Node(s.current().Data())
		// The tools split a full node even to overwrite.
		if !hasSpaceForInsert(n, key) || s.info.SplitOnly && n.NrEntries() == n.MaxEntries() {
			var err error
			switch {
			case top:
				err = splitBeneath(s, key)
			case s.info.SplitOnly:
				err = splitOneIntoTwo(s, i, key)
			default:
				err = rebalanceOrSplit(s, vt, i, key)
			}
			if err != nil {
				return 0, err
			}
			n = Node(s.current().Data())
		}
		i = LowerBound(n, key)
		if n.IsLeaf() {
			break
		}
		if i < 0 {
			n.setKey(0, key)
			i = 0
		}
		root = n.Value64(i)
		top = false
	}
	if i < 0 || n.Key(i) != key {
		i++
	}
	return i, nil
}

func needInsert(n Node, key uint64, index int) bool {
	return index >= n.NrEntries() || n.Key(index) != key
}

// Insert is dm_btree_insert_notify(): insert or overwrite the value for keys
// and return the new root; inserted is false for an overwrite (whose old
// value is decremented unless Equal says it is the same).
func Insert(info *Info, root uint64, keys []uint64, value []byte) (newRoot uint64, inserted bool, err error) {
	le64vt := Le64Type(info.TM)
	s := shadowSpine{info: info}
	defer s.exit()
	index := -1
	b := root
	level := 0
	var n Node
	for ; level < info.Levels-1; level++ {
		if index, err = insertRaw(&s, b, &le64vt, keys[level], index); err != nil {
			return 0, false, err
		}
		n = Node(s.current().Data())
		if needInsert(n, keys[level], index) {
			newTree, err := Empty(info)
			if err != nil {
				return 0, false, err
			}
			var v [8]byte
			le.PutUint64(v[:], newTree)
			if err := insertAt(8, n, index, keys[level], v[:]); err != nil {
				return 0, false, err
			}
		}
		b = n.Value64(index)
	}
	if index, err = insertRaw(&s, b, &info.VT, keys[level], index); err != nil {
		return 0, false, err
	}
	n = Node(s.current().Data())
	if needInsert(n, keys[level], index) {
		if err := insertAt(info.VT.Size, n, index, keys[level], value); err != nil {
			return 0, false, err
		}
		inserted = true
	} else {
		old := n.Value(index)
		if info.VT.Dec != nil && (info.VT.Equal == nil || !info.VT.Equal(old, value)) {
			info.VT.Dec(old, 1)
		}
		copy(old, value)
	}
	return s.root, inserted, nil
}

// GetOverwriteLeaf is btree_get_overwrite_leaf() for single level trees:
// shadow the path to the leaf holding key (which must exist) and return it
// write locked with the entry's index.
func GetOverwriteLeaf(info *Info, root uint64, key uint64) (newRoot uint64, leaf *block.Block, index int, err error) {
	s := shadowSpine{info: info}
	i := -1
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			s.exit()
			return 0, nil, 0, errDepth()
		}
		if err = s.step(root, &info.VT); err != nil {
			s.exit()
			return 0, nil, 0, err
		}
		if s.hasParent() && i >= 0 {
			Node(s.parent().Data()).setValue64(i, s.current().Location())
		}
		n := Node(s.current().Data())
		i = LowerBound(n, key)
		if i < 0 || i >= n.NrEntries() {
			s.exit()
			return 0, nil, 0, errMissing(key)
		}
		if n.IsLeaf() {
			if n.Key(i) != key {
				s.exit()
				return 0, nil, 0, errMissing(key)
			}
			break
		}
		root = n.Value64(i)
	}
	leaf = s.current()
	s.count--
	s.exit()
	return s.root, leaf, i, nil
}
