package thintools

// LOCAL SHIM (write side): builds a complete metadata image from the
// XML's logical content by bulk-loading each btree bottom-up and writing
// both space maps (metadata-format.md §13). It exists only until
// thinmeta's format/write path can be driven from the tools; see
// thintools/README.md.

import (
	"sort"
)

const errNoSpace = "transaction_manager::new_block() couldn't allocate new block"

type imgWriter struct {
	blocks map[uint64][]byte
	kinds  map[uint64]uint32 // checksum xor per block
	next   uint64
	limit  uint64
}

func (w *imgWriter) alloc(xor uint32) (uint64, []byte, error) {
	if w.next >= w.limit {
		return 0, nil, toolError(errNoSpace)
	}
	b := w.next
	w.next++
	p := make([]byte, blockSize)
	w.blocks[b] = p
	w.kinds[b] = xor
	return b, p, nil
}

func maxEntries(valueSize int) int { return (blockSize - nodeHeader) / (8 + valueSize) / 3 * 3 }

// buildTree bulk-loads n sorted entries; val(i, dst) writes value i.
func (w *imgWriter) buildTree(n int, key func(i int) uint64, valueSize int, val func(i int, dst []byte)) (uint64, error) {
	type ref struct{ key, block uint64 }
	fill := func(flags uint32, vs int, keys []uint64, put func(j int, dst []byte)) (uint64, error) {
		b, p, err := w.alloc(nodeXor)
		if err != nil {
			return 0, err
		}
		max := maxEntries(vs)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], b)
		le.PutUint32(p[16:], uint32(len(keys)))
		le.PutUint32(p[20:], uint32(max))
		le.PutUint32(p[24:], uint32(vs))
		for j, k := range keys {
			le.PutUint64(p[nodeHeader+8*j:], k)
			o := nodeHeader + 8*max + j*vs
			put(j, p[o:o+vs])
		}
		return b, nil
	}
	split := func(n, max int) []int { // sizes of near-equal chunks
		k := (n + max - 1) / max
		if k == 0 {
			k = 1
		}
		sizes := make([]int, k)
		for i := range sizes {
			sizes[i] = n / k
			if i < n%k {
				sizes[i]++
			}
		}
		return sizes
	}
	var level []ref
	start := 0
	for _, sz := range split(n, maxEntries(valueSize)) {
		keys := make([]uint64, sz)
		for j := range keys {
			keys[j] = key(start + j)
		}
		s := start
		b, err := fill(flagLeaf, valueSize, keys, func(j int, dst []byte) { val(s+j, dst) })
		if err != nil {
			return 0, err
		}
		first := uint64(0)
		if sz > 0 {
			first = keys[0]
		}
		level = append(level, ref{first, b})
		start += sz
	}
	for len(level) > 1 {
		var up []ref
		start := 0
		for _, sz := range split(len(level), maxEntries(8)) {
			chunk := level[start : start+sz]
			keys := make([]uint64, sz)
			for j := range chunk {
				keys[j] = chunk[j].key
			}
			b, err := fill(flagInternal, 8, keys, func(j int, dst []byte) { le.PutUint64(dst, chunk[j].block) })
			if err != nil {
				return 0, err
			}
			up = append(up, ref{keys[0], b})
			start += sz
		}
		level = up
	}
	return level[0].block, nil
}

// setBitmapEntry stores a 2-bit count (0..3) with the on-disk bit order.
func setBitmapEntry(bm []byte, i uint64, v uint32) {
	sh := 2 * (i % 4)
	hi, lo := v&1, v>>1&1 // the lower bit of the pair is worth 2
	bm[16+i/4] |= byte(lo<<sh | hi<<(sh+1))
}

