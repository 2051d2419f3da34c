package dmsim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// MappedDevice is a device-mapper device (struct mapped_device).
type MappedDevice struct {
	// Set at create, never changed.
	k    *Kernel
	dev  DevT
	disk *gendisk // allocated at create, registered at the first table load
	bdev *mdDisk
	wq   *sim.Workqueue // md->wq: resubmits deferred bios

	// The device's hash cell, name and UUID: written holding both
	// dmState.hashMu and mu, so either one guards a read.
	name string
	uuid string
	hc   *hashCell

	// Taken across suspend/resume and table swaps (md->suspend_lock), and
	// across table loads (md->type_lock). Both are clock mutexes: holders
	// wait in virtual time.
	suspendLock *sim.Mutex
	typeLock    *sim.Mutex

	// mu guards everything below.
	mu   sync.Mutex
	live *Table
	// Queue state set by the table bound last (md->queue).
	limits   QueueLimits
	size     uint64
	ro       bool
	hasQueue bool // md->type != DM_TYPE_NONE
	immut    *TargetType

	suspended           bool // DMF_SUSPENDED
	suspendedInternally bool // DMF_SUSPENDED_INTERNALLY
	internalSuspends    int  // internal_suspend_count
	blockIO             bool // DMF_BLOCK_IO_FOR_SUSPEND
	noflushSuspending   bool // DMF_NOFLUSH_SUSPENDING
	postSuspending      bool // DMF_POST_SUSPENDING
	deleting            bool // DMF_DELETING
	freeing             bool // DMF_FREEING
	deferredRemove      bool // DMF_DEFERRED_REMOVE

	openCount int
	eventNr   uint32

	readers int // live-table users (md->io_barrier SRCU readers)
	pending int // in-flight original bios (md->pending_io)

	deferred []*Bio  // md->deferred
	freeIOs  []*dmIO // dm_ios of completed bios, for reuse (md->bs)

	eventEv      *sim.Event // md->eventq
	readersEv    *sim.Event
	pendingEv    *sim.Event
	intResumedEv *sim.Event // wait_on_bit(DMF_SUSPENDED_INTERNALLY)

	tableDevs []*mdTableDev // md->table_devices

	// frozen: a suspend froze the host file system on the device (lock_fs);
	// guarded by suspendLock.
	frozen bool
}

// mdTableDev is one (device, mode) a mapped device's tables hold open
// (struct table_device): opened once, whatever the number of tables and
// targets using it.
type mdTableDev struct {
	d     *DMDev
	gd    *gendisk
	count int // guarded by MappedDevice.mu
}

// dmClaim is the holder every device-mapper table claims its devices with
// ("I belong to device-mapper"): tables of different devices may share a
// device; another exclusive opener may not.
var dmClaim = new(byte)

// Name is the dmsetup name.
func (md *MappedDevice) Name() string {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.name
}

// UUID is the device's UUID ("" if none).
func (md *MappedDevice) UUID() string {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.uuid
}

// DevT is the device number (253:N).
func (md *MappedDevice) DevT() DevT { return md.dev }

// DeviceName is dm_device_name(): "major:minor", as dm-thin's log lines print it.
func (md *MappedDevice) DeviceName() string { return md.dev.String() }

// DiskName is the block device name, "dm-N" (what %pg prints).
func (md *MappedDevice) DiskName() string { return md.disk.name }

// Kernel returns the kernel the device belongs to.
func (md *MappedDevice) Kernel() *Kernel { return md.k }

// Bdev returns the device's block device (the gendisk "dm-N"); it exists
// as a device number only after the first table load.
func (md *MappedDevice) Bdev() BlockDevice { return md.bdev }

// Suspended is dm_suspended_md(): suspended by userspace (not counting an
// internal suspend).
func (md *MappedDevice) Suspended() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.suspended
}

// SuspendedInternally is dm_suspended_internally_md().
func (md *MappedDevice) SuspendedInternally() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.suspendedInternally
}

// NoflushSuspending is dm_noflush_suspending(): a noflush suspend is in
// progress (targets push bios back with ErrRequeue / MapRequeue).
func (md *MappedDevice) NoflushSuspending() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.noflushSuspending
}

// PostSuspending is dm_post_suspending(): the postsuspend hooks are running.
func (md *MappedDevice) PostSuspending() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.postSuspending
}

