// Package spacemap holds dmsim's space maps
// (drivers/md/persistent-data/dm-space-map-{common,metadata,disk}.c): 2-bit
// reference counts in bitmap blocks, an overflow btree for counts above 2,
// and an index of the bitmaps (a btree for data, one index block for
// metadata).
package spacemap

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/dmsim/dmsim/internal/crashmut"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

var le = binary.LittleEndian

// Layout constants.
const (
	IndexCsumXor       = 160478
	BitmapCsumXor      = 240779
	EntriesPerBlock    = (block.Size - 16) * 4 // 16320
	MaxMetadataBitmaps = 255
	// MetadataMaxBlocks is DM_SM_METADATA_MAX_BLOCKS.
	MetadataMaxBlocks = MaxMetadataBitmaps * EntriesPerBlock
	// RootSize is sizeof(struct disk_sm_root).
	RootSize    = 32
	ieCacheSize = 64
)

// IndexValidator and BitmapValidator are the kernel's index_validator and
// dm_sm_bitmap_validator.
var (
	IndexValidator  block.Validator = &block.Std{Label: "index", Xor: IndexCsumXor, Prefix: "space map common", CheckName: "index_check failed"}
	BitmapValidator block.Validator = &block.Std{Label: "sm_bitmap", Xor: BitmapCsumXor, Prefix: "space map common", CheckName: "bitmap check failed"}
)

// IndexEntry is struct disk_index_entry.
type IndexEntry struct {
	Blocknr        uint64
	NrFree         uint32
	NoneFreeBefore uint32
}

// Encode writes the 16-byte on-disk form.
func (ie IndexEntry) Encode(b []byte) {
	le.PutUint64(b, ie.Blocknr)
	le.PutUint32(b[8:], ie.NrFree)
	le.PutUint32(b[12:], ie.NoneFreeBefore)
}

// DecodeIndexEntry reads the 16-byte on-disk form.
func DecodeIndexEntry(b []byte) IndexEntry {
	return IndexEntry{le.Uint64(b), le.Uint32(b[8:]), le.Uint32(b[12:])}
}

// Root is struct disk_sm_root.
type Root struct {
	NrBlocks, NrAllocated, BitmapRoot, RefCountRoot uint64
}

// Encode writes the 32-byte on-disk form.
func (r Root) Encode(b []byte) {
	le.PutUint64(b, r.NrBlocks)
	le.PutUint64(b[8:], r.NrAllocated)
	le.PutUint64(b[16:], r.BitmapRoot)
	le.PutUint64(b[24:], r.RefCountRoot)
}

// DecodeRoot reads the 32-byte on-disk form.
func DecodeRoot(b []byte) Root {
	return Root{le.Uint64(b), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])}
}

// BitmapLookup returns entry i of a bitmap block's data: the low bit of
// the pair is worth 2, the high bit 1.
func BitmapLookup(data []byte, i uint64) uint32 {
	byt := data[16+i/4]
	sh := 2 * (i % 4)
	hi := uint32(byt>>sh) & 1
	lo := uint32(byt>>(sh+1)) & 1
	return hi<<1 | lo
}

// BitmapSet stores v (0..3) as entry i of a bitmap block's data.
func BitmapSet(data []byte, i uint64, v uint32) {
	p := &data[16+i/4]
	sh := 2 * (i % 4)
	*p &^= 3 << sh
	*p |= byte((v>>1)&1|(v&1)<<1) << sh
}

// bitmapFindFree is sm_find_free(): the first zero entry in [begin, end).
func bitmapFindFree(data []byte, begin, end uint64) (uint64, bool) {
	for begin < end {
		if begin%32 == 0 && end-begin >= 32 {
			w := le.Uint64(data[16+begin/4:])
			used := (w | w>>1) & 0x5555555555555555
			if used == 0x5555555555555555 {
				begin += 32
				continue
			}
			free := ^used & 0x5555555555555555
			return begin + uint64(bits.TrailingZeros64(free))/2, true
		}
		if BitmapLookup(data, begin) == 0 {
			return begin, true
		}
		begin++
	}
	return 0, false
}

