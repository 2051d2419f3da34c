package thinmeta

import (
	"fmt"
	mathbits "math/bits"

	"github.com/dmsim/dmsim/persistent-data/btree"
)

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

// Check verifies an image beyond what thin_check 0.9.0 looks at, as the
// kernel depends on it (docs/metadata-format.md §11): every tree's nodes, the
// metadata and data reference counts, both nr_allocated, the device sets
// and mapped_blocks.
func (im *Image) Check() *CheckReport {
	rep := &CheckReport{}
	sb, err := im.Superblock(SuperblockLocation)
	if err != nil {
		rep.add(true, "superblock: %v", err)
		return rep
	}
	dataRoot := sb.DataSpaceMap()
	// Each data bitmap takes a metadata block: a larger data space map
	// cannot be real, and must not make us allocate for it.
	if dataRoot.NrBlocks > im.NrBlocks*16320 {
		rep.add(true, "data space map claims %d blocks, more than %d metadata blocks can describe", dataRoot.NrBlocks, im.NrBlocks)
		return rep
	}
	im.checkPool(rep, &sb, "")
	if sb.HeldRoot != 0 {
		if snap, err := im.Superblock(sb.HeldRoot); err != nil {
			rep.add(true, "metadata snapshot: %v", err)
		} else {
			im.checkPool(rep, &snap, "metadata snapshot: ")
		}
	}
	dataRefs := newRefCounts(dataRoot.NrBlocks)
	rc, err := im.RecountMetadata(&sb, func(n btree.Node) {
		for i := 0; i < n.NrEntries(); i++ {
			b, _ := UnpackBlockTime(n.Value64(i))
			if b >= dataRoot.NrBlocks {
				rep.add(true, "mapping %d maps data block %d beyond the data device (%d blocks)", n.Key(i), b, dataRoot.NrBlocks)
			}
			dataRefs.inc(b)
		}
	})
	if err != nil {
		rep.add(true, "reference counts: %v", err)
		return rep
	}
	var metaAllocated uint64
	for b, e := range rc.Expected {
		if a := rc.Actual[b]; a != e {
			rep.add(e > a, "metadata reference counts differ for block %d, expected %d, but got %d", b, e, a)
		}
		if rc.Actual[b] != 0 {
			metaAllocated++
		}
	}
	if metaRoot := sb.MetadataSpaceMap(); metaAllocated != metaRoot.NrAllocated {
		rep.add(false, "metadata space map nr_allocated is %d, counted %d", metaRoot.NrAllocated, metaAllocated)
	}
	data, err := im.ReadSpaceMap(dataRoot, false, nil)
	if err != nil {
		rep.add(true, "data space map: %v", err)
		return rep
	}
	var dataAllocated uint64
	data.EachUsed(func(b uint64, c uint32) {
		dataAllocated++
		if e := dataRefs.get(b); e != c {
			rep.add(e > c, "data reference counts differ for block %d, expected %d, but got %d", b, e, c)
		}
		dataRefs.clear(b)
	})
	dataRefs.each(func(b uint64, e uint32) {
		rep.add(true, "data reference counts differ for block %d, expected %d, but got 0", b, e)
	})
	if dataAllocated != dataRoot.NrAllocated {
		rep.add(false, "data space map nr_allocated is %d, counted %d", dataRoot.NrAllocated, dataAllocated)
	}
	return rep
}

// checkPool checks the trees of one superblock: every node, the device
// sets of the details and mapping trees, and (live) mapped_blocks.
func (im *Image) checkPool(rep *CheckReport, s *Superblock, label string) {
	devs := map[uint64]DeviceDetails{}
	if err := im.ReadTree(s.DeviceDetailsRoot, DetailsSize, nil, func(k uint64, v []byte) error {
		devs[k] = DecodeDetails(v)
		return nil
	}); err != nil {
		rep.add(true, "%sdevice details tree: %v", label, err)
	}
	roots := map[uint64]uint64{}
	if err := im.ReadTree(s.DataMappingRoot, 8, nil, func(k uint64, v []byte) error {
		roots[k] = le.Uint64(v)
		return nil
	}); err != nil {
		rep.add(true, "%smapping tree: %v", label, err)
	}
	for id, root := range roots {
		var mapped uint64
		if err := im.ReadTree(root, 8, nil, func(uint64, []byte) error { mapped++; return nil }); err != nil {
			rep.add(true, "%sthin device %d: %v", label, id, err)
			continue
		}
		if d, ok := devs[id]; !ok {
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

// refCounts counts references to n blocks in two bits each, as a space
// map's bitmaps do, counts of 3 or more in a map: 100M data blocks take
// 25 MB, not the gigabytes of a map of every block.
type refCounts struct {
	n    uint64
	bits []uint64
	over map[uint64]uint32
}

func newRefCounts(n uint64) *refCounts {
	return &refCounts{n: n, bits: make([]uint64, (n+31)/32), over: map[uint64]uint32{}}
}

func (r *refCounts) small(b uint64) uint64 { return r.bits[b/32] >> (2 * (b % 32)) & 3 }

func (r *refCounts) set(b, v uint64) {
	sh := 2 * (b % 32)
	r.bits[b/32] = r.bits[b/32]&^(3<<sh) | v<<sh
}

// inc counts a reference to b; blocks beyond n are not counted (Check
// reports them as such).
func (r *refCounts) inc(b uint64) {
	if b >= r.n {
		return
	}
	switch v := r.small(b); v {
	case 0, 1:
		r.set(b, v+1)
	case 2:
		r.set(b, 3)
		r.over[b] = 3
	default:
		r.over[b]++
	}
}

func (r *refCounts) get(b uint64) uint32 {
	if b >= r.n {
		return 0
	}
	if v := r.small(b); v < 3 {
		return uint32(v)
	}
	return r.over[b]
}

func (r *refCounts) clear(b uint64) {
	if b < r.n {
		r.set(b, 0)
		delete(r.over, b)
	}
}

// each calls fn for every block with references, in block order.
func (r *refCounts) each(fn func(b uint64, count uint32)) {
	for w, bits := range r.bits {
		for bits != 0 {
			i := uint64(mathbits.TrailingZeros64(bits)) / 2
			b := uint64(w)*32 + i
			fn(b, r.get(b))
			bits &^= 3 << (2 * i)
		}
	}
}