// OpenCount is dm_open_count().
func (md *MappedDevice) OpenCount() int {
	host := md.k.hostOpeners(md.dev)
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.openCount + host
}

// DeferredRemove reports whether a deferred removal waits for the last
// close (DMF_DEFERRED_REMOVE).
func (md *MappedDevice) DeferredRemove() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.deferredRemove
}

// EventNr is dm_get_event_nr().
func (md *MappedDevice) EventNr() uint32 {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.eventNr
}

// Deleting is dm_deleting_md().
func (md *MappedDevice) Deleting() bool {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.deleting
}

// Size is the capacity in sectors (the size of the table bound last).
func (md *MappedDevice) Size() uint64 {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.size
}

// LiveTable is the live table, or nil.
func (md *MappedDevice) LiveTable() *Table {
	md.mu.Lock()
	defer md.mu.Unlock()
	return md.live
}

// signalLocked fires and clears an event pointer; md.mu held.
func signalLocked(evp **sim.Event) {
	if *evp != nil {
		ev := *evp
		*evp = nil
		ev.Fire(nil)
	}
}

// waitCond waits in virtual time until cond (evaluated under md.mu) holds;
// whoever changes what cond reads signals evp.
func (md *MappedDevice) waitCond(ctx context.Context, cond func() bool, evp **sim.Event) error {
	for {
		md.mu.Lock()
		if cond() {
			md.mu.Unlock()
			return nil
		}
		if *evp == nil {
			*evp = md.k.Clock.NewEvent()
		}
		ev := *evp
		md.mu.Unlock()
		if err := ev.Wait(ctx); err != nil {
			return err
		}
	}
}

// ---- live table access (SRCU read side) ----

// getLiveTable is dm_get_live_table(); every call is paired with
// putLiveTable.
func (md *MappedDevice) getLiveTable() *Table {
	md.mu.Lock()
	defer md.mu.Unlock()
	md.readers++
	return md.live
}

func (md *MappedDevice) putLiveTable() {
	md.mu.Lock()
	defer md.mu.Unlock()
	md.readers--
	if md.readers == 0 {
		signalLocked(&md.readersEv)
	}
}

// syncTable is dm_sync_table(): wait until no one is inside a live-table
// read section.
func (md *MappedDevice) syncTable() {
	_ = md.waitCond(context.Background(), func() bool { return md.readers == 0 }, &md.readersEv)
}

// ---- events ----

// eventCallback is event_callback(): what dm_table_event() on the live
// table calls.
func (md *MappedDevice) eventCallback() {
	md.mu.Lock()
	md.eventNr++
	signalLocked(&md.eventEv)
	md.mu.Unlock()
	md.k.dm.issueGlobalEvent()
}

// waitEvent is dm_wait_event(): wait until the event counter differs from
// nr.
func (md *MappedDevice) waitEvent(ctx context.Context, nr uint32) error {
	return md.waitCond(ctx, func() bool { return md.eventNr != nr }, &md.eventEv)
}

// ---- opening ----

// Open is dm_blk_open(): ENXIO once the device is being removed.
func (md *MappedDevice) Open() error {
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.freeing || md.deleting {
		return linuxerr.ENXIO
	}
	md.openCount++
	return nil
}

// Release is dm_blk_close(): the last close of a device marked for
// deferred removal queues the removal.
func (md *MappedDevice) Release() {
	md.mu.Lock()
	md.openCount--
	q := md.openCount == 0 && md.deferredRemove
	md.mu.Unlock()
	if q {
		md.k.dm.queueDeferredRemove()
	}
}

// lockForDeletion is dm_lock_for_deletion().
func (md *MappedDevice) lockForDeletion(markDeferred, onlyDeferred bool) error {
	host := md.k.hostOpeners(md.dev)
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.openCount+host > 0 {
		if markDeferred {
			md.deferredRemove = true
		}
		return linuxerr.EBUSY
	}
	if onlyDeferred && !md.deferredRemove {
		return linuxerr.EEXIST
	}
	md.deleting = true
	return nil
}

// cancelDeferredRemove is dm_cancel_deferred_remove().
func (md *MappedDevice) cancelDeferredRemove() error {
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.deleting {
		return linuxerr.EBUSY
	}
	md.deferredRemove = false
	return nil
}

// ---- the block device ----

// mdDisk is the block device of a mapped device (its gendisk "dm-N").
type mdDisk struct{ md *MappedDevice }

