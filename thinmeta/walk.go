package thinmeta

import (
	"fmt"
	"sort"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// DamageError describes damaged metadata found by the read-only walker.
type DamageError struct {
	Block uint64 // the metadata block at fault
	Msg   string
	Err   error // underlying error (validation, I/O), if any
}

func (e *DamageError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("metadata block %d: %s: %v", e.Block, e.Msg, e.Err)
	}
	return fmt.Sprintf("metadata block %d: %s", e.Block, e.Msg)
}

func (e *DamageError) Unwrap() error { return e.Err }

func damage(b uint64, err error, format string, a ...any) error {
	return &DamageError{Block: b, Msg: fmt.Sprintf(format, a...), Err: err}
}

// Image is a read-only, validating view of a thin pool metadata image, for
// the thin_* tools. Every block is checked (checksum, block number, node
// shape) before use, and every walk returns a DamageError instead of
// panicking or looping on a corrupted image.
type Image struct {
	bm *block.Manager
	sb Superblock
	// NrBlocks is the size of the image in metadata blocks.
	NrBlocks uint64
}

// maxDepth bounds btree depth (a 2^64 key space needs far fewer levels).
const maxDepth = 32

// OpenImage reads and checks the superblock of an image. Like the tools,
// it requires only a valid checksum; the kernel's stricter checks (magic,
// block number) are reported by Superblock fields and CheckSuperblock.
func OpenImage(dev block.Device, cacheBytes int64) (*Image, error) {
	opts := []block.Option{block.ReadOnly()}
	if cacheBytes > 0 {
		opts = append(opts, block.WithCacheBytes(cacheBytes))
	}
	im := &Image{bm: block.NewManager(dev, opts...)}
	im.NrBlocks = im.bm.NrBlocks()
	if im.NrBlocks == 0 {
		return nil, damage(0, nil, "metadata device too small to hold a superblock")
	}
	sb, err := im.readSuperblock(SuperblockLocation)
	if err != nil {
		return nil, err
	}
	im.sb = sb
	return im, nil
}

var sbCsum = &block.Std{Label: "superblock", Xor: SuperblockCsumXor}

// csumOnlySB checks the checksum only (the tools' superblock validator).
type csumOnlySB struct{}

func (csumOnlySB) Name() string                         { return "superblock" }
func (csumOnlySB) PrepareForWrite(d []byte, loc uint64) {}
func (csumOnlySB) Check(d []byte, loc uint64) error {
	if le.Uint32(d) != block.Checksum(d[4:block.Size], SuperblockCsumXor) {
		return fmt.Errorf("superblock checksum mismatch")
	}
	return nil
}

func (im *Image) readSuperblock(loc uint64) (Superblock, error) {
	b, err := im.bm.ReadLock(loc, csumOnlySB{})
	if err != nil {
		return Superblock{}, damage(loc, err, "bad superblock")
	}
	s := DecodeSuperblock(b.Data())
	im.bm.Unlock(b)
	return s, nil
}

// Superblock is the live superblock.
func (im *Image) Superblock() Superblock { return im.sb }

// CheckSuperblock applies the kernel's checks (sb_check, feature flags).
func (im *Image) CheckSuperblock() error {
	if im.sb.Blocknr != SuperblockLocation {
		return damage(0, nil, "superblock blocknr is %d, wanted 0", im.sb.Blocknr)
	}
	if im.sb.Magic != SuperblockMagic {
		return damage(0, nil, "superblock magic is %d, wanted %d", im.sb.Magic, uint64(SuperblockMagic))
	}
	if im.sb.IncompatFlags != 0 {
		return damage(0, nil, "unsupported incompat features %x", im.sb.IncompatFlags)
	}
	return nil
}

// SnapshotSuperblock reads the metadata snapshot superblock at the held
// root (checksum only, like thin_dump -m).
func (im *Image) SnapshotSuperblock() (Superblock, error) {
	h := im.sb.HeldRoot
	if h == 0 {
		return Superblock{}, fmt.Errorf("no current metadata snap")
	}
	if h >= im.NrBlocks {
		return Superblock{}, damage(0, nil, "held root %d beyond end of metadata device (%d blocks)", h, im.NrBlocks)
	}
	return im.readSuperblock(h)
}

