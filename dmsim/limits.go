package dmsim

// Stacking queue limits (block/blk-settings.c): how a stacking driver's
// limits combine those of its components, blk_stack_limits() and the
// helpers it uses.

// queueLimitAlignmentOffset is queue_limit_alignment_offset(): where the
// physical (or io_min) granularity of lim falls relative to sector.
func queueLimitAlignmentOffset(lim *QueueLimits, sector uint64) uint32 {
	gran := max(lim.PhysicalBlockSize, lim.IOMin)
	alignment := uint32(sector%uint64(gran>>9)) << 9
	return (gran + lim.AlignmentOffset - alignment) % gran
}

// queueLimitDiscardAlignment is queue_limit_discard_alignment(): the same
// for the discard granularity, 0 for a device that does not discard.
func queueLimitDiscardAlignment(lim *QueueLimits, sector uint64) uint32 {
	if lim.MaxDiscardSectors == 0 {
		return 0
	}
	alignment := uint64(lim.DiscardAlignment >> 9)
	gran := uint64(lim.DiscardGranularity >> 9)
	if gran == 0 {
		return 0
	}
	off := sector % gran
	off = (gran + alignment - off) % gran
	return uint32(off << 9)
}

// blkRoundDownSectors is blk_round_down_sectors(): a request size rounded
// down to the logical block size, never below a page.
func blkRoundDownSectors(sectors, lbs uint32) uint32 {
	step := max(lbs>>9, 1)
	sectors -= sectors % step
	if sectors < pageSize>>9 {
		sectors = pageSize >> 9
	}
	return sectors
}

const pageSize = 4096

// blkStackLimits is blk_stack_limits(): fold the limits b of a component
// whose data starts at sector start into t. It returns false (the kernel's
// -1) when the alignments cannot be reconciled; t is then marked
// misaligned.
func blkStackLimits(t *QueueLimits, b QueueLimits, start uint64) bool {
	ok := true
	t.MaxSectors = minNotZero(t.MaxSectors, b.MaxSectors)
	t.MaxHWSectors = minNotZero(t.MaxHWSectors, b.MaxHWSectors)
	t.Misaligned = t.Misaligned || b.Misaligned

	alignment := queueLimitAlignmentOffset(&b, start)
	if t.AlignmentOffset != alignment {
		// Do the top and bottom granularities, shifted by their
		// offsets, line up?
		top := max(t.PhysicalBlockSize, t.IOMin) + t.AlignmentOffset
		bottom := max(b.PhysicalBlockSize, b.IOMin) + alignment
		if max(top, bottom)%min(top, bottom) != 0 {
			t.Misaligned = true
			ok = false
		}
	}
	t.LogicalBlockSize = max(t.LogicalBlockSize, b.LogicalBlockSize)
	t.PhysicalBlockSize = max(t.PhysicalBlockSize, b.PhysicalBlockSize)
	t.IOMin = max(t.IOMin, b.IOMin)
	t.IOOpt = lcmNotZero(t.IOOpt, b.IOOpt)

	if t.PhysicalBlockSize&(t.LogicalBlockSize-1) != 0 {
		t.PhysicalBlockSize = t.LogicalBlockSize
		t.Misaligned, ok = true, false
	}
	if t.IOMin&(t.PhysicalBlockSize-1) != 0 {
		t.IOMin = t.PhysicalBlockSize
		t.Misaligned, ok = true, false
	}
	if t.IOOpt&(t.PhysicalBlockSize-1) != 0 {
		t.IOOpt = 0
		t.Misaligned, ok = true, false
	}

	t.AlignmentOffset = lcmNotZero(t.AlignmentOffset, alignment) % max(t.PhysicalBlockSize, t.IOMin)
	if t.AlignmentOffset&(t.LogicalBlockSize-1) != 0 {
		t.Misaligned, ok = true, false
	}

	t.MaxSectors = blkRoundDownSectors(t.MaxSectors, t.LogicalBlockSize)
	t.MaxHWSectors = blkRoundDownSectors(t.MaxHWSectors, t.LogicalBlockSize)

	if b.DiscardGranularity != 0 {
		alignment = queueLimitDiscardAlignment(&b, start)
		if t.DiscardGranularity != 0 && t.DiscardAlignment != alignment {
			top := t.DiscardGranularity + t.DiscardAlignment
			bottom := b.DiscardGranularity + alignment
			if max(top, bottom)%min(top, bottom) != 0 {
				t.DiscardMisaligned = true
			}
		}
		t.MaxDiscardSectors = minNotZero(t.MaxDiscardSectors, b.MaxDiscardSectors)
		t.MaxHWDiscardSectors = minNotZero(t.MaxHWDiscardSectors, b.MaxHWDiscardSectors)
		t.DiscardGranularity = max(t.DiscardGranularity, b.DiscardGranularity)
		t.DiscardAlignment = lcmNotZero(t.DiscardAlignment, alignment) % t.DiscardGranularity
	}
	return ok
}

func minNotZero(a, b uint32) uint32 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// lcmNotZero is lcm_not_zero(): the least common multiple, or whichever
// is not zero.
func lcmNotZero(a, b uint32) uint32 {
	if a == 0 || b == 0 {
		return a + b
	}
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return uint32(uint64(a) / uint64(x) * uint64(b))
}