var (
	_ BlockDevice = (*mdDisk)(nil)
	_ Opener      = (*mdDisk)(nil)
	_ Flusher     = (*mdDisk)(nil)
)

func (d *mdDisk) Name() string   { return d.md.disk.name }
func (d *mdDisk) Dev() DevT      { return d.md.dev }
func (d *mdDisk) Size() uint64   { return d.md.Size() }
func (d *mdDisk) Open() error    { return d.md.Open() }
func (d *mdDisk) Release()       { d.md.Release() }
func (d *mdDisk) String() string { return d.md.disk.name }
func (d *mdDisk) ReadOnly() bool {
	d.md.mu.Lock()
	defer d.md.mu.Unlock()
	return d.md.ro
}
func (d *mdDisk) Limits() QueueLimits {
	d.md.mu.Lock()
	defer d.md.mu.Unlock()
	return d.md.limits
}

// MappedDevice returns the mapped device behind the block device.
func (d *mdDisk) MappedDevice() *MappedDevice { return d.md }

// Flush is blkdev_issue_flush() on the mapped device: an empty flush bio
// through the live table, waited for in virtual time.
func (d *mdDisk) Flush() error { return flushBdev(d.md.k.Clock, d) }

// ---- the I/O path (dm.c) ----

// Submit is submit_bio() to the mapped device: the generic checks
// (submitChecks), then dm_submit_bio(), which maps the bio through the live
// table, or queues it while I/O is blocked for a suspend (or no table is
// bound). The common case takes the device's lock once to start the bio
// (the checks' snapshot of the queue, the live-table read section, the
// bio in flight and its dm_io) and once to leave the read section.
func (d *mdDisk) Submit(bio *Bio) {
	md := d.md
	if md.k.isHalted() {
		bio.Endio(linuxerr.EIO)
		return
	}
	md.mu.Lock()
	lim, size := md.limits, md.size
	t := md.live
	if md.blockIO || t == nil {
		md.mu.Unlock()
		if ok, err := md.k.checkBio(d, lim, size, bio); !ok {
			bio.Endio(err)
			return
		}
		md.submitBio(bio)
		return
	}
	md.readers++
	md.pending++
	io := md.allocIOLocked(bio)
	md.mu.Unlock()
	if ok, err := md.k.checkBio(d, lim, size, bio); !ok {
		// The bio never reached dm_submit_bio(): undo its start before it
		// completes.
		md.mu.Lock()
		md.freeIOLocked(io)
		md.endIOLocked()
		md.mu.Unlock()
		md.putLiveTable()
		bio.Endio(err)
		return
	}
	md.splitAndProcess(t, bio, lim, io)
	md.putLiveTable()
}

// submitBio is dm_submit_bio(): map the bio through the live table, or
// queue it while I/O is blocked for a suspend (or no table is bound).
func (md *MappedDevice) submitBio(bio *Bio) {
	md.mu.Lock()
	md.readers++
	t := md.live
	blocked := md.blockIO || t == nil
	var io *dmIO
	var lim QueueLimits
	if blocked {
		// queue_io(); md->wq resubmits it once I/O is unblocked. (With no
		// table bound and I/O not blocked the kernel requeues it in a busy
		// loop; here it just waits for a table.)
		md.deferred = append(md.deferred, bio)
	} else {
		// dm_split_and_process_bio() starts: the bio is in flight, with
		// its dm_io (alloc_io()).
		md.pending++
		lim = md.limits
		io = md.allocIOLocked(bio)
	}
	md.mu.Unlock()
	if !blocked {
		md.splitAndProcess(t, bio, lim, io)
	}
	md.putLiveTable()
}

// queueIO is queue_io(): defer the bio and kick the worker.
func (md *MappedDevice) queueIO(bio *Bio, head bool) {
	md.mu.Lock()
	if head {
		md.deferred = append([]*Bio{bio}, md.deferred...)
	} else {
		md.deferred = append(md.deferred, bio)
	}
	md.mu.Unlock()
	md.wq.Queue(md.wqWork)
}

// wqWork is dm_wq_work(): resubmit deferred bios while I/O is not blocked.
func (md *MappedDevice) wqWork() {
	for {
		md.mu.Lock()
		if md.blockIO || md.live == nil || len(md.deferred) == 0 {
			md.mu.Unlock()
			return
		}
		bio := md.deferred[0]
		md.deferred = md.deferred[1:]
		md.mu.Unlock()
		md.bdev.Submit(bio)
	}
}