type ieCache struct {
	valid, dirty bool
	index        uint64
	ie           IndexEntry
}

// ll is struct ll_disk. It is copied by value to keep the state of the
// last commit (old_ll), so it holds no pointers to mutable state.
type ll struct {
	tm           *transaction.Manager
	bitmapInfo   btree.Info
	refInfo      btree.Info
	nrBlocks     uint64
	nrAllocated  uint64
	bitmapRoot   uint64
	refCountRoot uint64
	metadata     bool
	tools        bool // ToolsLayout
	mi           [MaxMetadataBitmaps]IndexEntry
	cache        [ieCacheSize]ieCache
	indexChanged bool
}

func (l *ll) init(tm *transaction.Manager, metadata bool) {
	*l = ll{tm: tm, metadata: metadata}
	l.bitmapInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: 16}}
	l.refInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: 4}}
}

// Option configures a new space map.
type Option func(*ll)

// ToolsLayout lays a new space map out as thin-provisioning-tools 0.9.0
// (thin_restore) does: the index entry of a partial last bitmap counts
// only the blocks in range as free, and the index and overflow btrees
// split like the tools' (btree.Info.SplitOnly).
func ToolsLayout(l *ll) {
	l.tools = true
	l.bitmapInfo.SplitOnly = true
	l.refInfo.SplitOnly = true
}

func (l *ll) maxEntries() uint64 {
	if l.metadata {
		return MaxMetadataBitmaps
	}
	return ^uint64(0)
}

func hashIndex(index uint64) int {
	return int((uint32(index) * 4294967291) & (ieCacheSize - 1))
}

func (l *ll) writeback(c *ieCache) error {
	c.dirty = false
	var v [16]byte
	c.ie.Encode(v[:])
	nr, _, err := btree.Insert(&l.bitmapInfo, l.bitmapRoot, []uint64{c.index}, v[:])
	if err != nil {
		return err
	}
	l.bitmapRoot = nr
	return nil
}

// loadIE is ll->load_ie.
func (l *ll) loadIE(index uint64) (IndexEntry, error) {
	if l.metadata {
		if index >= MaxMetadataBitmaps {
			return IndexEntry{}, fmt.Errorf("metadata bitmap index %d out of range: %w", index, linuxerr.EINVAL)
		}
		return l.mi[index], nil
	}
	// disk_ll_load_ie(): a small write-back cache in front of the btree.
	c := &l.cache[hashIndex(index)]
	if c.valid {
		if c.index == index {
			return c.ie, nil
		}
		if c.dirty {
			if err := l.writeback(c); err != nil {
				return IndexEntry{}, err
			}
		}
	}
	var v [16]byte
	if err := btree.Lookup(&l.bitmapInfo, l.bitmapRoot, []uint64{index}, v[:]); err != nil {
		return IndexEntry{}, err
	}
	ie := DecodeIndexEntry(v[:])
	*c = ieCache{valid: true, index: index, ie: ie}
	return ie, nil
}

// saveIE is ll->save_ie.
func (l *ll) saveIE(index uint64, ie IndexEntry) error {
	l.indexChanged = true
	if l.metadata {
		if index >= MaxMetadataBitmaps {
			return fmt.Errorf("metadata bitmap index %d out of range: %w", index, linuxerr.EINVAL)
		}
		l.mi[index] = ie
		return nil
	}
	c := &l.cache[hashIndex(index)]
	if c.valid {
		if c.index == index {
			c.ie, c.dirty = ie, true
			if l.tools {
				return l.writeback(c)
			}
			return nil
		}
		if c.dirty {
			if err := l.writeback(c); err != nil {
				return err
			}
		}
	}
	*c = ieCache{valid: true, dirty: true, index: index, ie: ie}
	if l.tools {
		// The tools' btree_index_store has no cache: each entry goes into
		// the index btree at once, so that a growing index splits in
		// ascending key order, its new nodes allocated between bitmaps.
		return l.writeback(c)
	}
	return nil
}

