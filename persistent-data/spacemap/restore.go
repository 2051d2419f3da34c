package spacemap

import (
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// restoreFast is what Disk.RestoreInc keeps between calls: every index
// entry, newer than the index btree's where dirty, and a bounded set of
// bitmaps held write locked.
type restoreFast struct {
	ies    []fastIE
	dirty  []uint64 // indexes of the dirty entries
	pinned []uint64 // ring of the indexes whose bitmap is held
	next   int      // the ring's oldest, once it is full
}

type fastIE struct {
	ie    IndexEntry
	dirty bool
	// ok: writing the entry back into the index btree rewrites its value
	// and nothing else (every node on the way is a shadow of this
	// transaction, not shared, not full): the write can wait.
	ok     bool
	bitmap *block.Block // held write locked, or nil
}

// maxPinnedBitmaps bounds the bitmaps RestoreInc holds (4 MiB).
const maxPinnedBitmaps = 1024

// RestoreInc is IncBlocks(b, b+1) for thin_restore's emitter, which
// increments one data block per mapping: the same bytes in the end,
// cheaper. sm_ll_inc() shadows the block's bitmap (in place: the tools
// allocated it in this transaction) and writes the index entry back into
// the index btree at once (ToolsLayout); RestoreInc holds the bitmaps
// locked between calls and keeps the index entries in memory, writing
// each back only when that could change more than its value (a full node
// on its way splits, allocating metadata blocks just then, as the tools
// do), or when any other method of d is called. Tools layout only; other
// space maps take IncBlocks.
func (d *Disk) RestoreInc(b uint64) error {
	l := &d.ll
	if !l.tools || b >= l.nrBlocks {
		return d.IncBlocks(b, b+1)
	}
	if d.fast == nil && (d.fastOff || !d.enterFast()) {
		d.fastOff = true
		return d.IncBlocks(b, b+1)
	}
	index := b / EntriesPerBlock
	if index >= uint64(len(d.fast.ies)) {
		return d.IncBlocks(b, b+1)
	}
	f := &d.fast.ies[index]
	if f.bitmap == nil {
		ok, err := d.pin(index)
		if err != nil {
			return err
		}
		if !ok {
			return d.IncBlocks(b, b+1)
		}
	}
	bit := b % EntriesPerBlock
	data := f.bitmap.Data()
	var err error
	switch BitmapLookup(data, bit) {
	case 0:
		l.allocBit(data, &f.ie, bit)
		d.allocated++
	case 1:
		BitmapSet(data, bit, 2)
	case 2:
		BitmapSet(data, bit, 3)
		err = l.insertBig(b, 3)
	default:
		// the tools rewrite the count with an insert
		var c uint32
		if c, err = l.lookupBig(b); err == nil {
			err = l.insertBig(b, c+1)
		}
	}
	if err != nil {
		return err
	}
	l.indexChanged = true
	if f.ok {
		if !f.dirty {
			f.dirty = true
			d.fast.dirty = append(d.fast.dirty, index)
		}
		return nil
	}
	// Written back now, splitting: the other entries first, as the
	// split copies them.
	if err := d.flushFast(); err != nil {
		return err
	}
	if err := l.saveIE(index, f.ie); err != nil {
		return err
	}
	return d.checkPaths()
}

// enterFast loads the index entries and finds which can wait; false
// when the space map does not qualify (more bitmaps than a metadata
// device holds: nr_blocks wrapped around; or a failed read, which the
// general path then meets in its turn).
func (d *Disk) enterFast() bool {
	l := &d.ll
	n := l.nrBlocks/EntriesPerBlock + min(l.nrBlocks%EntriesPerBlock, 1)
	if n > MetadataMaxBlocks {
		return false
	}
	ies := make([]fastIE, n)
	for i := range ies {
		ie, err := l.loadIE(uint64(i))
		if err != nil {
			return false
		}
		ies[i].ie = ie
	}
	d.fast = &restoreFast{ies: ies}
	if d.checkPaths() != nil {
		d.fast = nil
		return false
	}
	return true
}

// checkPaths sets each entry's ok from the index btree as it is now.
func (d *Disk) checkPaths() error {
	for i := range d.fast.ies {
		d.fast.ies[i].ok = false
	}
	l := &d.ll
	tm := l.tm
	var walk func(b uint64, ok bool, depth int) error
	walk = func(b uint64, ok bool, depth int) error {
		if depth > 64 {
			return nil // a damaged tree: every entry takes the general path
		}
		if ok && tm.IsShadow(b) {
			shared, err := tm.BlockIsShared(b)
			if err != nil {
				return err
			}
			ok = !shared
		} else {
			ok = false
		}
		blk, err := tm.ReadLock(b, btree.Validator)
		if err != nil {
			return err
		}
		n := btree.Node(blk.Data())
		ok = ok && n.NrEntries() < n.MaxEntries()
		var children []uint64
		for i := 0; i < n.NrEntries(); i++ {
			if n.IsInternal() {
				children = append(children, n.Value64(i))
			} else if k := n.Key(i); k < uint64(len(d.fast.ies)) {
				d.fast.ies[k].ok = ok
			}
		}
		tm.Unlock(blk)
		for _, c := range children {
			if err := walk(c, ok, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(l.bitmapRoot, true, 0)
}

// pin holds entry index's bitmap write locked, if sm_ll_inc() would
// shadow it in place.
func (d *Disk) pin(index uint64) (bool, error) {
	tm := d.ll.tm
	f := &d.fast.ies[index]
	b := f.ie.Blocknr
	if !tm.IsShadow(b) {
		return false, nil
	}
	if shared, err := tm.BlockIsShared(b); err != nil || shared {
		return false, err
	}
	blk, err := tm.BM().WriteLock(b, BitmapValidator)
	if err != nil {
		return false, err
	}
	f.bitmap = blk
	r := d.fast
	if len(r.pinned) < maxPinnedBitmaps {
		r.pinned = append(r.pinned, index)
		return true, nil
	}
	old := &r.ies[r.pinned[r.next]]
	tm.Unlock(old.bitmap)
	old.bitmap = nil
	r.pinned[r.next] = index
	r.next = (r.next + 1) % len(r.pinned)
	return true, nil
}

// flushFast writes the dirty entries back into the index btree.
func (d *Disk) flushFast() error {
	r := d.fast
	for len(r.dirty) > 0 {
		index := r.dirty[len(r.dirty)-1]
		f := &r.ies[index]
		if err := d.ll.saveIE(index, f.ie); err != nil {
			return err
		}
		f.dirty = false
		r.dirty = r.dirty[:len(r.dirty)-1]
	}
	return nil
}

// leaveFast ends RestoreInc's run: the entries written back, the bitmaps
// unlocked. Every other method calls it first.
func (d *Disk) leaveFast() error {
	r := d.fast
	if r == nil {
		return nil
	}
	err := d.flushFast()
	for _, i := range r.pinned {
		d.ll.tm.Unlock(r.ies[i].bitmap)
		r.ies[i].bitmap = nil
	}
	d.fast = nil
	return err
}

// RestoreDone ends a run of RestoreInc (before closing the block manager
// after a failure: what it holds is written back and unlocked).
func (d *Disk) RestoreDone() error { return d.leaveFast() }