// queueFlush is dm_queue_flush(): unblock I/O and resubmit the deferred
// bios.
func (md *MappedDevice) queueFlush() {
	md.mu.Lock()
	md.blockIO = false
	md.mu.Unlock()
	md.wq.Queue(md.wqWork)
}

// dmIO is struct dm_io: one original bio being processed, with the
// clones sent to targets. A device keeps the dm_ios of completed bios for
// reuse (its bioset's mempool), each with its first clone and that
// clone's per-bio data.
type dmIO struct {
	md   *MappedDevice
	orig *Bio
	// flushed: an empty flush was sent ahead of the data (REQ_PREFLUSH).
	// Set before the first clone is submitted, read by the last completion.
	flushed bool

	// count is io_count: the references the clones and the submitter
	// hold; the one that drops it to zero completes the bio.
	count  atomic.Int32
	mu     sync.Mutex
	status error // written under mu; read by the last reference

	// first is the first clone's dm_target_io, allocated with the dm_io
	// as alloc_io() does, so the common bio that one target maps whole
	// needs nothing else; later clones get their own.
	first     dmTIO
	firstUsed bool
}

// dmTIO is struct dm_target_io: one clone sent to one target.
type dmTIO struct {
	io    *dmIO
	ti    *DMTarget
	clone Bio
	// pbd is the clone's per-bio data (dm_per_bio_data()), made by pbdTI's
	// PerBioData and kept while the dm_io is reused for the same target.
	pbd   any
	pbdTI *DMTarget
}

// maxFreeIOs bounds the dm_ios a device keeps for reuse.
const maxFreeIOs = 16

// allocIOLocked is alloc_io(): a dm_io for bio holding the submitter's
// reference, reused from the device's free list when it can be;
// md.mu held.
func (md *MappedDevice) allocIOLocked(bio *Bio) *dmIO {
	var io *dmIO
	if n := len(md.freeIOs); n > 0 {
		io = md.freeIOs[n-1]
		md.freeIOs[n-1] = nil
		md.freeIOs = md.freeIOs[:n-1]
		pbd, pbdTI := io.first.pbd, io.first.pbdTI
		*io = dmIO{}
		io.first.pbd, io.first.pbdTI = pbd, pbdTI
	} else {
		io = &dmIO{}
	}
	io.md, io.orig = md, bio
	io.count.Store(1)
	return io
}

// freeIOLocked is free_io(): io's bio has completed and nothing refers to
// io or its clones any more; md.mu held.
func (md *MappedDevice) freeIOLocked(io *dmIO) {
	if len(md.freeIOs) < maxFreeIOs {
		io.orig, io.status = nil, nil
		io.first.clone = Bio{}
		md.freeIOs = append(md.freeIOs, io)
	}
}

// allocTIO is alloc_tio(): a clone for ti, zero but for its tio link and
// the target's per-bio data.
func (io *dmIO) allocTIO(ti *DMTarget) *Bio {
	t := &io.first
	if io.firstUsed {
		t = &dmTIO{}
	}
	io.firstUsed = true
	t.io, t.ti = io, ti
	t.clone.tio = t
	if ti.PerBioData != nil && t.pbdTI != ti {
		t.pbd, t.pbdTI = ti.PerBioData(), ti
	}
	return &t.clone
}

// tioEndio is a clone's completion: clone_endio() on its dm_io.
func tioEndio(c *Bio, err error) {
	t := c.tio
	t.io.cloneEndio(t.ti, c, err)
}

func (io *dmIO) inc() { io.count.Add(1) }

// dec is dm_io_dec_pending(): a requeue request outranks errors while a
// noflush suspend is in progress; the last reference completes the bio.
func (io *dmIO) dec(err error) {
	md := io.md
	if err != nil {
		io.mu.Lock()
		if !(io.status == ErrRequeue && md.NoflushSuspending()) {
			io.status = err
		}
		io.mu.Unlock()
	}
	if io.count.Add(-1) != 0 {
		return
	}
	// Every other reference was dropped (after its status write), so the
	// dm_io is this goroutine's alone.
	bio, status, flushed := io.orig, io.status, io.flushed
	if status == ErrRequeue {
		md.mu.Lock()
		if md.noflushSuspending {
			md.deferred = append([]*Bio{bio}, md.deferred...)
			md.endIOLocked()
			md.freeIOLocked(io)
			md.mu.Unlock()
			return
		}
		md.mu.Unlock()
		status = linuxerr.EIO
	}
	md.mu.Lock()
	md.endIOLocked()
	md.freeIOLocked(io)
	md.mu.Unlock()
	if flushed && status == nil && bio.Op != OpFlush {
		// The preflush is done: issue the data without REQ_PREFLUSH.
		bio.Flags &^= ReqPreflush
		md.queueIO(bio, false)
		return
	}
	bio.Endio(status)
}