// NodeVisitor is called for every btree node reached by a walk; returning
// false skips the node's subtree (used for reference counting, where a
// node reached again is counted but not walked again).
type NodeVisitor func(b uint64) bool

// treeWalk walks one btree with the checks thin_check applies.
type treeWalk struct {
	im        *Image
	valueSize int
	visit     NodeVisitor
	leaf      func(key uint64, value []byte, counted bool) error
	lastKey   uint64
	haveLast  bool
	// walkAll descends into nodes the visitor has seen before, without
	// counting anything below them.
	walkAll bool
}

func (w *treeWalk) node(b uint64, lo uint64, hasLo bool, hi uint64, hasHi bool, root bool, depth int, count bool) error {
	if depth > maxDepth {
		return damage(b, nil, "btree too deep")
	}
	if b >= w.im.NrBlocks || b == SuperblockLocation {
		return damage(b, nil, "btree node pointer out of range (device has %d blocks)", w.im.NrBlocks)
	}
	if w.visit != nil && count && !w.visit(b) {
		if !w.walkAll {
			return nil
		}
		count = false
	}
	blk, err := w.im.bm.ReadLock(b, btree.Validator)
	if err != nil {
		return damage(b, err, "bad btree node")
	}
	// Copy out so no lock is held across the recursion.
	n := btree.Node(append([]byte(nil), blk.Data()...))
	w.im.bm.Unlock(blk)
	flags := n.Flags()
	if flags != btree.InternalNode && flags != btree.LeafNode {
		return damage(b, nil, "btree node flags %d are neither INTERNAL nor LEAF", flags)
	}
	vs := w.valueSize
	if flags == btree.InternalNode {
		vs = 8
	}
	if n.ValueSize() != vs {
		return damage(b, nil, "btree node value_size %d, wanted %d", n.ValueSize(), vs)
	}
	max, nr := n.MaxEntries(), n.NrEntries()
	if max%3 != 0 || btree.HeaderSize+max*(8+vs) > block.Size {
		return damage(b, nil, "btree node max_entries %d is invalid", max)
	}
	if nr > max {
		return damage(b, nil, "btree node has %d entries, more than max %d", nr, max)
	}
	if !root && nr < max/3 {
		return damage(b, nil, "too few entries in btree node: %d, expected at least %d", nr, max/3)
	}
	for i := 0; i < nr; i++ {
		k := n.Key(i)
		if i > 0 && k <= n.Key(i-1) {
			return damage(b, nil, "btree node keys out of order at entry %d", i)
		}
		if i == 0 && hasLo && k < lo {
			return damage(b, nil, "btree node first key %d is below its parent key %d", k, lo)
		}
		if hasHi && k >= hi {
			return damage(b, nil, "btree node key %d is not below its parent's next key %d", k, hi)
		}
	}
	if flags == btree.InternalNode {
		for i := 0; i < nr; i++ {
			chi, chas := hi, hasHi
			if i+1 < nr {
				chi, chas = n.Key(i+1), true
			}
			if err := w.node(n.Value64(i), n.Key(i), true, chi, chas, false, depth+1, count); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < nr; i++ {
		k := n.Key(i)
		if w.haveLast && k <= w.lastKey {
			return damage(b, nil, "btree leaf key %d is not above the previous leaf's last key %d", k, w.lastKey)
		}
		w.lastKey, w.haveLast = k, true
		if w.leaf != nil {
			if err := w.leaf(k, n.Value(i), count); err != nil {
				return err
			}
		}
	}
	return nil
}

// WalkTree walks a single-level btree rooted at root whose leaves hold
// values of valueSize bytes, calling leaf for each entry in key order.
func (im *Image) WalkTree(root uint64, valueSize int, visit NodeVisitor, leaf func(key uint64, value []byte) error) error {
	w := &treeWalk{im: im, valueSize: valueSize, visit: visit}
	if leaf != nil {
		w.leaf = func(k uint64, v []byte, _ bool) error { return leaf(k, v) }
	}
	return w.node(root, 0, false, 0, false, true, 0, true)
}

// WalkDevices calls fn for each entry of a device details tree.
func (im *Image) WalkDevices(detailsRoot uint64, fn func(id uint64, d DeviceDetails) error) error {
	return im.WalkTree(detailsRoot, DetailsSize, nil, func(k uint64, v []byte) error {
		return fn(k, DecodeDetails(v))
	})
}

// WalkDeviceRoots calls fn for each (dev id, subtree root) of the top
// level of a mapping tree.
func (im *Image) WalkDeviceRoots(mappingRoot uint64, fn func(id, subtree uint64) error) error {
	return im.WalkTree(mappingRoot, 8, nil, func(k uint64, v []byte) error {
		return fn(k, le.Uint64(v))
	})
}

// WalkMappings calls fn for each mapping of one device's subtree.
func (im *Image) WalkMappings(subtree uint64, fn func(vblock, dataBlock uint64, time uint32) error) error {
	return im.WalkTree(subtree, 8, nil, func(k uint64, v []byte) error {
		b, t := UnpackBlockTime(le.Uint64(v))
		return fn(k, b, t)
	})
}

// SpaceMapCounts reads every reference count of a space map: fn gets each
// block with a non-zero count. metadata selects the metadata space map
// layout (one index block) rather than the data layout (index btree).
func (im *Image) SpaceMapCounts(r spacemap.Root, metadata bool, visit NodeVisitor, fn func(b uint64, count uint32) error) error {
	if r.NrBlocks > im.NrBlocks*spacemap.EntriesPerBlock {
		return damage(0, nil, "space map claims %d blocks, more than %d metadata blocks can describe", r.NrBlocks, im.NrBlocks)
	}
	nrBitmaps := (r.NrBlocks + spacemap.EntriesPerBlock - 1) / spacemap.EntriesPerBlock
	var entries []spacemap.IndexEntry
	if metadata {
		if nrBitmaps > spacemap.MaxMetadataBitmaps {
			return damage(0, nil, "metadata space map has %d blocks, more than %d", r.NrBlocks, uint64(spacemap.MetadataMaxBlocks))
		}
		if r.BitmapRoot >= im.NrBlocks || r.BitmapRoot == 0 {
			return damage(0, nil, "metadata space map index block %d out of range", r.BitmapRoot)
		}
		if visit != nil {
			visit(r.BitmapRoot)
		}
		blk, err := im.bm.ReadLock(r.BitmapRoot, spacemap.IndexValidator)
		if err != nil {
			return damage(r.BitmapRoot, err, "bad metadata space map index block")
		}
		for i := uint64(0); i < nrBitmaps; i++ {
			entries = append(entries, spacemap.DecodeIndexEntry(blk.Data()[16+16*i:]))
		}
		im.bm.Unlock(blk)
	} else {
		err := im.WalkTree(r.BitmapRoot, 16, visit, func(k uint64, v []byte) error {
			if k != uint64(len(entries)) {
				return damage(r.BitmapRoot, nil, "data space map index is missing bitmap %d", len(entries))
			}
			entries = append(entries, spacemap.DecodeIndexEntry(v))
			return nil
		})
		if err != nil {
			return err
		}
		if uint64(len(entries)) != nrBitmaps {
			return damage(r.BitmapRoot, nil, "data space map index has %d bitmaps, wanted %d", len(entries), nrBitmaps)
		}
	}
	overflow := map[uint64]uint32{}
	err := im.WalkTree(r.RefCountRoot, 4, visit, func(k uint64, v []byte) error {
		overflow[k] = le.Uint32(v)
		return nil
	})
	if err != nil {
		return err
	}
	for i, ie := range entries {
		if ie.Blocknr >= im.NrBlocks || ie.Blocknr == 0 {
			return damage(0, nil, "space map bitmap %d pointer %d out of range", i, ie.Blocknr)
		}
		if visit != nil {
			visit(ie.Blocknr)
		}
		blk, err := im.bm.ReadLock(ie.Blocknr, spacemap.BitmapValidator)
		if err != nil {
			return damage(ie.Blocknr, err, "bad space map bitmap")
		}
		d := append([]byte(nil), blk.Data()...)
		im.bm.Unlock(blk)
		base := uint64(i) * spacemap.EntriesPerBlock
		for j := uint64(0); j < spacemap.EntriesPerBlock && base+j < r.NrBlocks; j++ {
			c := spacemap.BitmapLookup(d, j)
			if c == 0 {
				continue
			}
			if c == 3 {
				oc, ok := overflow[base+j]
				if !ok {
					return damage(ie.Blocknr, nil, "block %d has count 3+ in the bitmap but no overflow entry", base+j)
				}
				c = oc
			}
			if err := fn(base+j, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Problem is one inconsistency found by Check.
type Problem struct {
	Fatal bool
	Msg   string
}

// CheckReport is the result of Check.
type CheckReport struct {
	Problems []Problem
	// Dropped counts problems beyond the first maxProblems.
	Dropped int
}

const maxProblems = 1000

// OK is true when no problem was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

func (r *CheckReport) add(fatal bool, format string, a ...any) {
	if len(r.Problems) >= maxProblems {
		r.Dropped++
		return
	}
	r.Problems = append(r.Problems, Problem{fatal, fmt.Sprintf(format, a...)})
}

// Check verifies the whole image the way thin_check (and the kernel's
// accounting) see it: every tree, the metadata reference counts, the data
// reference counts, device sets and mapped block counts. A damaged
// structure is reported as a fatal problem; the error return is only for
// damage that stops the check altogether.
func (im *Image) Check() (*CheckReport, error) {
	rep := &CheckReport{}
	sb := im.sb
	metaRoot := sb.MetadataSpaceMap()
	dataRoot := sb.DataSpaceMap()
	expected := make([]uint32, im.NrBlocks)
	seen := func(b uint64) bool {
		if b >= uint64(len(expected)) {
			return true
		}
		expected[b]++
		return expected[b] == 1
	}
	expected[0] = 1
	// Each data bitmap takes a metadata block: a larger data space map
	// cannot be real, and must not make us allocate for it.
	if dataRoot.NrBlocks > im.NrBlocks*spacemap.EntriesPerBlock {
		rep.add(true, "data space map claims %d blocks, more than %d metadata blocks can describe", dataRoot.NrBlocks, im.NrBlocks)
		return rep, nil
	}
	dataCounts := newCounter(dataRoot.NrBlocks)

	walkPool := func(s Superblock, label string) {
		devs := map[uint64]DeviceDetails{}
		if err := im.WalkTree(s.DeviceDetailsRoot, DetailsSize, seen, func(k uint64, v []byte) error {
			devs[k] = DecodeDetails(v)
			return nil
		}); err != nil {
			rep.add(true, "%sdevice details tree: %v", label, err)
		}
		roots := map[uint64]uint64{}
		if err := im.WalkTree(s.DataMappingRoot, 8, seen, func(k uint64, v []byte) error {
			roots[k] = le.Uint64(v)
			return nil
		}); err != nil {
			rep.add(true, "%smapping tree: %v", label, err)
		}
		ids := make([]uint64, 0, len(roots))
		for id := range roots {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			mapped := uint64(0)
			// Walk every mapping (for mapped_blocks) but count nodes,
			// and data references, once per distinct block.
			w := &treeWalk{im: im, valueSize: 8, visit: seen, walkAll: true,
				leaf: func(k uint64, v []byte, counted bool) error {
					mapped++
					if !counted {
						return nil
					}
					b, _ := UnpackBlockTime(le.Uint64(v))
					if b >= dataRoot.NrBlocks {
						rep.add(true, "%sthin device %d maps data block %d beyond the data device (%d blocks)", label, id, b, dataRoot.NrBlocks)
						return nil
					}
					dataCounts.inc(b)
					return nil
				}}
			if err := w.node(roots[id], 0, false, 0, false, true, 0, true); err != nil {
				rep.add(true, "%sthin device %d: %v", label, id, err)
				continue
			}
			d, ok := devs[id]
			if !ok {
				rep.add(true, "%smappings present for device %d, but it isn't present in device tree", label, id)
			} else if d.MappedBlocks != mapped && label == "" {
				rep.add(false, "thin device %d has %d mappings but mapped_blocks is %d", id, mapped, d.MappedBlocks)
			}
		}
		for id := range devs {
			if _, ok := roots[id]; !ok {
				rep.add(true, "%sdevice %d has details but no mapping tree", label, id)
			}
		}
	}
	walkPool(sb, "")
	if sb.HeldRoot != 0 {
		if sb.HeldRoot >= im.NrBlocks {
			rep.add(true, "held root %d beyond the metadata device", sb.HeldRoot)
		} else {
			seen(sb.HeldRoot)
			if snap, err := im.readSuperblock(sb.HeldRoot); err != nil {
				rep.add(true, "metadata snapshot: %v", err)
			} else {
				walkPool(snap, "metadata snapshot: ")
			}
		}
	}
	// The space maps' own blocks.
	actualData := newCounter(dataRoot.NrBlocks)
	if err := im.SpaceMapCounts(dataRoot, false, seen, func(b uint64, c uint32) error {
		actualData.set(b, c)
		return nil
	}); err != nil {
		rep.add(true, "data space map: %v", err)
	}
	actualMeta := make([]uint32, im.NrBlocks)
	var metaAllocated uint64
	if err := im.SpaceMapCounts(metaRoot, true, seen, func(b uint64, c uint32) error {
		if b < uint64(len(actualMeta)) {
			actualMeta[b] = c
		}
		metaAllocated++
		return nil
	}); err != nil {
		rep.add(true, "metadata space map: %v", err)
		return rep, nil
	}
	if metaRoot.NrBlocks > im.NrBlocks {
		rep.add(true, "metadata space map has %d blocks, the device only %d", metaRoot.NrBlocks, im.NrBlocks)
	}
	for b := uint64(0); b < im.NrBlocks && b < metaRoot.NrBlocks; b++ {
		if expected[b] != actualMeta[b] {
			rep.add(expected[b] > actualMeta[b], "metadata reference counts differ for block %d, expected %d, but got %d", b, expected[b], actualMeta[b])
		}
	}
	if metaAllocated != metaRoot.NrAllocated {
		rep.add(false, "metadata space map nr_allocated is %d, counted %d", metaRoot.NrAllocated, metaAllocated)
	}
	var dataAllocated uint64
	for b := uint64(0); b < dataRoot.NrBlocks; b++ {
		e, a := dataCounts.get(b), actualData.get(b)
		if a != 0 {
			dataAllocated++
		}
		if e != a {
			rep.add(e > a, "data reference counts differ for block %d, expected %d, but got %d", b, e, a)
		}
	}
	if dataAllocated != dataRoot.NrAllocated {
		rep.add(false, "data space map nr_allocated is %d, counted %d", dataRoot.NrAllocated, dataAllocated)
	}
	return rep, nil
}

// counter holds small counts compactly: one byte each, with a map for
// counts of 255 and more.
type counter struct {
	small []uint8
	big   map[uint64]uint32
}

func newCounter(n uint64) *counter {
	const limit = 1 << 32
	if n > limit {
		n = limit
	}
	return &counter{small: make([]uint8, n), big: map[uint64]uint32{}}
}

func (c *counter) get(b uint64) uint32 {
	if b >= uint64(len(c.small)) {
		return c.big[b]
	}
	if v := c.small[b]; v < 255 {
		return uint32(v)
	}
	return c.big[b]
}

func (c *counter) set(b uint64, v uint32) {
	if b < uint64(len(c.small)) && v < 255 {
		c.small[b] = uint8(v)
		delete(c.big, b)
		return
	}
	if b < uint64(len(c.small)) {
		c.small[b] = 255
	}
	c.big[b] = v
}

func (c *counter) inc(b uint64) { c.set(b, c.get(b)+1) }