// commit is sm_ll_commit().
func (l *ll) commit() error {
	if !l.indexChanged {
		return nil
	}
	if l.metadata {
		// metadata_ll_commit(): the index block is shadowed and rewritten.
		b, _, err := l.tm.ShadowBlock(l.bitmapRoot, IndexValidator)
		if err != nil {
			return err
		}
		l.encodeIndex(b.Data())
		l.bitmapRoot = b.Location()
		l.tm.Unlock(b)
	} else {
		// disk_ll_commit(): write back the dirty cached index entries.
		for i := range l.cache {
			c := &l.cache[i]
			if c.valid && c.dirty {
				if err := l.writeback(c); err != nil {
					return err
				}
			}
		}
	}
	l.indexChanged = false
	return nil
}

func (l *ll) encodeIndex(d []byte) {
	for i := range l.mi {
		l.mi[i].Encode(d[16+16*i:])
	}
}

// newMetadataLL is sm_ll_new_metadata().
func (l *ll) newMetadata(tm *transaction.Manager, opts []Option) error {
	l.init(tm, true)
	for _, o := range opts {
		o(l)
	}
	b, err := tm.NewBlock(IndexValidator)
	if err != nil {
		return err
	}
	l.bitmapRoot = b.Location()
	tm.Unlock(b)
	l.refCountRoot, err = btree.Empty(&l.refInfo)
	return err
}

// openMetadata is sm_ll_open_metadata().
func (l *ll) openMetadata(tm *transaction.Manager, r Root) error {
	l.init(tm, true)
	l.nrBlocks, l.nrAllocated, l.bitmapRoot, l.refCountRoot = r.NrBlocks, r.NrAllocated, r.BitmapRoot, r.RefCountRoot
	b, err := tm.ReadLock(l.bitmapRoot, IndexValidator)
	if err != nil {
		return err
	}
	d := b.Data()
	for i := range l.mi {
		l.mi[i] = DecodeIndexEntry(d[16+16*i:])
	}
	tm.Unlock(b)
	return nil
}

// newDisk is sm_ll_new_disk().
func (l *ll) newDisk(tm *transaction.Manager, opts []Option) error {
	l.init(tm, false)
	for _, o := range opts {
		o(l)
	}
	var err error
	if l.bitmapRoot, err = btree.Empty(&l.bitmapInfo); err != nil {
		return err
	}
	l.refCountRoot, err = btree.Empty(&l.refInfo)
	return err
}

// openDisk is sm_ll_open_disk().
func (l *ll) openDisk(tm *transaction.Manager, r Root) {
	l.init(tm, false)
	l.nrBlocks, l.nrAllocated, l.bitmapRoot, l.refCountRoot = r.NrBlocks, r.NrAllocated, r.BitmapRoot, r.RefCountRoot
}

func (l *ll) root() Root {
	return Root{l.nrBlocks, l.nrAllocated, l.bitmapRoot, l.refCountRoot}
}

// extend is sm_ll_extend(): new bitmaps for the added blocks.
func (l *ll) extend(extra uint64) error {
	nrBlocks := l.nrBlocks + extra
	oldBitmaps := divUp(l.nrBlocks, EntriesPerBlock)
	bitmaps := divUp(nrBlocks, EntriesPerBlock)
	if bitmaps > l.maxEntries() {
		return fmt.Errorf("space map too large: %w", linuxerr.EINVAL)
	}
	l.nrBlocks = nrBlocks
	for i := oldBitmaps; i < bitmaps; i++ {
		b, err := l.tm.NewBlock(BitmapValidator)
		if err != nil {
			return err
		}
		ie := IndexEntry{Blocknr: b.Location(), NrFree: EntriesPerBlock}
		if l.tools {
			ie.NrFree = uint32(min(EntriesPerBlock, nrBlocks-i*EntriesPerBlock))
		}
		l.tm.Unlock(b)
		if err := l.saveIE(i, ie); err != nil {
			return err
		}
	}
	return nil
}

func divUp(v, n uint64) uint64 { return (v + n - 1) / n }