// endIOLocked ends one in-flight bio; md.mu held.
func (md *MappedDevice) endIOLocked() {
	md.pending--
	if md.pending == 0 {
		signalLocked(&md.pendingEv)
	}
}

// splitAndProcess is dm_split_and_process_bio(): flushes go to every
// target NumFlushBios times; discards are split to the device's discard
// limits and sent NumDiscardBios times to each target they cover
// (EOPNOTSUPP for a target with none); reads and writes are split at target
// boundaries and at each target's MaxIOLen and mapped. The bio is already
// counted in flight, with io its dm_io.
func (md *MappedDevice) splitAndProcess(t *Table, bio *Bio, lim QueueLimits, io *dmIO) {
	if bio.Op == OpDiscard {
		pieces := splitDiscard(bio.Sector, bio.Sectors, lim)
		if len(pieces) > 1 {
			// bio_split_to_limits(): each piece is a bio of its own, chained
			// to the original.
			end := chainBio(bio, len(pieces))
			var off uint64
			subs := make([]*Bio, len(pieces))
			ios := make([]*dmIO, len(pieces))
			md.mu.Lock()
			md.pending--
			md.pending += len(subs)
			for i, n := range pieces {
				subs[i] = bio.Clone(off, n, end)
				off += n
				ios[i] = io
				if i > 0 {
					ios[i] = md.allocIOLocked(subs[i])
				}
			}
			io.orig = subs[0]
			md.mu.Unlock()
			for i, s := range subs {
				md.processOne(t, s, lim, ios[i])
			}
			return
		}
	}
	md.processOne(t, bio, lim, io)
}

func (md *MappedDevice) processOne(t *Table, bio *Bio, lim QueueLimits, io *dmIO) {
	if bio.Op == OpFlush || bio.Flags&ReqPreflush != 0 {
		// __send_empty_flush()
		io.flushed = true
		for _, ti := range t.targets {
			for i := uint(0); i < ti.NumFlushBios; i++ {
				c := io.allocTIO(ti)
				c.Op, c.Flags, c.Dev = OpFlush, ReqPreflush, md.bdev
				io.mapClone(ti, c, i)
			}
		}
		io.dec(nil)
		return
	}
	var err error
	sector, count := bio.Sector, bio.Sectors
	var off uint64
	for count > 0 {
		ti := t.FindTarget(sector)
		if ti == nil {
			err = linuxerr.EIO
			break
		}
		left := ti.Begin + ti.Len - sector
		if bio.Op == OpDiscard {
			// __process_abnormal_io() / __send_changing_extent_only()
			if ti.NumDiscardBios == 0 {
				err = linuxerr.EOPNOTSUPP
				break
			}
			n := min(count, left)
			for i := uint(0); i < ti.NumDiscardBios; i++ {
				c := io.allocTIO(ti)
				bio.cloneInto(c, off, n)
				io.mapClone(ti, c, i)
			}
			sector, count, off = sector+n, count-n, off+n
			continue
		}
		n := min(count, md.maxIOLen(ti, sector, left, lim))
		c := io.allocTIO(ti)
		bio.cloneInto(c, off, n)
		io.mapClone(ti, c, 0)
		sector, count, off = sector+n, count-n, off+n
	}
	io.dec(err)
}

// maxIOLen is max_io_len(): the target boundary, and for a target with a
// max_io_len the device's max_sectors and the next multiple of max_io_len.
func (md *MappedDevice) maxIOLen(ti *DMTarget, sector, left uint64, lim QueueLimits) uint64 {
	if ti.MaxIOLen == 0 {
		return left
	}
	off := sector - ti.Begin
	chunkLeft := ti.MaxIOLen - off%ti.MaxIOLen
	n := min(left, chunkLeft)
	if lim.MaxSectors != 0 {
		n = min(n, uint64(lim.MaxSectors))
	}
	return n
}

