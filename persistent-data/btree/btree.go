package btree

import (
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

// Empty is dm_btree_empty(): a new empty leaf root.
func Empty(info *Info) (uint64, error) {
	b, err := newBlock(info)
	if err != nil {
		return 0, err
	}
	n := Node(b.Data())
	clear(n)
	n.SetFlags(LeafNode)
	n.setNr(0)
	n.setMax(CalcMaxEntries(info.VT.Size))
	n.setValueSize(info.VT.Size)
	loc := b.Location()
	unlock(info, b)
	return loc, nil
}

// Del is dm_btree_del(): drop a reference on root, freeing every node whose
// count reaches zero and decrementing the values of freed leaves.
func Del(info *Info, root uint64) error {
	type frame struct {
		b        *block.Block
		n        Node
		level    int
		nr, next int
	}
	var stack []frame
	tm := info.TM
	push := func(b uint64, level int) error {
		if len(stack) >= 63 {
			return fmt.Errorf("btree deletion stack out of memory: %w", linuxerr.ENOMEM)
		}
		rc, err := tm.Ref(b)
		if err != nil {
			return err
		}
		if rc > 1 {
			// Shared: drop our reference and leave the children.
			return tm.Dec(b)
		}
		leafSize := info.VT.Size
		if level < info.Levels-1 {
			leafSize = 8
		}
		blk, err := readNode(info, b, leafSize)
		if err != nil {
			return err
		}
		n := Node(blk.Data())
		stack = append(stack, frame{b: blk, n: n, level: level, nr: n.NrEntries()})
		return nil
	}
	pop := func() {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		tm.Dec(f.b.Location())
		tm.Unlock(f.b)
	}
	err := push(root, 0)
	for err == nil && len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next >= f.nr {
			pop()
			continue
		}
		if f.n.IsInternal() {
			b := f.n.Value64(f.next)
			f.next++
			err = push(b, f.level)
		} else if f.level < info.Levels-1 {
			b := f.n.Value64(f.next)
			f.next++
			err = push(b, f.level+1)
		} else {
			if info.VT.Dec != nil {
				info.VT.Dec(f.n.values(0, f.nr), f.nr)
			}
			pop()
		}
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		tm.Unlock(f.b)
	}
	return err
}

func lookupRaw(s *roSpine, b uint64, key uint64, search func(Node, uint64) int, vsize int, dst []byte) (uint64, error) {
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return 0, errDepth()
		}
		if err := s.step(b, vsize); err != nil {
			return 0, err
		}
		n := s.node()
		i := search(n, key)
		if i < 0 || i >= n.NrEntries() {
			return 0, linuxerr.ENODATA
		}
		if n.IsInternal() {
			b = n.Value64(i)
		}
		if n.IsLeaf() {
			if dst != nil {
				copy(dst, n.Value(i))
			}
			return n.Key(i), nil
		}
	}
}

// Lookup is dm_btree_lookup(): the value for keys (one per level) is copied
// into dst (which may be nil to test presence). ENODATA if absent.
func Lookup(info *Info, root uint64, keys []uint64, dst []byte) error {
	s := roSpine{info: info}
	defer s.exit()
	var internal [8]byte
	for level := 0; level < info.Levels; level++ {
		var d []byte
		size := 8
		if level == info.Levels-1 {
			d, size = dst, info.VT.Size
		} else {
			d = internal[:]
		}
		rkey, err := lookupRaw(&s, root, keys[level], LowerBound, size, d)
		if err != nil {
			return err
		}
		if rkey != keys[level] {
			return linuxerr.ENODATA
		}
		root = le.Uint64(internal[:])
	}
	return nil
}

func lookupNextSingle(info *Info, root, key uint64, dst []byte, depth int) (uint64, error) {
	if depth > maxDepth {
		return 0, errDepth()
	}
	blk, err := readNode(info, root, info.VT.Size)
	if err != nil {
		return 0, err
	}
	defer unlock(info, blk)
	n := Node(blk.Data())
	nr := n.NrEntries()
	if n.IsInternal() {
		i := LowerBound(n, key)
		if i < 0 {
			i = 0
		}
		if i >= nr {
			return 0, linuxerr.ENODATA
		}
		rkey, err := lookupNextSingle(info, n.Value64(i), key, dst, depth+1)
		if err == linuxerr.ENODATA && i < nr-1 {
			i++
			rkey, err = lookupNextSingle(info, n.Value64(i), key, dst, depth+1)
		}
		return rkey, err
	}
	i := upperBound(n, key)
	if i < 0 || i >= nr {
		return 0, linuxerr.ENODATA
	}
	copy(dst, n.Value(i))
	return n.Key(i), nil
}

// LookupNext is dm_btree_lookup_next(): the first entry with key >= the last
// level key (the upper levels must match exactly).
func LookupNext(info *Info, root uint64, keys []uint64, dst []byte) (uint64, error) {
	s := roSpine{info: info}
	var internal [8]byte
	level := 0
	for ; level < info.Levels-1; level++ {
		rkey, err := lookupRaw(&s, root, keys[level], LowerBound, 8, internal[:])
		if err != nil {
			s.exit()
			return 0, err
		}
		if rkey != keys[level] {
			s.exit()
			return 0, linuxerr.ENODATA
		}
		root = le.Uint64(internal[:])
	}
	s.exit()
	return lookupNextSingle(info, root, keys[level], dst, 0)
}

func findKey(s *roSpine, b uint64, highest bool, wantNext bool, leafSize int) (key uint64, next uint64, err error) {
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return 0, 0, errDepth()
		}
		if err := s.step(b, leafSize); err != nil {
			return 0, 0, err
		}
		n := s.node()
		i := n.NrEntries()
		if i == 0 {
			return 0, 0, linuxerr.ENODATA
		}
		i--
		if highest {
			key = n.Key(i)
		} else {
			key = n.Key(0)
		}
		if wantNext || n.IsInternal() {
			if highest {
				b = n.Value64(i)
			} else {
				b = n.Value64(0)
			}
		}
		if !n.IsInternal() {
			return key, b, nil
		}
	}
}

// FindKey is dm_btree_find_highest_key() / dm_btree_find_lowest_key(): it
// fills keys level by level and returns how many levels had an entry.
func FindKey(info *Info, root uint64, highest bool, keys []uint64) (int, error) {
	s := roSpine{info: info}
	defer s.exit()
	count := 0
	for level := 0; level < info.Levels; level++ {
		leafSize := 8
		if level == info.Levels-1 {
			leafSize = info.VT.Size
		}
		k, next, err := findKey(&s, root, highest, level != info.Levels-1, leafSize)
		if err == linuxerr.ENODATA {
			break
		}
		if err != nil {
			return 0, err
		}
		keys[level] = k
		root = next
		count++
	}
	return count, nil
}

// Walk is dm_btree_walk() for single level trees: fn is called for every
// leaf entry in key order.
func Walk(info *Info, root uint64, fn func(key uint64, value []byte) error) error {
	return walk(info, root, fn, 0)
}

func walk(info *Info, root uint64, fn func(key uint64, value []byte) error, depth int) error {
	if depth > maxDepth {
		return errDepth()
	}
	blk, err := readNode(info, root, info.VT.Size)
	if err != nil {
		return err
	}
	defer unlock(info, blk)
	n := Node(blk.Data())
	for i := 0; i < n.NrEntries(); i++ {
		if n.IsInternal() {
			err = walk(info, n.Value64(i), fn, depth+1)
		} else {
			err = fn(n.Key(i), n.Value(i))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
