package dmsim

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dmsim/dmsim/sim"
)

// ErrRequeue is BLK_STS_DM_REQUEUE: a target completes a bio it holds with
// it (or returns it from EndIO) to have the device-mapper core push the
// original bio back onto the device's deferred list while a noflush
// suspend is in progress; it is resubmitted at resume. Outside a noflush
// suspend the original bio fails with EIO.
var ErrRequeue = errors.New("dm: requeue bio")

// Op is a bio's operation (REQ_OP_*).
type Op uint8

const (
	OpRead Op = iota
	OpWrite
	OpFlush // an empty REQ_PREFLUSH write
	OpDiscard
)

func (o Op) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpFlush:
		return "flush"
	case OpDiscard:
		return "discard"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// BioFlags are the request flags a bio carries.
type BioFlags uint8

const (
	// REQ_PREFLUSH: make every write completed before this bio durable before
	// this bio's own data is written.
	ReqPreflush BioFlags = 1 << iota
	// REQ_FUA: this bio's data is durable when it completes.
	ReqFUA
)

// SectorSize is the size of a sector in bytes.
const SectorSize = 512

// Bio is a block I/O request (struct bio). Read and write bios carry their
// payload in Data, whose length is a whole number of sectors; discard bios
// carry their length in Sectors; a flush has neither.
//
// A bio is completed exactly once, with Endio. Targets may complete a bio
// later, from another goroutine (a pool that holds bios while suspended or
// out of space).
type Bio struct {
	Op      Op
	Flags   BioFlags
	Dev     BlockDevice // bi_bdev: the device the bio is addressed to
	Sector  uint64      // bi_sector, on Dev
	Sectors uint64      // discard length; for read and write, len(Data)/512
	Data    []byte

	// Private is per-bio data for the target that holds the bio
	// (dm_per_bio_data).
	Private any
	// TargetBioNr is dm_bio_get_target_bio_nr(): which of a target's
	// NumFlushBios or NumDiscardBios copies of a flush or discard this
	// clone is (0 for everything else).
	TargetBioNr uint

	// Not locked: a bio has one owner at a time (its submitter, then the
	// device or target it was submitted to, which completes it once).
	end  func(*Bio, error)
	done bool
	err  error
	// tio is the dm_target_io this bio is the clone of, when the core
	// made it for a target (its completion goes to tioEndio).
	tio *dmTIO

	// SubmitWait's handshake with the completion: wait says whether the
	// bio completed before its submitter began to wait (waitDone) or the
	// submitter waits on waitEv (waitWaiting).
	wait   atomic.Uint32
	waitEv *sim.Event
}

// Bio.wait's states after 0 (submitted, not completed, no waiter).
const (
	waitDone uint32 = 1 + iota
	waitWaiting
)

// NewBio returns a bio whose completion calls end (which may be nil).
func NewBio(op Op, dev BlockDevice, sector uint64, data []byte, end func(*Bio, error)) *Bio {
	b := &Bio{Op: op, Dev: dev, Sector: sector, Data: data, end: end}
	if data != nil {
		b.Sectors = uint64(len(data)) / SectorSize
	}
	return b
}

// Size is the bio's length in sectors (bio_sectors).
func (b *Bio) Size() uint64 { return b.Sectors }

// IsWrite reports whether the bio changes data (write or discard).
func (b *Bio) IsWrite() bool { return b.Op == OpWrite || b.Op == OpDiscard }

// SetEndio replaces the completion callback (bio_chain / clone completion).
func (b *Bio) SetEndio(end func(*Bio, error)) { b.end = end }

// Endio completes the bio with err (nil for success; an Errno otherwise).
// Completing a bio twice panics: it is always a bug.
func (b *Bio) Endio(err error) {
	if b.done {
		panic(fmt.Sprintf("dmsim: bio %s %d+%d completed twice", b.Op, b.Sector, b.Sectors))
	}
	b.done, b.err = true, err
	if b.end != nil {
		b.end(b, err)
	}
}

// reopen lets a completed bio be completed again: a target that returned
// DM_ENDIO_INCOMPLETE from EndIO completes the clone once more later.
func (b *Bio) reopen() { b.done = false }

// Err is the completion status, once completed.
func (b *Bio) Err() error { return b.err }

// Clone returns a bio for the sub-range [offset, offset+sectors) of b, sharing
// its payload memory, addressed like b, with its own completion (bio_split /
// clone_bio).
func (b *Bio) Clone(offset, sectors uint64, end func(*Bio, error)) *Bio {
	c := &Bio{}
	b.cloneInto(c, offset, sectors)
	c.end = end
	return c
}

// cloneInto makes c (a zero Bio) the sub-range clone Clone returns,
// without a completion.
func (b *Bio) cloneInto(c *Bio, offset, sectors uint64) {
	c.Op, c.Flags, c.Dev, c.Sector, c.Sectors = b.Op, b.Flags, b.Dev, b.Sector+offset, sectors
	if b.Data != nil {
		c.Data = b.Data[offset*SectorSize : (offset+sectors)*SectorSize]
	}
}

// SubmitWait submits bio to its device and waits (as a clock actor holding a
// token) until it completes, returning its status. It replaces the bio's
// completion callback. A bio that completed within Submit (the usual case
// of synchronous devices) needs no event.
func SubmitWait(ctx context.Context, c *sim.Clock, bio *Bio) error {
	bio.wait.Store(0)
	bio.waitEv = nil
	bio.end = submitWaitEndio
	bio.Dev.Submit(bio)
	if bio.wait.Load() == waitDone {
		return bio.err
	}
	ev := c.NewEvent()
	bio.waitEv = ev
	if !bio.wait.CompareAndSwap(0, waitWaiting) {
		return bio.err // completed meanwhile
	}
	if err := ev.Wait(ctx); err != nil {
		return err
	}
	return bio.err
}

// submitWaitEndio is SubmitWait's completion: the submitter sees it in
// Bio.wait unless it already waits on the event.
func submitWaitEndio(b *Bio, err error) {
	if b.wait.CompareAndSwap(0, waitDone) {
		return
	}
	b.waitEv.Fire(err)
}