// mapClone is __map_bio(): hand a clone to the target and act on its
// answer.
func (io *dmIO) mapClone(ti *DMTarget, c *Bio, nr uint) {
	c.TargetBioNr = nr
	c.Private = nil
	if t := c.tio; t.pbdTI == ti {
		c.Private = t.pbd
	}
	c.SetEndio(tioEndio)
	io.inc()
	switch ti.Impl.Map(c) {
	case MapSubmitted:
	case MapRemapped:
		c.Dev.Submit(c)
	case MapKill:
		io.dec(linuxerr.EIO)
	case MapRequeue:
		io.dec(ErrRequeue)
	default:
		panic(fmt.Sprintf("dmsim: target %s returned an unknown map result", ti.Type.Name))
	}
}

// cloneEndio is clone_endio(): the target's end_io hook sees the
// completion first and may take the clone back.
func (io *dmIO) cloneEndio(ti *DMTarget, c *Bio, err error) {
	if e := ti.endIO; e != nil {
		err2, incomplete := e.EndIO(c, err)
		if incomplete {
			c.reopen()
			return
		}
		err = err2
	}
	io.dec(err)
}

// ---- suspend and resume (dm.c) ----

// errIntr maps a failed virtual-time wait to the errno a signal gives.
func errIntr(err error) error {
	if err == nil {
		return nil
	}
	return linuxerr.EINTR
}

// doSuspendLocked is __dm_suspend(); suspendLock held. flag selects what a
// successful suspend sets (DMF_SUSPENDED or DMF_SUSPENDED_INTERNALLY).
func (md *MappedDevice) doSuspendLocked(ctx context.Context, t *Table, noflush, lockfs, internal bool) error {
	md.mu.Lock()
	if noflush {
		md.noflushSuspending = true
	}
	md.mu.Unlock()

	t.presuspendTargets()
	if lockfs && !noflush && !internal {
		md.lockFS()
	}

	md.mu.Lock()
	md.blockIO = true
	md.mu.Unlock()
	if t != nil {
		md.syncTable()
	}
	_ = md.wq.Flush(context.Background())

	// dm_wait_for_completion()
	wctx := ctx
	if internal {
		wctx = context.Background()
	}
	err := md.waitCond(wctx, func() bool { return md.pending == 0 }, &md.pendingEv)

	md.mu.Lock()
	if err == nil {
		if internal {
			md.suspendedInternally = true
		} else {
			md.suspended = true
		}
	}
	if noflush {
		md.noflushSuspending = false
	}
	md.mu.Unlock()
	if t != nil {
		md.syncTable()
	}
	if err != nil {
		md.queueFlush()
		t.presuspendUndoTargets()
		return errIntr(err)
	}
	return nil
}

// suspend is dm_suspend().
func (md *MappedDevice) suspend(ctx context.Context, noflush, lockfs bool) error {
	for {
		if err := md.suspendLock.Lock(ctx); err != nil {
			return errIntr(err)
		}
		md.mu.Lock()
		if md.suspended {
			md.mu.Unlock()
			md.suspendLock.Unlock()
			return linuxerr.EINVAL
		}
		if md.suspendedInternally {
			md.mu.Unlock()
			md.suspendLock.Unlock()
			if err := md.waitCond(ctx, func() bool { return !md.suspendedInternally }, &md.intResumedEv); err != nil {
				return errIntr(err)
			}
			continue
		}
		t := md.live
		md.mu.Unlock()
		err := md.doSuspendLocked(ctx, t, noflush, lockfs, false)
		if err == nil {
			md.postsuspendLocked(t)
		} else {
			md.unlockFS()
		}
		md.suspendLock.Unlock()
		return err
	}
}

// postsuspendLocked is the end of a suspend (DMF_POST_SUSPENDING around the
// targets' postsuspend hooks); suspendLock held.
func (md *MappedDevice) postsuspendLocked(t *Table) {
	md.mu.Lock()
	md.postSuspending = true
	md.mu.Unlock()
	t.postsuspendTargets()
	md.mu.Lock()
	md.postSuspending = false
	md.mu.Unlock()
}

