package dmsim

import (
	"context"
	"math"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// The generic block layer's submission path, what every device's Submit
// goes through before its driver (block/blk-core.c submit_bio_noacct), and
// the helpers around it: discard splitting (block/blk-merge.c), chained
// bios (bio_chain in block/bio.c) and flushing a device
// (blkdev_issue_flush in block/blk-flush.c).

// submitChecks is the generic part of submit_bio_noacct() every device's
// Submit starts with. It completes the bio and returns false when the bio
// goes no further: the machine is halted (EIO), it reaches past the end of
// the device (EIO, bio_check_eod), it is a discard the device does not
// support (EOPNOTSUPP), or it is an empty flush to a device without a
// volatile write cache (success). It also drops REQ_PREFLUSH/REQ_FUA for
// such devices and warns about writes to a read-only device
// (bio_check_ro(), which in 6.1 only warns).
func (k *Kernel) submitChecks(dev BlockDevice, lim QueueLimits, bio *Bio) bool {
	if k.isHalted() {
		bio.Endio(linuxerr.EIO)
		return false
	}
	var size uint64
	if bio.Op == OpRead || bio.Op == OpWrite || bio.Op == OpDiscard {
		size = dev.Size()
	}
	ok, err := k.checkBio(dev, lim, size, bio)
	if !ok {
		bio.Endio(err)
	}
	return ok
}

// checkBio is submitChecks for a device of size sectors, without the
// completion: false means the bio goes no further and is to be completed
// with err.
func (k *Kernel) checkBio(dev BlockDevice, lim QueueLimits, size uint64, bio *Bio) (bool, error) {
	if k.isHalted() {
		return false, linuxerr.EIO
	}
	if bio.Op == OpWrite || bio.Op == OpDiscard {
		if dev.ReadOnly() {
			k.Log.Printk(KernWarning, "Trying to write to read-only block-device %s", dev.Name())
		}
	}
	if bio.Op == OpRead || bio.Op == OpWrite || bio.Op == OpDiscard {
		n := bio.Sectors
		if n != 0 && size != 0 && (n > size || bio.Sector > size-n) {
			return false, linuxerr.EIO
		}
	}
	if bio.Op == OpFlush || bio.Flags&(ReqPreflush|ReqFUA) != 0 {
		if !lim.WriteCache {
			bio.Flags &^= ReqPreflush | ReqFUA
			if bio.Op == OpFlush {
				return false, nil
			}
		}
	}
	if bio.Op == OpDiscard && !lim.DiscardSupported() {
		return false, linuxerr.EOPNOTSUPP
	}
	return true, nil
}

// splitDiscard is bio_split_discard(): the lengths a discard is cut into so
// that no piece is longer than the device's max_discard_sectors and every
// cut lands on a discard_granularity boundary.
func splitDiscard(sector, sectors uint64, lim QueueLimits) []uint64 {
	gran := uint64(lim.DiscardGranularity) >> 9
	if gran == 0 {
		gran = 1
	}
	maxAllowed := uint64(math.MaxUint32) / uint64(max(lim.LogicalBlockSize, 512)) * uint64(max(lim.LogicalBlockSize, 512)) >> 9
	maxd := min(uint64(lim.MaxDiscardSectors), maxAllowed)
	maxd -= maxd % gran
	var out []uint64
	for sectors > 0 {
		if maxd == 0 || sectors <= maxd {
			out = append(out, sectors)
			break
		}
		split := maxd
		if tmp := (sector + split) % gran; split > tmp {
			split -= tmp
		}
		out = append(out, split)
		sector += split
		sectors -= split
	}
	return out
}

// BioDiscardLimit is bio_discard_limit() (block/blk-lib.c): how many
// sectors __blkdev_issue_discard() puts in the discard bio that starts at
// sector. A start off the discard granularity gets a bio that ends where the
// granularity is reached; an aligned start gets up to UINT_MAX bytes rounded
// down to the granularity. Like the kernel, it rounds with round_up() and
// round_down(), which treat the granularity as a power of two: with 384
// sectors, a start at sector 130 is "aligned" at 512, past the boundary at
// 384, so the first bio covers the block at 384 only in part.
func BioDiscardLimit(lim QueueLimits, sector uint64) uint64 {
	granBytes := uint64(max(lim.DiscardGranularity, SectorSize))
	mask := granBytes>>9 - 1
	// round_up(sector, gran): ((sector-1) | (gran-1)) + 1.
	if aligned := ((sector - 1) | mask) + 1; aligned != sector {
		return aligned - sector
	}
	// round_down(UINT_MAX, gran): UINT_MAX &^ (gran-1).
	return (math.MaxUint32 &^ (granBytes - 1)) >> 9
}

// BlkdevDiscardPieces is the loop of __blkdev_issue_discard(): the lengths
// of the discard bios a range of sectors is issued as.
func BlkdevDiscardPieces(lim QueueLimits, sector, sectors uint64) []uint64 {
	var out []uint64
	for sectors > 0 {
		n := min(sectors, BioDiscardLimit(lim, sector))
		out = append(out, n)
		sector += n
		sectors -= n
	}
	return out
}

// chainBio completes parent once n children completed: the first error a
// child reports becomes the parent's status (bio_chain).
func chainBio(parent *Bio, n int) func(*Bio, error) {
	var (
		left   = n
		status error
	)
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	return func(_ *Bio, err error) {
		<-ch
		if err != nil && status == nil {
			status = err
		}
		left--
		done := left == 0
		ch <- struct{}{}
		if done {
			parent.Endio(status)
		}
	}
}

// flushBdev is blkdev_issue_flush(): an empty flush bio, waited for.
func flushBdev(c *sim.Clock, dev BlockDevice) error {
	bio := NewBio(OpFlush, dev, 0, nil, nil)
	bio.Flags = ReqPreflush
	return SubmitWait(context.Background(), c, bio)
}