// lookupBitmap is sm_ll_lookup_bitmap().
func (l *ll) lookupBitmap(b uint64) (uint32, error) {
	if b >= l.nrBlocks {
		return 0, fmt.Errorf("block %d out of bounds (%d blocks): %w", b, l.nrBlocks, linuxerr.EINVAL)
	}
	ie, err := l.loadIE(b / EntriesPerBlock)
	if err != nil {
		return 0, err
	}
	blk, err := l.tm.ReadLock(ie.Blocknr, BitmapValidator)
	if err != nil {
		return 0, err
	}
	v := BitmapLookup(blk.Data(), b%EntriesPerBlock)
	l.tm.Unlock(blk)
	return v, nil
}

func (l *ll) lookupBig(b uint64) (uint32, error) {
	var v [4]byte
	if err := btree.Lookup(&l.refInfo, l.refCountRoot, []uint64{b}, v[:]); err != nil {
		return 0, err
	}
	return le.Uint32(v[:]), nil
}

func (l *ll) insertBig(b uint64, count uint32) error {
	var v [4]byte
	le.PutUint32(v[:], count)
	nr, _, err := btree.Insert(&l.refInfo, l.refCountRoot, []uint64{b}, v[:])
	if err == nil {
		l.refCountRoot = nr
	}
	return err
}

// lookup is sm_ll_lookup(): the full reference count.
func (l *ll) lookup(b uint64) (uint32, error) {
	v, err := l.lookupBitmap(b)
	if err != nil || v != 3 {
		return v, err
	}
	return l.lookupBig(b)
}

// findFree is sm_ll_find_free_block().
func (l *ll) findFree(begin, end uint64) (uint64, error) {
	indexBegin := begin / EntriesPerBlock
	indexEnd := divUp(end, EntriesPerBlock)
	begin %= EntriesPerBlock
	end %= EntriesPerBlock
	if end == 0 {
		end = EntriesPerBlock
	}
	for i := indexBegin; i < indexEnd; i, begin = i+1, 0 {
		ie, err := l.loadIE(i)
		if err != nil {
			return 0, err
		}
		if ie.NrFree == 0 {
			continue
		}
		blk, err := l.tm.ReadLock(ie.Blocknr, BitmapValidator)
		if err != nil {
			return 0, err
		}
		bitEnd := uint64(EntriesPerBlock)
		if i == indexEnd-1 {
			bitEnd = end
		}
		start := begin
		if uint64(ie.NoneFreeBefore) > start {
			start = uint64(ie.NoneFreeBefore)
		}
		pos, ok := bitmapFindFree(blk.Data(), start, bitEnd)
		l.tm.Unlock(blk)
		if ok {
			return i*EntriesPerBlock + pos, nil
		}
	}
	return 0, linuxerr.ENOSPC
}

// findCommonFree is sm_ll_find_common_free_block(): free both now and at the
// last commit, so no block freed in this transaction is reused.
func findCommonFree(old, cur *ll, begin, end uint64) (uint64, error) {
	if crashmut.On(crashmut.ReuseFreed) {
		// Mutation M4: search from the first block, so that a block freed
		// in this transaction (behind the allocator's position) is found.
		begin = 0
	}
	for {
		b, err := cur.findFree(begin, cur.nrBlocks)
		if err != nil {
			return 0, err
		}
		if b >= old.nrBlocks || crashmut.On(crashmut.ReuseFreed) {
			return b, nil
		}
		c, err := old.lookup(b)
		if err != nil {
			return 0, err
		}
		if c == 0 {
			return b, nil
		}
		begin = b + 1
	}
}

// incContext is struct inc_context: the bitmap and overflow leaf currently
// held during a range inc/dec.
type incContext struct {
	ie       IndexEntry
	bitmap   *block.Block
	overflow *block.Block
}

func (l *ll) exitCtx(ic *incContext) {
	if ic.bitmap != nil {
		l.tm.Unlock(ic.bitmap)
	}
	if ic.overflow != nil {
		l.tm.Unlock(ic.overflow)
	}
	ic.bitmap, ic.overflow = nil, nil
}

