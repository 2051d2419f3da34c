package thintools

// The 0.9.0 tools' damage semantics on top of thinmeta's walker: which
// node problems stop a walk, lost key ranges and the descriptions printed
// for them.

import (
	"fmt"
	"strconv"

	"github.com/dmsim/dmsim/thinmeta"
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

// walker walks one level of a btree as the tools' damage visitors do.
// Leaves must hold values of valueSize bytes; visit, when set, sees every
// entry of every good leaf in key order. A range of keys lost to bad nodes begins
// at the end of the last good leaf (or the first key of the last good
// internal node) and ends at the first key of the next good node.
type walker struct {
	im        *image
	valueSize int
	visit     func(key uint64, value []byte) error
	onDamage  func(d damage)
	// seen avoids walking a node twice (shared subtrees).
	seen thinmeta.BlockSet

	damaged     bool
	damageBegin uint64
	reasons     string
	lastLeafKey *uint64 // &lastKey once a leaf was seen
	lastKey     uint64
}

func newWalker(im *image, valueSize int, visit func(uint64, []byte) error, onDamage func(damage)) *walker {
	return &walker{im: im, valueSize: valueSize, visit: visit, onDamage: onDamage}
}

// walk visits the tree at root; a visit error (not damage) aborts it.
func (w *walker) walk(root uint64) error {
	w.damaged, w.damageBegin, w.reasons, w.lastLeafKey = false, 0, "", nil
	if err := w.im.WalkTree(root, w.node); err != nil {
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

func (w *walker) bad(err error) {
	w.reasons += toolText(err).Error()
	w.damaged = true
}

func (w *walker) good(begin, next uint64) {
	if w.damaged {
		w.issue(keyRange{begin: w.damageBegin, end: begin, hasEnd: true})
	}
	w.damageBegin = next
}

func (w *walker) node(v *thinmeta.NodeVisit) (bool, error) {
	if v.Err != nil {
		w.bad(v.Err)
		return false, nil
	}
	n := v.Node
	f := n.Flags()
	if f&1 != 0 && f&2 != 0 {
		return false, toolError("btree node is both internal and leaf")
	}
	if f&3 == 0 {
		return false, toolError("unknown node type")
	}
	if w.seen.Has(v.Block) {
		return false, nil
	}
	w.seen.Add(v.Block)
	if fault := thinmeta.CheckNode(n, v.Block, thinmeta.NodeCheck{
		ValueSize: w.valueSize, Root: v.Root, ParentKey: v.ParentKey, LastLeafKey: w.lastLeafKey,
	}); fault != nil {
		w.bad(fault)
		return false, nil
	}
	nr := n.NrEntries()
	if n.IsInternal() {
		if nr > 0 {
			w.good(n.Key(0), n.Key(0))
		}
		return true, nil
	}
	if nr > 0 {
		w.lastKey = n.Key(nr - 1)
		w.lastLeafKey = &w.lastKey
		w.good(n.Key(0), w.lastKey+1)
	}
	for i := 0; i < nr && w.visit != nil; i++ {
		if err := w.visit(n.Key(i), n.Value(i)); err != nil {
			return false, err
		}
	}
	return false, nil
}