// resume is dm_resume(): EINVAL unless suspended with a non-empty live
// table; a failing preresume leaves the device suspended.
func (md *MappedDevice) resume(ctx context.Context) error {
	for {
		if err := md.suspendLock.Lock(ctx); err != nil {
			return errIntr(err)
		}
		md.mu.Lock()
		if !md.suspended {
			md.mu.Unlock()
			md.suspendLock.Unlock()
			return linuxerr.EINVAL
		}
		if md.suspendedInternally {
			md.mu.Unlock()
			md.suspendLock.Unlock()
			if err := md.waitCond(ctx, func() bool { return !md.suspendedInternally }, &md.intResumedEv); err != nil {
				return errIntr(err)
			}
			continue
		}
		t := md.live
		md.mu.Unlock()
		defer md.suspendLock.Unlock()
		if t == nil || t.Size() == 0 {
			return linuxerr.EINVAL
		}
		if err := t.resumeTargets(); err != nil {
			return err
		}
		md.queueFlush()
		md.mu.Lock()
		md.suspended = false
		md.mu.Unlock()
		md.unlockFS()
		return nil
	}
}

// InternalSuspendNoflush is dm_internal_suspend_noflush(): suspend the
// device without userspace seeing it (dmsetup info still says ACTIVE);
// nests; a device already suspended by userspace is only marked.
func (md *MappedDevice) InternalSuspendNoflush() {
	if md.suspendLock.Lock(context.Background()) != nil {
		return
	}
	defer md.suspendLock.Unlock()
	md.mu.Lock()
	md.internalSuspends++
	if md.internalSuspends > 1 {
		md.mu.Unlock()
		return
	}
	if md.suspended {
		md.suspendedInternally = true
		md.mu.Unlock()
		return
	}
	t := md.live
	md.mu.Unlock()
	_ = md.doSuspendLocked(context.Background(), t, true, false, true)
	md.postsuspendLocked(t)
}

// InternalResume is dm_internal_resume(): undo one InternalSuspendNoflush.
func (md *MappedDevice) InternalResume() {
	if md.suspendLock.Lock(context.Background()) != nil {
		return
	}
	defer md.suspendLock.Unlock()
	md.mu.Lock()
	if md.internalSuspends == 0 {
		md.mu.Unlock()
		panic("dmsim: InternalResume without InternalSuspendNoflush")
	}
	md.internalSuspends--
	if md.internalSuspends > 0 {
		md.mu.Unlock()
		return
	}
	resumeIO := !md.suspended
	md.mu.Unlock()
	if resumeIO {
		md.queueFlush()
	}
	md.mu.Lock()
	md.suspendedInternally = false
	signalLocked(&md.intResumedEv)
	md.mu.Unlock()
}

// swapTable is dm_swap_table(): bind t as the live table of a suspended
// device, validating its device areas (unless it has no data devices and
// a table is already live), and return the table it replaces.
func (md *MappedDevice) swapTable(ctx context.Context, t *Table) (*Table, error) {
	if err := md.suspendLock.Lock(ctx); err != nil {
		return nil, errIntr(err)
	}
	defer md.suspendLock.Unlock()
	md.mu.Lock()
	suspended := md.suspended
	live := md.live
	lim := md.limits
	md.mu.Unlock()
	if !suspended {
		return nil, linuxerr.EINVAL
	}
	if !(t.hasNoDataDevices() && live != nil) {
		var err error
		lim, err = t.calculateLimits()
		if err != nil {
			return nil, err
		}
	}
	old := md.bindLocked(t, lim)
	md.k.dm.issueGlobalEvent()
	return old, nil
}

// bindLocked is __bind(): size, event callback, queue restrictions, then the
// pointer swap (waiting for readers of the old table); suspendLock held.
func (md *MappedDevice) bindLocked(t *Table, lim QueueLimits) *Table {
	t.setEventFn(md.eventCallback)
	md.setRestrictions(t, lim)
	md.mu.Lock()
	md.size = t.Size()
	old := md.live
	md.live = t
	md.immut = t.immutable
	md.freeIOs = nil // their per-bio data is the old table's targets'
	md.mu.Unlock()
	if old != nil {
		md.syncTable()
	}
	return old
}

