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
	if bio.Op == OpWrite || bio.Op == OpDiscard {
		if dev.ReadOnly() {
			k.Log.Printk(KernWarning, "Trying to write to read-only block-device %s", dev.Name())
		}
	}
	if bio.Op == OpRead || bio.Op == OpWrite || bio.Op == OpDiscard {
		max := dev.Size()
		n := bio.Sectors
		if n != 0 && max != 0 && (n > max || bio.Sector > max-n) {
			bio.Endio(linuxerr.EIO)
			return false
		}
	}
	if bio.Op == OpFlush || bio.Flags&(ReqPreflush|ReqFUA) != 0 {
		if !lim.WriteCache {
			bio.Flags &^= ReqPreflush | ReqFUA
			if bio.Op == OpFlush {
				bio.Endio(nil)
				return false
			}
		}
	}
	if bio.Op == OpDiscard && !lim.DiscardSupported() {
		bio.Endio(linuxerr.EOPNOTSUPP)
		return false
	}
	return true
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
