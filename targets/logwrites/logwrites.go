// Package logwrites is the log-writes target of Linux 6.1
// (drivers/md/dm-log-writes.c, version 1.1.0), module dm_log_writes:
//
//	<start> <len> log-writes <dev> <log dev>
//
// Every bio goes to <dev> with its sector unchanged. Each write, discard
// and flush is also logged onto <log dev> in the dm-log-writes format
// (package biolog), in the order its data reaches the media rather than
// the disk's cache (log_writes_map(), normal_end_io()):
//
//   - a write, once completed, waits on the unflushed list; a FUA write
//     goes straight to the logging list;
//   - a flush takes the unflushed list when it is mapped, and when it
//     completes those writes are logged in completion order, then the
//     flush itself; writes completed while the flush was in flight wait
//     for the next one;
//   - discards are logged like writes. Over a device without discard
//     support the target still takes discards and completes them itself;
//   - `mark TEXT` (the one message) queues a mark entry at once, ahead of
//     the writes still unflushed;
//   - the log's superblock is rewritten after each FUA write and each mark;
//   - the destructor logs every unflushed write, then the mark
//     "dm-log-writes-end".
//
// The kernel writes the log from a kthread; here the logging list is
// drained by whoever adds to it (the completion of a flush or FUA write,
// the message, the destructor), one drainer at a time, so that a log
// entry is on the log device before the next command runs, as the
// recorded kernel shows.
package logwrites

import (
	"context"
	"fmt"
	"math/bits"
	"sync"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/table"
)

// Type is the log-writes target type.
var Type = &dmsim.TargetType{
	Name:    "log-writes",
	Version: [3]uint32{1, 1, 0},
	Ctr:     ctr,
}

func init() {
	dmsim.RegisterModule(&dmsim.Module{
		Name:    "dm_log_writes",
		Aliases: []string{"dm-log-writes"},
		Targets: []*dmsim.TargetType{Type},
	})
}

const prefix = "log-writes" // DM_MSG_PREFIX

// endMark is the mark log_writes_dtr() logs.
const endMark = "dm-log-writes-end"

// pendingBlock is struct pending_block: one entry to log.
type pendingBlock struct {
	flags     uint64
	sector    uint64 // in sectorsize units
	nrSectors uint64
	data      []byte // a write's payload, copied at map time
	mark      string
	// flushed are the writes a flush took off the unflushed list when it
	// was mapped (the pending_block's own list).
	flushed []*pendingBlock
}

// logC is struct log_writes_c.
type logC struct {
	ti          *dmsim.DMTarget
	k           *dmsim.Kernel
	dev, logdev *dmsim.DMDev
	sectorSize  uint32
	shift       uint // sectorshift - SECTOR_SHIFT

	mu                    sync.Mutex // blocks_lock
	loggedEntries         uint64
	nextSector            uint64 // 512-byte sectors
	endSector             uint64
	loggingEnabled        bool
	deviceSupportsDiscard bool
	unflushed             []*pendingBlock
	logging               []*pendingBlock
	pendingBlocks         int // pending_blocks: mapped or queued, not yet logged
	ioBlocks              int // io_blocks: log bios in flight
	draining              bool
	superBusy             bool         // log_super() waits for its bio
	idleWaiters           []*sim.Event // guarded by mu
}

func fail(ti *dmsim.DMTarget, text string, err error) error {
	ti.Error = text
	return err
}

// ctr is log_writes_ctr(): at least two arguments (more are ignored), the
// device, then the log device, both opened with the table's mode; the
// sector size is the device's logical block size; the first entry goes
// right after the superblock.
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	if len(argv) < 2 {
		return nil, fail(ti, "Invalid argument count", linuxerr.EINVAL)
	}
	lc := &logC{ti: ti, k: ti.Kernel()}
	as := &table.ArgSet{Argv: argv}
	devname, _ := as.Shift()
	var err error
	if lc.dev, err = ti.GetDevice(devname, ti.Table.Mode()); err != nil {
		return nil, fail(ti, "Device lookup failed", err)
	}
	logdevname, _ := as.Shift()
	if lc.logdev, err = ti.GetDevice(logdevname, ti.Table.Mode()); err != nil {
		ti.PutDevice(lc.dev)
		return nil, fail(ti, "Log device lookup failed", err)
	}
	lc.sectorSize = lc.dev.Bdev.Limits().LogicalBlockSize
	lc.shift = uint(bits.TrailingZeros32(lc.sectorSize) - 9)
	lc.nextSector = uint64(lc.sectorSize) >> 9
	lc.loggingEnabled = true
	lc.endSector = lc.logdev.Bdev.Size()
	lc.deviceSupportsDiscard = true

	ti.NumFlushBios = 1
	ti.FlushSupported = true
	ti.NumDiscardBios = 1
	ti.DiscardsSupported = true
	return lc, nil
}