// writeMetadata writes md as a fresh image of nrMeta blocks.
func writeMetadata(dev Device, md *xmlMetadata, nrMeta uint64) error {
	w := &imgWriter{blocks: map[uint64][]byte{}, kinds: map[uint64]uint32{}, next: 1, limit: nrMeta}
	devs := md.devices
	// device details
	detailsRoot, err := w.buildTree(len(devs), func(i int) uint64 { return devs[i].id }, 24, func(i int, dst []byte) {
		d := devs[i].details
		le.PutUint64(dst, uint64(len(devs[i].keys)))
		le.PutUint64(dst[8:], d.transactionID)
		le.PutUint32(dst[16:], d.creationTime)
		le.PutUint32(dst[20:], d.snapTime)
	})
	if err != nil {
		return err
	}
	// each device's mappings, then the top level
	dc := newDataCounts(md.nrDataBlocks)
	subRoots := make([]uint64, len(devs))
	for di, d := range devs {
		for _, v := range d.vals {
			dc.inc(v >> 24)
		}
		r, err := w.buildTree(len(d.keys), func(i int) uint64 { return d.keys[i] }, 8, func(i int, dst []byte) {
			le.PutUint64(dst, d.vals[i])
		})
		if err != nil {
			return err
		}
		subRoots[di] = r
	}
	mappingRoot, err := w.buildTree(len(devs), func(i int) uint64 { return devs[i].id }, 8, func(i int, dst []byte) {
		le.PutUint64(dst, subRoots[i])
	})
	if err != nil {
		return err
	}
	// data space map
	dataRoot, err := w.buildSpaceMap(md.nrDataBlocks, dc)
	if err != nil {
		return err
	}
	// metadata space map: every block written so far has count 1, and
	// so do the index block, the bitmaps and the overflow tree's root.
	metaRoot, err := w.buildMetaSpaceMap(nrMeta)
	if err != nil {
		return err
	}
	sb := make([]byte, blockSize)
	le.PutUint32(sb[4:], md.flags)
	copy(sb[16:32], md.uuid)
	le.PutUint64(sb[32:], 27022010)
	le.PutUint32(sb[40:], md.version)
	le.PutUint32(sb[44:], md.time)
	le.PutUint64(sb[48:], md.transID)
	le.PutUint64(sb[56:], md.metadataSnap)
	copy(sb[64:96], dataRoot)
	copy(sb[192:224], metaRoot)
	le.PutUint64(sb[320:], mappingRoot)
	le.PutUint64(sb[328:], detailsRoot)
	le.PutUint32(sb[336:], md.dataBlockSize)
	le.PutUint32(sb[340:], 8)
	le.PutUint64(sb[344:], nrMeta)
	var order []uint64
	for b := range w.blocks {
		order = append(order, b)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, b := range order {
		p := w.blocks[b]
		le.PutUint32(p, checksum(p, w.kinds[b]))
		if _, err := dev.WriteAt(p, int64(b)*blockSize); err != nil {
			return errorf("couldn't write block %d", b)
		}
	}
	if err := syncDev(dev); err != nil {
		return err
	}
	le.PutUint32(sb, checksum(sb, superblockXor))
	if _, err := dev.WriteAt(sb, 0); err != nil {
		return errorf("couldn't write superblock")
	}
	return syncDev(dev)
}

// buildSpaceMap writes a btree-indexed (data) space map of nr blocks and
// returns its 32-byte root.
func (w *imgWriter) buildSpaceMap(nr uint64, dc *dataCounts) ([]byte, error) {
	count := dc.get
	nrBitmaps := (nr + entriesPerBmap - 1) / entriesPerBmap
	if nrBitmaps > w.limit-w.next {
		return nil, toolError(errNoSpace)
	}
	type ie struct{ block, free, first uint64 }
	entries := make([]ie, nrBitmaps)
	// bitmaps are sparse in counts: group the nonzero blocks by bitmap
	byBitmap := map[uint64][]uint64{}
	var over []uint64
	var allocated uint64
	for _, b := range dc.nonzero() {
		c := count(b)
		if b >= nr {
			continue
		}
		byBitmap[b/entriesPerBmap] = append(byBitmap[b/entriesPerBmap], b)
		allocated++
		if c > 2 {
			over = append(over, b)
		}
	}
	for i := uint64(0); i < nrBitmaps; i++ {
		b, p, err := w.alloc(bitmapXor)
		if err != nil {
			return nil, err
		}
		le.PutUint64(p[8:], b)
		used := byBitmap[i]
		sort.Slice(used, func(x, y int) bool { return used[x] < used[y] })
		first := uint64(0)
		for _, blk := range used {
			c := count(blk)
			if c > 3 {
				c = 3
			}
			setBitmapEntry(p, blk%entriesPerBmap, c)
			if blk%entriesPerBmap == first {
				first++
			}
		}
		entries[i] = ie{b, entriesPerBmap - uint64(len(used)), first}
	}
	sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
	rc, err := w.buildTree(len(over), func(i int) uint64 { return over[i] }, 4, func(i int, dst []byte) {
		le.PutUint32(dst, count(over[i]))
	})
	if err != nil {
		return nil, err
	}
	idx, err := w.buildTree(len(entries), func(i int) uint64 { return uint64(i) }, 16, func(i int, dst []byte) {
		le.PutUint64(dst, entries[i].block)
		le.PutUint32(dst[8:], uint32(entries[i].free))
		le.PutUint32(dst[12:], uint32(entries[i].first))
	})
	if err != nil {
		return nil, err
	}
	root := make([]byte, 32)
	le.PutUint64(root, nr)
	le.PutUint64(root[8:], allocated)
	le.PutUint64(root[16:], idx)
	le.PutUint64(root[24:], rc)
	return root, nil
}

// buildMetaSpaceMap writes the metadata space map (index block, bitmaps,
// empty overflow tree) counting every block allocated so far, itself
// included, once.
func (w *imgWriter) buildMetaSpaceMap(nr uint64) ([]byte, error) {
	nrBitmaps := (nr + entriesPerBmap - 1) / entriesPerBmap
	rc, err := w.buildTree(0, nil, 4, nil)
	if err != nil {
		return nil, err
	}
	idxBlock, idx, err := w.alloc(indexXor)
	if err != nil {
		return nil, err
	}
	le.PutUint64(idx[8:], idxBlock)
	bitmaps := make([][]byte, nrBitmaps)
	blocks := make([]uint64, nrBitmaps)
	for i := range bitmaps {
		b, p, err := w.alloc(bitmapXor)
		if err != nil {
			return nil, err
		}
		le.PutUint64(p[8:], b)
		bitmaps[i], blocks[i] = p, b
	}
	used := w.next // blocks 0..used-1 all have count 1
	for i := uint64(0); i < nrBitmaps; i++ {
		lo := i * entriesPerBmap
		var n, first uint64
		for b := lo; b < lo+entriesPerBmap && b < used; b++ {
			setBitmapEntry(bitmaps[i], b-lo, 1)
			n++
		}
		first = n
		o := 16 + 16*i
		le.PutUint64(idx[o:], blocks[i])
		le.PutUint32(idx[o+8:], uint32(entriesPerBmap-n))
		le.PutUint32(idx[o+12:], uint32(first))
	}
	root := make([]byte, 32)
	le.PutUint64(root, nr)
	le.PutUint64(root[8:], used)
	le.PutUint64(root[16:], idxBlock)
	le.PutUint64(root[24:], rc)
	return root, nil
}

// dataCounts holds data block reference counts: a slice for pools of up
// to 2^27 data blocks, a map beyond.
type dataCounts struct {
	s []uint32
	m map[uint64]uint32
}

func newDataCounts(nr uint64) *dataCounts {
	if nr <= 1<<27 {
		return &dataCounts{s: make([]uint32, nr)}
	}
	return &dataCounts{m: map[uint64]uint32{}}
}

func (d *dataCounts) inc(b uint64) {
	if d.m == nil && b < uint64(len(d.s)) {
		d.s[b]++
		return
	}
	if d.m == nil {
		return // beyond the pool: rejected by the parser already
	}
	d.m[b]++
}

func (d *dataCounts) get(b uint64) uint32 {
	if d.m == nil {
		if b < uint64(len(d.s)) {
			return d.s[b]
		}
		return 0
	}
	return d.m[b]
}

// nonzero lists the blocks with a count, ascending.
func (d *dataCounts) nonzero() []uint64 {
	var out []uint64
	if d.m == nil {
		for b, c := range d.s {
			if c != 0 {
				out = append(out, uint64(b))
			}
		}
		return out
	}
	for b := range d.m {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
