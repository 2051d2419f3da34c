package thinmeta

// The read-only side of the on-disk format, shared by the thin_* tools and
// by dmsim's own checks: validated block reads, one walker for btrees, the
// space maps read back, and the metadata reference-count recount.

import (
	"fmt"
	"slices"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// ReadDevice is what an Image reads: a block.Device, an image file, the
// tools' devices.
type ReadDevice interface {
	ReadAt(p []byte, off int64) (int, error)
	Size() int64
}

// BlockKind is one of the four checksummed block types.
type BlockKind int

const (
	SuperblockBlock BlockKind = iota
	NodeBlock
	BitmapBlock
	IndexBlock
)

var kindXor = [...]uint32{SuperblockCsumXor, btree.CsumXor, spacemap.BitmapCsumXor, spacemap.IndexCsumXor}
var kindName = [...]string{"superblock", "btree node", "space map bitmap", "metadata index block"}

func (k BlockKind) String() string { return kindName[k] }

// Fault says what was wrong with a block.
type Fault int

const (
	BadChecksum Fault = iota + 1
	BadBlocknr
	OutOfBounds
	ReadFailed
)

// BlockError is a block that could not be read or failed validation.
type BlockError struct {
	Kind  BlockKind
	Block uint64
	Fault Fault
	// Want is the checksum the block's contents call for (BadChecksum).
	Want uint32
	// NrBlocks is the device size in blocks (OutOfBounds).
	NrBlocks uint64
}

func (e *BlockError) Error() string {
	switch e.Fault {
	case BadChecksum:
		return fmt.Sprintf("%s %d: bad checksum (wanted %d)", e.Kind, e.Block, e.Want)
	case BadBlocknr:
		return fmt.Sprintf("%s %d: wrong block number", e.Kind, e.Block)
	case OutOfBounds:
		return fmt.Sprintf("block %d beyond the end of the device (%d blocks)", e.Block, e.NrBlocks)
	}
	return fmt.Sprintf("block %d: read failed", e.Block)
}

// Image is a read-only view of a metadata device. Reads go through a small
// cache of 256 KiB chunks: btrees written in bulk are laid out mostly in
// order, so a walk costs one read per chunk instead of one per block. The
// chunks' buffers are reused once evicted, so a walk allocates nothing per
// chunk; a block a caller holds on to while reading others (an internal
// node during the walk of its children, a superblock, a bitmap) is a copy.
type Image struct {
	dev       ReadDevice
	NrBlocks  uint64
	chunks    map[uint64][]byte
	spare     [][]byte // buffers of evicted chunks
	lru       []uint64
	maxChunks int      // how many chunks the cache holds
	validated BlockSet // nodes whose checksum was verified
	leaves    BlockSet // of those, the ones that are not internal nodes

	// The walks' working memory, reused from node to node: a walk
	// allocates nothing per block (fresh memory costs a page fault per
	// page, more than reading the block).
	nodeBufs [][]byte     // block-sized buffers for the internal nodes a walk holds
	visits   []*NodeVisit // WalkTree's visits
	// pins are the chunks of the leaves WalkTree's visits hold (a visit
	// may walk another tree): not evicted meanwhile.
	pins []uint64
}

const (
	chunkBlocks = 64
	maxChunks   = 32
	// forkChunks is a Fork's cache: a fork walks trees laid out mostly
	// in order, and its buffers are fresh memory (a page fault per page).
	forkChunks = 8
)

// NewImage opens dev for reading; nothing is read yet.
func NewImage(dev ReadDevice) *Image {
	return &Image{dev: dev, NrBlocks: uint64(dev.Size()) / block.Size, chunks: map[uint64][]byte{}, maxChunks: maxChunks}
}

// Fork is a view of the same device for another goroutine: its own cache,
// the blocks validated so far. The device must allow concurrent reads.
func (im *Image) Fork() *Image {
	f := NewImage(im.dev)
	f.maxChunks = forkChunks
	// sized for the whole device: a fork walks much of it
	words := max(int(f.NrBlocks/64+1), len(im.validated), len(im.leaves))
	f.validated = append(make(BlockSet, 0, words), im.validated...)
	f.leaves = append(make(BlockSet, 0, words), im.leaves...)
	return f
}

// Join takes in what a Fork validated (once it is done with).
func (im *Image) Join(f *Image) {
	im.validated.union(f.validated)
	im.leaves.union(f.leaves)
	// its chunk buffers, touched already, serve the reads that follow,
	// with its cache size: what follows a parallel walk (thin_check's
	// recount) reads in order too
	im.maxChunks = min(im.maxChunks, f.maxChunks)
	for _, c := range f.chunks {
		if len(im.spare) < im.maxChunks {
			im.spare = append(im.spare, c)
		}
	}
	for _, c := range f.spare {
		if len(im.spare) < im.maxChunks {
			im.spare = append(im.spare, c)
		}
	}
}

// Invalidate forgets cached blocks (after the device was written).
func (im *Image) Invalidate() {
	im.chunks, im.lru, im.validated, im.leaves = map[uint64][]byte{}, nil, nil, nil
}

// Raw reads block b without validation: a copy the caller may keep.
func (im *Image) Raw(b uint64) ([]byte, error) {
	p, shared, err := im.raw(b, nil)
	if shared {
		p = append(make([]byte, 0, block.Size), p...)
	}
	return p, err
}

// raw reads block b. When shared, the block is the cache's memory: it
// stays valid only until the next chunk is read, so the caller uses it
// (or copies it) before reading another block. A block whose checksum was
// verified already (read again: an internal node in thin_check's recount
// after its walk) is read alone, not with its chunk, into buf when buf is
// not nil.
func (im *Image) raw(b uint64, buf []byte) (p []byte, shared bool, err error) {
	if b >= im.NrBlocks {
		return nil, false, &BlockError{Block: b, Fault: OutOfBounds, NrBlocks: im.NrBlocks}
	}
	c := b / chunkBlocks
	chunk, ok := im.chunks[c]
	if !ok && im.validated.Has(b) {
		p, err := im.single(b, buf)
		return p, false, err
	}
	if !ok {
		n := min(uint64(chunkBlocks), im.NrBlocks-c*chunkBlocks)
		if len(im.lru) >= im.maxChunks {
			im.evict()
		}
		if k := len(im.spare); k > 0 && uint64(cap(im.spare[k-1])) >= n*block.Size {
			chunk = im.spare[k-1][:n*block.Size]
			im.spare = im.spare[:k-1]
		} else {
			chunk = make([]byte, n*block.Size, chunkBlocks*block.Size)
		}
		if got, err := im.dev.ReadAt(chunk, int64(c*chunkBlocks)*block.Size); got < len(chunk) && err != nil {
			im.spare = append(im.spare, chunk)
			// fall back to the single block (a short device)
			p, err := im.single(b, buf)
			return p, false, err
		}
		im.chunks[c] = chunk
		im.lru = append(im.lru, c)
	}
	o := (b % chunkBlocks) * block.Size
	return chunk[o : o+block.Size : o+block.Size], true, nil
}

// evict drops the least recently read chunk that no visit holds (none
// when all are held: the cache then grows past its size). Its buffer is
// kept for the next chunk: reusing it spares the page faults and the
// clearing of a fresh one (most of a walk's cost).
func (im *Image) evict() {
	for i, c := range im.lru {
		if slices.Contains(im.pins, c) {
			continue
		}
		im.spare = append(im.spare, im.chunks[c])
		delete(im.chunks, c)
		im.lru = slices.Delete(im.lru, i, i+1)
		return
	}
}

// single reads block b alone, into buf (a new buffer when buf is nil).
func (im *Image) single(b uint64, buf []byte) ([]byte, error) {
	if buf == nil {
		buf = make([]byte, block.Size)
	}
	p := buf[:block.Size:block.Size]
	if _, err := im.dev.ReadAt(p, int64(b)*block.Size); err != nil {
		return nil, &BlockError{Block: b, Fault: ReadFailed}
	}
	return p, nil
}

// keep says which blocks read are copies the caller may hold while it
// reads others (see raw).
type keep int

const (
	keepNone     keep = iota // none: the caller is done with it before the next read
	keepInternal             // internal nodes (a walk descends into their children)
	keepAll                  // every block
)

// read reads block b as a block of kind k: the checksum, then (except for
// a superblock) the block number, as the tools check them. Every block but
// a leaf node is one the caller may keep (see raw); keepLeaf makes a leaf
// one too.
func (im *Image) read(b uint64, k BlockKind, keepLeaf bool) ([]byte, error) {
	kp := keepAll
	if k == NodeBlock && !keepLeaf {
		kp = keepInternal
	}
	return im.readInto(b, k, kp, nil)
}

// readInto is read with the blocks kp names copied into buf (a new buffer
// when buf is nil), and the others left in the cache's memory.
func (im *Image) readInto(b uint64, k BlockKind, kp keep, buf []byte) ([]byte, error) {
	p, shared, err := im.raw(b, buf)
	if err != nil {
		return nil, err
	}
	if shared && (kp == keepAll || kp == keepInternal && btree.Node(p).IsInternal()) {
		if buf == nil {
			buf = make([]byte, block.Size)
		}
		q := buf[:block.Size:block.Size]
		copy(q, p)
		p = q
	}
	if k != NodeBlock || !im.validated.Has(b) {
		if want := block.Checksum(p[4:block.Size], kindXor[k]); le.Uint32(p) != want {
			return nil, &BlockError{Kind: k, Block: b, Fault: BadChecksum, Want: want}
		}
		if k == NodeBlock {
			im.validated.Add(b)
			if !btree.Node(p).IsInternal() {
				im.leaves.Add(b)
			}
		}
	}
	if k != SuperblockBlock && le.Uint64(p[8:]) != b {
		return nil, &BlockError{Kind: k, Block: b, Fault: BadBlocknr}
	}
	return p, nil
}

// nodeBuf lends a block-sized buffer to a walk; putNodeBuf takes it back.
func (im *Image) nodeBuf() []byte {
	if k := len(im.nodeBufs); k > 0 {
		p := im.nodeBufs[k-1]
		im.nodeBufs = im.nodeBufs[:k-1]
		return p
	}
	return make([]byte, block.Size)
}

func (im *Image) putNodeBuf(p []byte) { im.nodeBufs = append(im.nodeBufs, p) }

// Superblock reads a superblock (the live one at 0, or a metadata snapshot
// copy), checking its checksum only, as the tools do; the kernel's further
// checks are sbValidator's.
func (im *Image) Superblock(loc uint64) (Superblock, error) {
	p, err := im.read(loc, SuperblockBlock, false)
	if err != nil {
		return Superblock{}, err
	}
	return DecodeSuperblock(p), nil
}

// Node reads a btree node, checksum and block number checked.
func (im *Image) Node(b uint64) (btree.Node, error) {
	p, err := im.read(b, NodeBlock, false)
	return btree.Node(p), err
}

// Bitmap reads a space map bitmap block.
func (im *Image) Bitmap(b uint64) ([]byte, error) { return im.read(b, BitmapBlock, false) }

// Index reads the metadata space map's index block.
func (im *Image) Index(b uint64) ([]byte, error) { return im.read(b, IndexBlock, false) }

// Sane reports whether a node's header lets nr_entries keys and values of
// valueSize bytes be read inside the block.
func Sane(n btree.Node, valueSize int) bool {
	return n.ValueSize() == valueSize && uint64(8+valueSize)*uint64(n.MaxEntries())+btree.HeaderSize <= block.Size &&
		n.NrEntries() <= n.MaxEntries()
}

// NodeVisit is one node reached by WalkTree.
type NodeVisit struct {
	Block uint64
	// Node is the node read, or nil when Err says why it could not be.
	Node btree.Node
	Err  error
	Root bool
	// ParentKey is the parent's key for this node (not for the root).
	ParentKey uint64
	Depth     int
}

// WalkTree walks one level of a btree depth first, children in key order.
// visit sees every node reached; for a good internal node it returns
// whether to descend into the children (which the walker only does when
// the node is Sane). A visit error stops the walk and is returned. The
// visit and its node are the walk's memory, reused once visit returns: a
// visit that keeps either copies it.
func (im *Image) WalkTree(root uint64, visit func(v *NodeVisit) (bool, error)) error {
	return im.walk(root, true, 0, 0, visit)
}

func (im *Image) walk(b uint64, root bool, parentKey uint64, depth int, visit func(*NodeVisit) (bool, error)) error {
	var v *NodeVisit
	if k := len(im.visits); k > 0 {
		v = im.visits[k-1]
		im.visits = im.visits[:k-1]
	} else {
		v = new(NodeVisit)
	}
	buf := im.nodeBuf()
	defer func() {
		*v = NodeVisit{}
		im.visits = append(im.visits, v)
		im.putNodeBuf(buf)
	}()
	*v = NodeVisit{Block: b, Root: root, ParentKey: parentKey, Depth: depth}
	p, err := im.readInto(b, NodeBlock, keepInternal, buf)
	if err != nil {
		v.Err = err
	} else {
		v.Node = btree.Node(p)
	}
	pinned := err == nil && &p[0] != &buf[0] // a leaf in the cache's memory
	if pinned {
		im.pins = append(im.pins, b/chunkBlocks)
	}
	descend, err := visit(v)
	if pinned {
		im.pins = im.pins[:len(im.pins)-1]
	}
	n := v.Node
	if err != nil || !descend || n == nil || !n.IsInternal() || !Sane(n, 8) {
		return err
	}
	for i := 0; i < n.NrEntries(); i++ {
		if err := im.walk(n.Value64(i), false, n.Key(i), depth+1, visit); err != nil {
			return err
		}
	}
	return nil
}

// NodeFaultKind is a btree node check that failed.
type NodeFaultKind int

// The node checks, in the order CheckNode applies them (thin_check's).
// A and B of the NodeFault are given for each.
const (
	FaultValueSize   NodeFaultKind = iota + 1 // A expected, B found
	FaultMaxTooLarge                          // A max_entries
	FaultMaxNotDiv3                           // A max_entries
	FaultTooMany                              // A nr_entries, B max_entries
	FaultTooFew                               // A nr_entries, B max_entries
	FaultKeyOrder                             // A the key, B the key before it
	FaultParentKey                            // A the parent key, B the first key
	FaultLeafOrder                            // A the previous leaf's last key, B the first key
)

// NodeFault is the first check a node failed.
type NodeFault struct {
	Kind  NodeFaultKind
	Block uint64
	A, B  uint64
}

func (f *NodeFault) Error() string {
	return fmt.Sprintf("btree node %d: check %d failed (%d, %d)", f.Block, f.Kind, f.A, f.B)
}

// NodeCheck is what CheckNode compares a node with.
type NodeCheck struct {
	ValueSize int // of leaves (internal nodes: 8)
	Root      bool
	ParentKey uint64
	// LastLeafKey is the last key of the previous leaf, if any.
	LastLeafKey *uint64
}

// CheckNode checks a node read with a good checksum and block number, in
// the order thin_check 0.9.0's node checker does, and returns the first
// check it fails.
func CheckNode(n btree.Node, loc uint64, c NodeCheck) *NodeFault {
	fault := func(k NodeFaultKind, a, b uint64) *NodeFault { return &NodeFault{k, loc, a, b} }
	want := c.ValueSize
	if n.IsInternal() {
		want = 8
	}
	if n.ValueSize() != want {
		return fault(FaultValueSize, uint64(want), uint64(n.ValueSize()))
	}
	max, nr := uint64(n.MaxEntries()), uint64(n.NrEntries())
	if uint64(8+want)*max+btree.HeaderSize > block.Size {
		return fault(FaultMaxTooLarge, max, 0)
	}
	if max%3 != 0 {
		return fault(FaultMaxNotDiv3, max, 0)
	}
	if nr > max {
		return fault(FaultTooMany, nr, max)
	}
	if !c.Root && nr < max/3 {
		return fault(FaultTooFew, nr, max)
	}
	// the keys in one slice (nr <= max fits in the block): one bounds
	// check, not two per key
	if keys := n[btree.HeaderSize : btree.HeaderSize+8*nr]; nr > 1 {
		prev := le.Uint64(keys)
		for o := 8; o+8 <= len(keys); o += 8 {
			k := le.Uint64(keys[o:])
			if k <= prev {
				return fault(FaultKeyOrder, k, prev)
			}
			prev = k
		}
	}
	if !c.Root && nr > 0 && c.ParentKey > n.Key(0) {
		return fault(FaultParentKey, c.ParentKey, n.Key(0))
	}
	if n.IsLeaf() && nr > 0 && c.LastLeafKey != nil && *c.LastLeafKey >= n.Key(0) {
		return fault(FaultLeafOrder, *c.LastLeafKey, n.Key(0))
	}
	return nil
}

// maxDepth bounds ReadTree's descent: a damaged tree with a cycle gives
// an error instead of a hang.
const maxDepth = 32

// ReadTree walks a one-level btree whose leaves hold values of valueSize
// bytes, checking every node, and calls leaf for every entry in key order.
// Any damage stops it with an error. enter, when set, is told of every
// node reached (once it is read); returning false skips the node.
func (im *Image) ReadTree(root uint64, valueSize int, enter func(b uint64) bool, leaf func(key uint64, value []byte) error) error {
	var lastKey uint64
	var last *uint64 // &lastKey once a leaf entry was seen
	return im.WalkTree(root, func(v *NodeVisit) (bool, error) {
		if v.Err != nil {
			return false, v.Err
		}
		if enter != nil && !enter(v.Block) {
			return false, nil
		}
		if v.Depth > maxDepth {
			return false, fmt.Errorf("btree node %d: tree too deep", v.Block)
		}
		n := v.Node
		if f := n.Flags(); f != btree.InternalNode && f != btree.LeafNode {
			return false, fmt.Errorf("btree node %d: flags %d", v.Block, f)
		}
		if f := CheckNode(n, v.Block, NodeCheck{valueSize, v.Root, v.ParentKey, last}); f != nil {
			return false, f
		}
		if n.IsInternal() {
			return true, nil
		}
		for i := 0; i < n.NrEntries(); i++ {
			k := n.Key(i)
			lastKey, last = k, &lastKey
			if leaf != nil {
				if err := leaf(k, n.Value(i)); err != nil {
					return false, err
				}
			}
		}
		return false, nil
	})
}

// countTree is the tools' counting walk: enter is told of every node
// reached and a node reached again (enter returns false) is not descended
// into; an unreadable node stops it; leaf sees each leaf on first reach.
func (im *Image) countTree(root uint64, enter func(uint64) bool, leaf func(btree.Node) error) error {
	// WalkTree's order and stops, but a leaf already validated (by an
	// earlier walk: thin_check's walk of the trees before its recount) is
	// not read again when leaf does not need its entries.
	if !enter(root) {
		return nil
	}
	if leaf == nil && im.leaves.Has(root) {
		return nil
	}
	// leaf reads other blocks while it holds n: a copy
	kp := keepInternal
	if leaf != nil {
		kp = keepAll
	}
	buf := im.nodeBuf()
	defer im.putNodeBuf(buf)
	p, err := im.readInto(root, NodeBlock, kp, buf)
	if err != nil {
		return err
	}
	n := btree.Node(p)
	if !n.IsInternal() {
		if leaf != nil {
			return leaf(n)
		}
		return nil
	}
	if !Sane(n, 8) {
		return nil
	}
	for i := 0; i < n.NrEntries(); i++ {
		if err := im.countTree(n.Value64(i), enter, leaf); err != nil {
			return err
		}
	}
	return nil
}

// SpaceMap is a space map read back from an image.
type SpaceMap struct {
	Root     spacemap.Root
	Entries  []spacemap.IndexEntry
	bitmaps  [][]byte
	overflow map[uint64]uint32
}

// ReadSpaceMap reads a space map's index (the metadata index block, or the
// data index btree), its bitmaps and its overflow tree, in that order.
// enter is told of every metadata block the space map uses; for a btree
// node, returning false means it is not walked again. Read errors stop it.
func (im *Image) ReadSpaceMap(r spacemap.Root, metadata bool, enter func(uint64) bool) (*SpaceMap, error) {
	return im.readSpaceMap(r, metadata, enter, true)
}

// readSpaceMap is ReadSpaceMap; without counts, the bitmaps are validated
// but not kept (the recount of the data space map's blocks): the result
// has no counts.
func (im *Image) readSpaceMap(r spacemap.Root, metadata bool, enter func(uint64) bool, counts bool) (*SpaceMap, error) {
	if enter == nil {
		enter = func(uint64) bool { return true }
	}
	s := &SpaceMap{Root: r, overflow: map[uint64]uint32{}}
	kp := keepNone
	if counts {
		kp = keepAll
	}
	readBitmap := func(ie spacemap.IndexEntry) error {
		bm, err := im.readInto(ie.Blocknr, BitmapBlock, kp, nil)
		if err != nil {
			return err
		}
		enter(ie.Blocknr)
		s.Entries = append(s.Entries, ie)
		if counts {
			s.bitmaps = append(s.bitmaps, bm)
		}
		return nil
	}
	if metadata {
		idx, err := im.Index(r.BitmapRoot)
		if err != nil {
			return nil, err
		}
		enter(r.BitmapRoot)
		n := min((r.NrBlocks+spacemap.EntriesPerBlock-1)/spacemap.EntriesPerBlock, spacemap.MaxMetadataBitmaps)
		for i := uint64(0); i < n; i++ {
			if err := readBitmap(spacemap.DecodeIndexEntry(idx[16+16*i:])); err != nil {
				return nil, err
			}
		}
	} else if err := im.countTree(r.BitmapRoot, enter, func(n btree.Node) error {
		if !Sane(n, 16) {
			return nil
		}
		for i := 0; i < n.NrEntries(); i++ {
			if err := readBitmap(spacemap.DecodeIndexEntry(n.Value(i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := im.countTree(r.RefCountRoot, enter, nil); err != nil {
		return nil, err
	}
	// The overflow values, read in a walk of their own (thin_check reads
	// only the metadata space map's, and fails on an unreadable node).
	if !counts && !metadata {
		return s, nil // the walk could neither fail nor count
	}
	var seen BlockSet
	err := im.WalkTree(r.RefCountRoot, func(v *NodeVisit) (bool, error) {
		if v.Err != nil && metadata {
			return false, v.Err
		}
		if v.Err != nil || seen.Has(v.Block) {
			return false, nil
		}
		seen.Add(v.Block)
		n := v.Node
		if n.IsInternal() {
			return true, nil
		}
		if Sane(n, 4) {
			for i := 0; i < n.NrEntries(); i++ {
				s.overflow[n.Key(i)] = le.Uint32(n.Value(i))
			}
		}
		return false, nil
	})
	return s, err
}

// Covered is the number of blocks the space map's bitmaps describe.
func (s *SpaceMap) Covered() uint64 {
	return min(s.Root.NrBlocks, uint64(len(s.bitmaps))*spacemap.EntriesPerBlock)
}

// Count is the reference count of block b < Covered().
func (s *SpaceMap) Count(b uint64) uint32 {
	c := spacemap.BitmapLookup(s.bitmaps[b/spacemap.EntriesPerBlock], b%spacemap.EntriesPerBlock)
	if c == 3 {
		c = s.overflow[b]
	}
	return c
}

// EachUsed calls fn for every covered block with a non-zero count.
func (s *SpaceMap) EachUsed(fn func(b uint64, count uint32)) {
	n := s.Covered()
	for i, bm := range s.bitmaps {
		base := uint64(i) * spacemap.EntriesPerBlock
		for j := uint64(0); j < spacemap.EntriesPerBlock && base+j < n; j++ {
			if j%32 == 0 && le.Uint64(bm[16+j/4:]) == 0 {
				j += 31 // 32 free entries
				continue
			}
			if c := s.Count(base + j); c != 0 {
				fn(base+j, c)
			}
		}
	}
}

// RefCounts is the metadata reference-count recount: for every metadata
// block the metadata space map covers, the count the structures imply and
// the count the space map holds.
type RefCounts struct {
	Expected, Actual []uint32
}

// RecountMetadata recounts the references to every metadata block as
// thin_check does: the superblock, the details and both levels of the
// mapping tree of the live superblock and of the metadata snapshot, both
// space maps' own blocks. A node reached again gets +1 but is not walked
// again. mappingLeaf, when set, sees every bottom-level leaf on its first
// reach. An unreadable block stops the recount.
func (im *Image) RecountMetadata(sb *Superblock, mappingLeaf func(btree.Node)) (*RefCounts, error) {
	expected := make([]uint32, max(im.NrBlocks, 1))
	enter := func(b uint64) bool {
		if b >= uint64(len(expected)) {
			return true // unreadable anyway
		}
		expected[b]++
		return expected[b] == 1
	}
	enter(SuperblockLocation)
	trees := func(s *Superblock) error {
		if err := im.countTree(s.DeviceDetailsRoot, enter, nil); err != nil {
			return err
		}
		var sub func(btree.Node) error
		if mappingLeaf != nil {
			sub = func(n btree.Node) error {
				if Sane(n, 8) {
					mappingLeaf(n)
				}
				return nil
			}
		}
		return im.countTree(s.DataMappingRoot, enter, func(n btree.Node) error {
			if !Sane(n, 8) {
				return nil
			}
			for i := 0; i < n.NrEntries(); i++ {
				if err := im.countTree(n.Value64(i), enter, sub); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := trees(sb); err != nil {
		return nil, err
	}
	if sb.HeldRoot != 0 {
		enter(sb.HeldRoot)
		snap, err := im.Superblock(sb.HeldRoot)
		if err != nil {
			return nil, err
		}
		if err := trees(&snap); err != nil {
			return nil, err
		}
	}
	if _, err := im.readSpaceMap(sb.DataSpaceMap(), false, enter, false); err != nil {
		return nil, err
	}
	meta, err := im.ReadSpaceMap(sb.MetadataSpaceMap(), true, enter)
	if err != nil {
		return nil, err
	}
	n := meta.Covered()
	rc := &RefCounts{Expected: expected, Actual: make([]uint32, n)}
	if n <= uint64(len(expected)) {
		rc.Expected = expected[:n]
	} else {
		rc.Expected = make([]uint32, n)
		copy(rc.Expected, expected)
	}
	for b := uint64(0); b < n; b++ {
		rc.Actual[b] = meta.Count(b)
	}
	return rc, nil
}

// BlockSet is a growable set of block numbers.
type BlockSet []uint64

// Has reports whether b is in the set.
func (s *BlockSet) Has(b uint64) bool { return b/64 < uint64(len(*s)) && (*s)[b/64]&(1<<(b%64)) != 0 }

// Add puts b in the set.
func (s *BlockSet) Add(b uint64) {
	for b/64 >= uint64(len(*s)) {
		*s = append(*s, make([]uint64, len(*s)+1)...)
	}
	(*s)[b/64] |= 1 << (b % 64)
}

func (s *BlockSet) union(o BlockSet) {
	if len(o) > len(*s) {
		*s = append(*s, make([]uint64, len(o)-len(*s))...)
	}
	for i, w := range o {
		(*s)[i] |= w
	}
}