// Dtr is log_writes_dtr(): the unflushed writes join the logging list,
// the end mark follows them, and the destructor waits until all of it is
// on the log device.
func (lc *logC) Dtr() {
	lc.mu.Lock()
	lc.logging = append(lc.logging, lc.unflushed...)
	lc.unflushed = nil
	lc.mu.Unlock()
	lc.logMark(endMark)
	lc.waitIdle()
	lc.ti.PutDevice(lc.dev)
	lc.ti.PutDevice(lc.logdev)
}

// waitIdle is the destructor's wait_event() for io_blocks and
// pending_blocks to drop to zero.
func (lc *logC) waitIdle() {
	lc.mu.Lock()
	if lc.pendingBlocks == 0 && lc.ioBlocks == 0 {
		lc.mu.Unlock()
		return
	}
	ev := lc.k.Clock.NewEvent()
	lc.idleWaiters = append(lc.idleWaiters, ev)
	lc.mu.Unlock()
	_ = ev.Wait(context.Background())
}

// wakeIdleLocked is put_pending_block()/put_io_block()'s wake_up(); mu
// held.
func (lc *logC) wakeIdleLocked() {
	if lc.pendingBlocks != 0 || lc.ioBlocks != 0 {
		return
	}
	for _, ev := range lc.idleWaiters {
		ev.Fire(nil)
	}
	lc.idleWaiters = nil
}

// logMark is log_mark(): the text, cut to the sector size less the entry
// header and a NUL, is queued for logging at once.
func (lc *logC) logMark(text string) {
	if max := int(lc.sectorSize) - biolog.HeaderSize - 1; len(text) > max {
		text = text[:max]
	}
	lc.mu.Lock()
	lc.pendingBlocks++
	lc.logging = append(lc.logging, &pendingBlock{flags: biolog.FlagMark, mark: text})
	lc.mu.Unlock()
	lc.drain()
}

// drain is log_writes_kthread(): log the blocks of the logging list in
// order, each at the next free sector of the log device, with the
// superblock after FUA writes and marks. A block that no longer fits
// (next_sector reaching the log device's end) disables logging.
func (lc *logC) drain() {
	lc.mu.Lock()
	if lc.draining {
		lc.mu.Unlock()
		return
	}
	lc.draining = true
	for len(lc.logging) > 0 && !lc.superBusy {
		b := lc.logging[0]
		lc.logging[0] = nil
		lc.logging = lc.logging[1:]
		if !lc.loggingEnabled {
			lc.putPendingLocked() // free_pending_block()
			continue
		}
		sector := lc.nextSector
		if b.flags&biolog.FlagDiscard == 0 {
			lc.nextSector += b.nrSectors << lc.shift
		}
		lc.nextSector += 1 << lc.shift
		if lc.endSector == 0 {
			lc.endSector = lc.logdev.Bdev.Size()
		}
		if lc.endSector != 0 && lc.nextSector >= lc.endSector {
			lc.k.Log.DMErr(prefix, "Ran out of space on the logdev")
			lc.loggingEnabled = false
			lc.putPendingLocked()
			continue
		}
		lc.loggedEntries++
		super := b.flags&(biolog.FlagFUA|biolog.FlagMark) != 0
		if super {
			lc.superBusy = true
		}
		lc.mu.Unlock()
		lc.logOneBlock(b, sector)
		if super {
			lc.logSuper()
		}
		lc.mu.Lock()
	}
	lc.draining = false
	lc.mu.Unlock()
}