func (l *ll) shadowBitmap(ic *incContext) error {
	b, _, err := l.tm.ShadowBlock(ic.ie.Blocknr, BitmapValidator)
	if err != nil {
		return err
	}
	ic.bitmap = b
	ic.ie.Blocknr = b.Location()
	return nil
}

// ensureBitmap re-takes the (already shadowed) bitmap with a plain write
// lock after it was dropped for an overflow btree operation.
func (l *ll) ensureBitmap(ic *incContext) error {
	if ic.bitmap == nil {
		b, err := l.tm.BM().WriteLock(ic.ie.Blocknr, BitmapValidator)
		if err != nil {
			return err
		}
		ic.bitmap = b
	}
	return nil
}

func overflowIndex(leaf *block.Block, b uint64) int {
	n := btree.Node(leaf.Data())
	i := btree.LowerBound(n, b)
	if i >= 0 && i < n.NrEntries() && n.Key(i) == b {
		return i
	}
	return -1
}

// overflowLeaf finds (shadowing) the overflow leaf holding b.
func (l *ll) overflowLeaf(b uint64, ic *incContext) (int, error) {
	if ic.overflow != nil {
		if i := overflowIndex(ic.overflow, b); i >= 0 {
			return i, nil
		}
	}
	l.exitCtx(ic)
	nr, leaf, i, err := btree.GetOverwriteLeaf(&l.refInfo, l.refCountRoot, b)
	if err != nil {
		return 0, fmt.Errorf("overflow btree is missing an entry: %w", err)
	}
	l.refCountRoot = nr
	ic.overflow = leaf
	return i, nil
}

// allocBit counts free entry bit of a bitmap (data) once: sm_ll_inc()'s
// step from 0 to 1.
func (l *ll) allocBit(data []byte, ie *IndexEntry, bit uint64) {
	BitmapSet(data, bit, 1)
	l.nrAllocated++
	ie.NrFree--
	if uint64(ie.NoneFreeBefore) == bit {
		ie.NoneFreeBefore = uint32(bit + 1)
	}
}

// incRange is sm_ll_inc(): it returns the change in allocated blocks.
func (l *ll) incRange(b, e uint64) (int64, error) {
	var allocs int64
	for b != e {
		var ic incContext
		index := b / EntriesPerBlock
		bit := b % EntriesPerBlock
		var err error
		if ic.ie, err = l.loadIE(index); err != nil {
			return allocs, err
		}
		if err := l.shadowBitmap(&ic); err != nil {
			return allocs, err
		}
		bitEnd := bit + (e - b)
		if bitEnd > EntriesPerBlock {
			bitEnd = EntriesPerBlock
		}
		for ; bit != bitEnd; bit, b = bit+1, b+1 {
			if err = l.ensureBitmap(&ic); err != nil {
				break
			}
			d := ic.bitmap.Data()
			switch old := BitmapLookup(d, bit); old {
			case 0:
				l.allocBit(d, &ic.ie, bit)
				allocs++
			case 1:
				BitmapSet(d, bit, 2)
			case 2:
				BitmapSet(d, bit, 3)
				l.exitCtx(&ic)
				err = l.insertBig(b, 3)
			default:
				if l.tools {
					// the tools rewrite the count with an insert
					l.exitCtx(&ic)
					var c uint32
					if c, err = l.lookupBig(b); err == nil {
						err = l.insertBig(b, c+1)
					}
					break
				}
				var i int
				if i, err = l.overflowLeaf(b, &ic); err == nil {
					vp := btree.Node(ic.overflow.Data()).Value(i)
					le.PutUint32(vp, le.Uint32(vp)+1)
				}
			}
			if err != nil {
				break
			}
		}
		l.exitCtx(&ic)
		if err != nil {
			return allocs, err
		}
		if err := l.saveIE(index, ic.ie); err != nil {
			return allocs, err
		}
	}
	return allocs, nil
}