// setRestrictions is dm_table_set_restrictions(): the table's stacked
// limits become the device's, with discard, write cache and FUA as the
// targets support them, and read-ahead recomputed (disk_update_readahead).
func (md *MappedDevice) setRestrictions(t *Table, lim QueueLimits) {
	if !t.supportsDiscards() {
		lim.MaxDiscardSectors = 0
		lim.MaxHWDiscardSectors = 0
		lim.DiscardGranularity = 0
		lim.DiscardAlignment = 0
		lim.DiscardMisaligned = false
	}
	lim.WriteCache, lim.FUA = false, false
	if t.supportsFlush(func(l QueueLimits) bool { return l.WriteCache }) {
		lim.WriteCache = true
		lim.FUA = t.supportsFlush(func(l QueueLimits) bool { return l.FUA })
	}
	lim.NonRotational = !t.anyDevice(func(d *DMDev) bool { return !d.Bdev.Limits().NonRotational })
	md.mu.Lock()
	md.limits = lim
	md.mu.Unlock()
	ra := uint32(uint64(lim.IOOpt) * 2 / 4096)
	if ra < defaultRAKB/4 {
		ra = defaultRAKB / 4
	}
	md.k.devMu.Lock()
	md.disk.raKB = ra * 4
	md.k.devMu.Unlock()
}

// setupQueue is dm_setup_md_queue(), at the first table load: compute
// the initial limits and add the disk (/dev/dm-N appears).
func (md *MappedDevice) setupQueue(t *Table) error {
	lim, err := t.calculateLimits()
	if err != nil {
		md.k.Log.DMErr("core", "Cannot calculate initial queue limits")
		return err
	}
	md.setRestrictions(t, lim)
	md.k.registerDisk(md.disk)
	md.mu.Lock()
	md.hasQueue = true
	md.mu.Unlock()
	return nil
}

// ---- target-facing helpers ----

// MD is dm_table_get_md(ti->table): the mapped device of the target.
func (ti *DMTarget) MD() *MappedDevice { return ti.Table.md }

// Kernel returns the kernel of the target's device.
func (ti *DMTarget) Kernel() *Kernel { return ti.Table.md.k }

// Suspended is dm_suspended(ti).
func (ti *DMTarget) Suspended() bool { return ti.Table.md.Suspended() }

// NoflushSuspending is dm_noflush_suspending(ti).
func (ti *DMTarget) NoflushSuspending() bool { return ti.Table.md.NoflushSuspending() }

// PostSuspending is dm_post_suspending(ti).
func (ti *DMTarget) PostSuspending() bool { return ti.Table.md.PostSuspending() }

// Event is dm_table_event(ti->table).
func (ti *DMTarget) Event() { ti.Table.Event() }

// GetDevice is dm_get_device(ti, path, mode).
func (ti *DMTarget) GetDevice(path string, mode FMode) (*DMDev, error) {
	return ti.Table.GetDevice(path, mode)
}

// PutDevice is dm_put_device(ti, d).
func (ti *DMTarget) PutDevice(d *DMDev) { ti.Table.PutDevice(d) }

// SetMaxIOLen is dm_set_target_max_io_len(): bios are split so that none
// crosses a multiple of n sectors of the target.
func (ti *DMTarget) SetMaxIOLen(n uint64) error {
	if n > uint64(UintMax) {
		ti.Table.md.k.Log.DMErr("core", "Specified maximum size of target IO (%d) exceeds limit (%d)", n, UintMax)
		ti.Error = "Maximum size of target IO is too large"
		return linuxerr.EINVAL
	}
	ti.MaxIOLen = n
	return nil
}

// GetMD is dm_get_md(): the mapped device with this device number, nil if
// there is none or it is being removed.
func (k *Kernel) GetMD(d DevT) *MappedDevice {
	md := k.dm.mdByDevT(d)
	if md == nil {
		return nil
	}
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.freeing || md.deleting {
		return nil
	}
	return md
}

// lockFS is lock_fs(): a suspend without DM_SKIP_LOCKFS_FLAG freezes the
// file system mounted on the device (freeze_bdev). Only the host mounts
// file systems (the front end's loop devices); suspendLock held.
func (md *MappedDevice) lockFS() {
	if h := md.k.cfg.HostDevices; h != nil && h.Freeze(md.dev) == nil {
		md.frozen = true
	}
}

// unlockFS is unlock_fs(): thaw what lockFS froze; suspendLock held.
func (md *MappedDevice) unlockFS() {
	if md.frozen {
		md.frozen = false
		md.k.cfg.HostDevices.Thaw(md.dev)
	}
}