func (lc *logC) putPendingLocked() {
	lc.pendingBlocks--
	lc.wakeIdleLocked()
}

// logOneBlock is log_one_block(): the entry's header sector (with a
// mark's text), then the data it wrote, as separate bios.
func (lc *logC) logOneBlock(b *pendingBlock, sector uint64) {
	e := &biolog.Entry{Sector: b.sector, NrSectors: b.nrSectors, Flags: b.flags, Mark: b.mark}
	lc.writeLog(biolog.EncodeHeader(e, lc.sectorSize), sector, nil)
	if len(b.data) > 0 {
		lc.writeLog(b.data, sector+1<<lc.shift, nil)
	}
	lc.mu.Lock()
	lc.putPendingLocked()
	lc.mu.Unlock()
}

// logSuper is log_super(): the superblock with the entries logged so far,
// waited for before the next block (log_end_super()), so that an older
// superblock never overwrites a newer one.
func (lc *logC) logSuper() {
	lc.mu.Lock()
	s := biolog.Super{Magic: biolog.Magic, Version: biolog.Version, NrEntries: lc.loggedEntries, SectorSize: lc.sectorSize}
	lc.mu.Unlock()
	lc.writeLog(biolog.EncodeSuper(s), 0, func() {
		lc.mu.Lock()
		lc.superBusy = false
		lc.mu.Unlock()
		lc.drain()
	})
}

// writeLog is write_metadata() and the data bios of log_one_block(): a
// write to the log device, counted in io_blocks until it completes. A
// failed log write disables logging (log_end_io()).
func (lc *logC) writeLog(data []byte, sector uint64, done func()) {
	lc.mu.Lock()
	lc.ioBlocks++
	lc.mu.Unlock()
	bio := dmsim.NewBio(dmsim.OpWrite, lc.logdev.Bdev, sector, data, func(_ *dmsim.Bio, err error) {
		if done != nil {
			done()
		}
		lc.mu.Lock()
		if err != nil {
			lc.k.Log.DMErr(prefix, "Error writing log block, error=%d", blkStatus(err))
			lc.loggingEnabled = false
		}
		lc.ioBlocks--
		lc.wakeIdleLocked()
		lc.mu.Unlock()
	})
	bio.Dev.Submit(bio)
}

// blkStatus is errno_to_blk_status(): log_end_io() prints bi_status, a
// blk_status_t, not an errno.
func blkStatus(err error) int {
	switch linuxerr.ToErrno(err) {
	case linuxerr.EOPNOTSUPP:
		return 1 // BLK_STS_NOTSUPP
	case linuxerr.ETIMEDOUT:
		return 2
	case linuxerr.ENOSPC:
		return 3
	case linuxerr.ENODATA:
		return 7
	case linuxerr.EILSEQ:
		return 8
	case linuxerr.ENOMEM:
		return 9
	case linuxerr.EAGAIN:
		return 12
	case linuxerr.EBUSY:
		return 13
	case linuxerr.ENODEV:
		return 17 // BLK_STS_OFFLINE
	}
	return 10 // BLK_STS_IOERR
}

// Map is log_writes_map(): reads, and everything once logging is
// disabled, go straight to the device; writes are copied (the log is
// written later, and the submitter's pages may change), flushes take the
// unflushed list, discards over a device without discard support are
// completed here.
func (lc *logC) Map(bio *dmsim.Bio) dmsim.MapResult {
	bio.Private = nil
	lc.mu.Lock()
	enabled := lc.loggingEnabled
	lc.mu.Unlock()
	flush := bio.Op == dmsim.OpFlush || bio.Flags&dmsim.ReqPreflush != 0
	if !enabled || bio.Op == dmsim.OpRead || (bio.Size() == 0 && !flush) {
		return lc.mapBio(bio)
	}
	b := &pendingBlock{sector: bio.Sector >> lc.shift, nrSectors: bio.Size() >> lc.shift}
	if flush {
		b.flags |= biolog.FlagFlush
	}
	if bio.Flags&dmsim.ReqFUA != 0 {
		b.flags |= biolog.FlagFUA
	}
	bio.Private = b
	lc.mu.Lock()
	lc.pendingBlocks++
	switch {
	case bio.Op == dmsim.OpDiscard:
		b.flags |= biolog.FlagDiscard
		if !lc.deviceSupportsDiscard {
			lc.mu.Unlock()
			bio.Endio(nil)
			return dmsim.MapSubmitted
		}
	case bio.Op == dmsim.OpWrite:
		b.data = append([]byte(nil), bio.Data...)
		if flush {
			// "Had a flush with data in it": device-mapper splits those,
			// so this does not happen.
			b.flushed, lc.unflushed = lc.unflushed, nil
		}
	default: // an empty flush
		b.flushed, lc.unflushed = lc.unflushed, nil
	}
	lc.mu.Unlock()
	return lc.mapBio(bio)
}