// decOverflow is sm_ll_dec_overflow(): returns the count before the dec.
func (l *ll) decOverflow(b uint64, ic *incContext) (uint32, error) {
	i, err := l.overflowLeaf(b, ic)
	if err != nil {
		return 0, err
	}
	vp := btree.Node(ic.overflow.Data()).Value(i)
	rc := le.Uint32(vp)
	if rc > 3 {
		le.PutUint32(vp, rc-1)
		return rc, nil
	}
	l.exitCtx(ic)
	nr, err := btree.Remove(&l.refInfo, l.refCountRoot, []uint64{b})
	if err != nil {
		return 0, err
	}
	l.refCountRoot = nr
	return rc, nil
}

// decRange is sm_ll_dec().
func (l *ll) decRange(b, e uint64) (int64, error) {
	var allocs int64
	for b != e {
		var ic incContext
		index := b / EntriesPerBlock
		bit := b % EntriesPerBlock
		var err error
		if ic.ie, err = l.loadIE(index); err != nil {
			return allocs, err
		}
		if err := l.shadowBitmap(&ic); err != nil {
			return allocs, err
		}
		bitEnd := bit + (e - b)
		if bitEnd > EntriesPerBlock {
			bitEnd = EntriesPerBlock
		}
		for ; bit != bitEnd; bit, b = bit+1, b+1 {
			if err = l.ensureBitmap(&ic); err != nil {
				break
			}
			d := ic.bitmap.Data()
			switch BitmapLookup(d, bit) {
			case 0:
				err = fmt.Errorf("unable to decrement block %d: %w", b, linuxerr.EINVAL)
			case 1:
				BitmapSet(d, bit, 0)
				allocs--
				l.nrAllocated--
				ic.ie.NrFree++
				if uint64(ic.ie.NoneFreeBefore) > bit {
					ic.ie.NoneFreeBefore = uint32(bit)
				}
			case 2:
				BitmapSet(d, bit, 1)
			case 3:
				var old uint32
				if old, err = l.decOverflow(b, &ic); err == nil && old == 3 {
					if err = l.ensureBitmap(&ic); err == nil {
						BitmapSet(ic.bitmap.Data(), bit, 2)
					}
				}
			}
			if err != nil {
				break
			}
		}
		l.exitCtx(&ic)
		if err != nil {
			return allocs, err
		}
		if err := l.saveIE(index, ic.ie); err != nil {
			return allocs, err
		}
	}
	return allocs, nil
}

// insert is sm_ll_insert(): set the count of b.
func (l *ll) insert(b uint64, count uint32) (int64, error) {
	index := b / EntriesPerBlock
	bit := b % EntriesPerBlock
	ie, err := l.loadIE(index)
	if err != nil {
		return 0, err
	}
	nb, _, err := l.tm.ShadowBlock(ie.Blocknr, BitmapValidator)
	if err != nil {
		return 0, err
	}
	ie.Blocknr = nb.Location()
	old := BitmapLookup(nb.Data(), bit)
	if old > 2 {
		if old, err = l.lookupBig(b); err != nil {
			l.tm.Unlock(nb)
			return 0, err
		}
	}
	if count <= 2 {
		BitmapSet(nb.Data(), bit, count)
		l.tm.Unlock(nb)
		if old > 2 {
			nr, err := btree.Remove(&l.refInfo, l.refCountRoot, []uint64{b})
			if err != nil {
				return 0, err
			}
			l.refCountRoot = nr
		}
	} else {
		BitmapSet(nb.Data(), bit, 3)
		l.tm.Unlock(nb)
		if err := l.insertBig(b, count); err != nil {
			return 0, err
		}
	}
	var allocs int64
	if count != 0 && old == 0 {
		allocs = 1
		l.nrAllocated++
		ie.NrFree--
		if uint64(ie.NoneFreeBefore) == bit {
			ie.NoneFreeBefore = uint32(bit + 1)
		}
	} else if old != 0 && count == 0 {
		allocs = -1
		l.nrAllocated--
		ie.NrFree++
		if uint64(ie.NoneFreeBefore) > bit {
			ie.NoneFreeBefore = uint32(bit)
		}
	}
	return allocs, l.saveIE(index, ie)
}
