package thintools

// LOCAL SHIM (walk side): a depth-first, validating walk of one btree level
// with the 0.9.0 tools' damage semantics — node checks, lost key ranges and
// the damage descriptions they print. To be replaced by thinmeta's walker.

import (
	"fmt"
	"strconv"
)

// keyRange is a run of lost keys: [begin, end), end absent when open.
type keyRange struct {
	begin  uint64
	end    uint64
	hasEnd bool
}

func (r keyRange) String() string {
	e := "-"
	if r.hasEnd {
		e = strconv.FormatUint(r.end, 10)
	}
	return fmt.Sprintf("[%d, %s]", r.begin, e)
}

// damage is one lost range with the reasons found for it.
type damage struct {
	keys keyRange
	desc string
}

// walker walks one level of a btree. Leaves must hold values of valueSize
// bytes; visit sees every entry of every good leaf in key order.
type walker struct {
	im        *image
	valueSize uint32
	visit     func(key uint64, value []byte) error
	onDamage  func(d damage)
	// seen avoids walking a node twice (shared subtrees).
	seen bitset

	damaged     bool
	damageBegin uint64
	reasons     string
	lastLeafKey *uint64
}

func newWalker(im *image, valueSize uint32, visit func(uint64, []byte) error, onDamage func(damage)) *walker {
	return &walker{im: im, valueSize: valueSize, visit: visit, onDamage: onDamage}
}

// walk visits the tree at root; a visit error (not damage) aborts it.
func (w *walker) walk(root uint64) error {
	w.damaged, w.damageBegin, w.reasons, w.lastLeafKey = false, 0, "", nil
	if err := w.walkNode(root, true, 0); err != nil {
		return err
	}
	if w.damaged {
		w.issue(keyRange{begin: w.damageBegin})
	}
	return nil
}

func (w *walker) issue(r keyRange) {
	d := damage{keys: r, desc: w.reasons}
	w.reasons = ""
	w.damaged = false
	if w.onDamage != nil {
		w.onDamage(d)
	}
}

func (w *walker) bad(desc string) {
	w.reasons += desc
	w.damaged = true
}

func (w *walker) good(begin, next uint64) {
	if w.damaged {
		w.issue(keyRange{begin: w.damageBegin, end: begin, hasEnd: true})
	}
	w.damageBegin = next
}

func (w *walker) walkNode(b uint64, root bool, parentKey uint64) error {
	n, err := w.im.node(b)
	if err != nil {
		if te, ok := err.(toolError); ok {
			w.bad(string(te))
			return nil
		}
		return err
	}
	f := n.flags()
	if f&flagInternal != 0 && f&flagLeaf != 0 {
		return toolError("btree node is both internal and leaf")
	}
	if f&(flagInternal|flagLeaf) == 0 {
		return toolError("unknown node type")
	}
	internal := f&flagInternal != 0
	if w.seen.has(b) {
		return nil
	}
	w.seen.add(b)
	want := w.valueSize
	if internal {
		want = 8
	}
	if msg := checkNode(n, b, want, root, parentKey, !internal, w.lastLeafKey); msg != "" {
		w.bad(msg)
		return nil
	}
	nr := int(n.nrEntries())
	if internal {
		if nr > 0 {
			w.good(n.key(0), n.key(0))
		}
		for i := 0; i < nr; i++ {
			if err := w.walkNode(n.value64(i), false, n.key(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if nr > 0 {
		last := n.key(nr - 1)
		w.lastLeafKey = &last
		w.good(n.key(0), last+1)
	}
	for i := 0; i < nr; i++ {
		if err := w.visit(n.key(i), n.value(i)); err != nil {
			return err
		}
	}
	return nil
}

// checkNode runs btree_node_checker's checks in the tools' order and
// returns the first failure's text.
func checkNode(n node, loc uint64, valueSize uint32, root bool, parentKey uint64, leaf bool, lastLeaf *uint64) string {
	if n.blocknr() != loc {
		return fmt.Sprintf("block number mismatch: actually %d, claims %d", loc, n.blocknr())
	}
	if n.valueSize() != valueSize {
		return fmt.Sprintf("value size mismatch: expected %d, but got %d (block %d).", valueSize, n.valueSize(), loc)
	}
	max := n.maxEntries()
	if uint64(8+n.valueSize())*uint64(max)+nodeHeader > blockSize {
		return fmt.Sprintf("max entries too large: %d (block %d)", max, loc)
	}
	if max%3 != 0 {
		return fmt.Sprintf("max entries is not divisible by 3: %d (block %d)", max, loc)
	}
	nr := n.nrEntries()
	if nr > max {
		return fmt.Sprintf("bad nr_entries: %d < %d (block %d)", nr, max, loc)
	}
	if !root && nr < max/3 {
		return fmt.Sprintf("too few entries in btree_node: %d, expected at least %d (block %d, max_entries = %d)", nr, max/3, loc, max)
	}
	if nr > 0 {
		last := n.key(0)
		for i := 1; i < int(nr); i++ {
			k := n.key(i)
			if k <= last {
				return fmt.Sprintf("keys are out of order, %d <= %d (block %d)", k, last, loc)
			}
			last = k
		}
	}
	if !root && nr > 0 && parentKey > n.key(0) {
		return fmt.Sprintf("parent key mismatch: parent was %d, but lowest in node was %d (block %d)", parentKey, n.key(0), loc)
	}
	if leaf && nr > 0 && lastLeaf != nil && *lastLeaf >= n.key(0) {
		return fmt.Sprintf("the last key of the previous leaf was %d and the first key of this leaf is %d (block %d)", *lastLeaf, n.key(0), loc)
	}
	return ""
}

// nodeCounter counts references to metadata blocks the way the tools'
// counting visitors do: every node reached gets +1, but a node reached
// again is not descended into. It stops at the first unreadable node.
type nodeCounter struct {
	im     *image
	counts map[uint64]uint32
}

// countTree counts the nodes of a one-level tree; leafFn sees each leaf's
// values (for nested trees and data references).
func (c *nodeCounter) countTree(root uint64, leafFn func(n node) error) error {
	c.counts[root]++
	if c.counts[root] > 1 {
		return nil
	}
	n, err := c.im.node(root)
	if err != nil {
		return err
	}
	if n.flags()&flagInternal != 0 {
		if !n.sane(8) {
			return nil
		}
		nr := int(n.nrEntries())
		for i := 0; i < nr; i++ {
			if err := c.countTree(n.value64(i), leafFn); err != nil {
				return err
			}
		}
		return nil
	}
	if leafFn != nil {
		return leafFn(n)
	}
	return nil
}

// sane reports whether the node's header lets its keys and values of
// valueSize bytes be read inside the block.
func (n node) sane(valueSize uint32) bool {
	return n.valueSize() == valueSize && uint64(8+valueSize)*uint64(n.maxEntries())+nodeHeader <= blockSize &&
		n.nrEntries() <= n.maxEntries()
}