// mapBio is normal_map_bio(): the device changes, the sector does not.
func (lc *logC) mapBio(bio *dmsim.Bio) dmsim.MapResult {
	bio.Dev = lc.dev.Bdev
	return dmsim.MapRemapped
}

// EndIO is normal_end_io(): whatever the bio's status, a flush logs the
// writes it took and then itself, a FUA write logs itself, and anything
// else waits for a flush.
func (lc *logC) EndIO(bio *dmsim.Bio, err error) (error, bool) {
	b, ok := bio.Private.(*pendingBlock)
	if !ok || bio.Op == dmsim.OpRead {
		return err, false
	}
	lc.mu.Lock()
	switch {
	case b.flags&biolog.FlagFlush != 0:
		lc.logging = append(lc.logging, b.flushed...)
		b.flushed = nil
		lc.logging = append(lc.logging, b)
	case b.flags&biolog.FlagFUA != 0:
		lc.logging = append(lc.logging, b)
	default:
		lc.unflushed = append(lc.unflushed, b)
		lc.mu.Unlock()
		return err, false
	}
	lc.mu.Unlock()
	lc.drain()
	return err, false
}

// Status is log_writes_status(): INFO is the entries logged and the
// highest sector of the log in use, and "logging_disabled" once logging
// stopped; TABLE is the two devices.
func (lc *logC) Status(typ dmsim.StatusType, _ dmsim.StatusFlags) string {
	if typ == dmsim.StatusTable {
		return fmt.Sprintf("%s %s", lc.dev.Name, lc.logdev.Name)
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	s := fmt.Sprintf("%d %d", lc.loggedEntries, lc.nextSector-1)
	if !lc.loggingEnabled {
		s += " logging_disabled"
	}
	return s
}

// Message is log_writes_message(): exactly `mark TEXT`, the verb in any
// case.
func (lc *logC) Message(argv []string) (string, error) {
	if len(argv) != 2 {
		lc.k.Log.DMWarn(prefix, "Invalid log-writes message arguments, expect 2 arguments, got %d", len(argv))
		return "", linuxerr.EINVAL
	}
	if !table.Strcasecmp(argv[0], "mark") {
		lc.k.Log.DMWarn(prefix, "Unrecognised log writes target message received: %s", argv[0])
		return "", linuxerr.EINVAL
	}
	lc.logMark(argv[1])
	return "", nil
}

// IterateDevices is log_writes_iterate_devices(): only the data device,
// over the target's length.
func (lc *logC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	return fn(lc.dev, 0, lc.ti.Len)
}

// IOHints is log_writes_io_hints(): over a device without discard
// support the target takes discards itself (granularity one sector,
// UINT_MAX >> 9 sectors at a time); block sizes are the device's.
func (lc *logC) IOHints(l *dmsim.QueueLimits) {
	dl := lc.dev.Bdev.Limits()
	if !dl.DiscardSupported() {
		lc.mu.Lock()
		lc.deviceSupportsDiscard = false
		lc.mu.Unlock()
		l.DiscardGranularity = lc.sectorSize
		l.MaxDiscardSectors = dmsim.UintMax >> 9
	}
	l.LogicalBlockSize = dl.LogicalBlockSize
	l.PhysicalBlockSize = dl.PhysicalBlockSize
	l.IOMin = l.PhysicalBlockSize
}
