package thin

import (
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// copyChunk is the largest single I/O the copier issues (sectors).
const copyChunk = 2048

// zeroPage is a shared, never written, source for zeroing writes.
var zeroPage = make([]byte, copyChunk*dmsim.SectorSize)

// kcopydZero is dm_kcopyd_zero() for one region: it writes zeroes to
// [sector, sector+count) of dev and then calls done once with the first
// error.
func kcopydZero(dev dmsim.BlockDevice, sector, count uint64, done func(error)) {
	if count == 0 {
		done(nil)
		return
	}
	n := min(count, copyChunk)
	bio := dmsim.NewBio(dmsim.OpWrite, dev, sector, zeroPage[:n*dmsim.SectorSize], func(_ *dmsim.Bio, err error) {
		if err != nil {
			done(err)
			return
		}
		kcopydZero(dev, sector+n, count-n, done)
	})
	dev.Submit(bio)
}

// kcopydCopy is dm_kcopyd_copy() for one region: it copies count sectors
// from (from, fromSector) to (to, toSector), then calls done once with the
// first error.
func kcopydCopy(from dmsim.BlockDevice, fromSector uint64, to dmsim.BlockDevice, toSector, count uint64, done func(error)) {
	if count == 0 {
		done(nil)
		return
	}
	n := min(count, copyChunk)
	buf := make([]byte, n*dmsim.SectorSize)
	rd := dmsim.NewBio(dmsim.OpRead, from, fromSector, buf, func(_ *dmsim.Bio, err error) {
		if err != nil {
			done(err)
			return
		}
		wr := dmsim.NewBio(dmsim.OpWrite, to, toSector, buf, func(_ *dmsim.Bio, err error) {
			if err != nil {
				done(err)
				return
			}
			kcopydCopy(from, fromSector+n, to, toSector+n, count-n, done)
		})
		to.Submit(wr)
	})
	from.Submit(rd)
}

// issueDiscard is __blkdev_issue_discard() on a data-block range: the
// discard goes to the device in pieces of at most its max_discard_sectors;
// done runs once with the first error.
func issueDiscard(dev dmsim.BlockDevice, sector, count uint64, done func(error)) {
	if count == 0 {
		done(nil)
		return
	}
	lim := uint64(dev.Limits().MaxDiscardSectors)
	if lim == 0 {
		done(linuxerr.EOPNOTSUPP)
		return
	}
	n := min(count, lim)
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, sector, nil, func(_ *dmsim.Bio, err error) {
		if err != nil {
			done(err)
			return
		}
		issueDiscard(dev, sector+n, count-n, done)
	})
	bio.Sectors = n
	dev.Submit(bio)
}
