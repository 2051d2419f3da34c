package thin

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/thinmeta"
)

// poolMode is enum pool_mode, ordered by degradation.
type poolMode int32

const (
	pmWrite              poolMode = iota // metadata may change
	pmOutOfDataSpace                     // metadata may change, but no data block can be allocated
	pmOutOfMetadataSpace                 // read-only until the metadata device grows
	pmReadOnly                           // metadata may not change
	pmFail                               // all I/O fails
)

// modeDesc are notify_of_pool_mode_change()'s descriptions.
var modeDesc = [...]string{"write", "out-of-data-space", "read-only", "read-only", "fail"}

// isReadOnlyMode is is_read_only_pool_mode().
func isReadOnlyMode(m poolMode) bool { return m == pmOutOfMetadataSpace || m == pmReadOnly }

// poolFeatures is struct pool_features.
type poolFeatures struct {
	mode            poolMode
	zeroNewBlocks   bool
	discardEnabled  bool
	discardPassdown bool
	errorIfNoSpace  bool
}

// defaultFeatures is pool_features_init().
func defaultFeatures() poolFeatures {
	return poolFeatures{mode: pmWrite, zeroNewBlocks: true, discardEnabled: true, discardPassdown: true}
}

// commitPeriod is COMMIT_PERIOD (HZ).
const commitPeriod = time.Second

// wakerPeriod is how long the periodic waker's delayed work really takes
// to run: a timer HZ jiffies ahead lands in the timer wheel's second level,
// which runs it at a later tick, so it always finds more than
// COMMIT_PERIOD passed since a commit made when it was armed (one jiffy at
// HZ=250 stands for that delay).
const wakerPeriod = commitPeriod + 4*time.Millisecond

// poolTable is dm_thin_pool_table: the pools of one kernel, keyed by their
// mapped device and by their metadata device. Its mutex is held across the
// constructors and destructors of both targets, as the kernel's is.
type poolTable struct {
	mu    sync.Mutex
	pools []*pool
}

type poolTableKey struct{}

func poolTableOf(k *dmsim.Kernel) *poolTable {
	return k.ModuleState(poolTableKey{}, func() any { return &poolTable{} }).(*poolTable)
}

// lookup is __pool_table_lookup(): the pool owned by a mapped device.
func (t *poolTable) lookup(md *dmsim.MappedDevice) *pool {
	for _, p := range t.pools {
		if p.poolMD == md {
			return p
		}
	}
	return nil
}

// lookupMetadataDev is __pool_table_lookup_metadata_dev().
func (t *poolTable) lookupMetadataDev(d dmsim.DevT) *pool {
	for _, p := range t.pools {
		if p.mdBdev.Dev() == d {
			return p
		}
	}
	return nil
}

// pool is struct pool: the object shared by every table (pool or thin)
// that uses one metadata device.
type pool struct {
	k      *dmsim.Kernel
	tbl    *poolTable
	poolMD *dmsim.MappedDevice
	name   string // dm_device_name(pool_md)

	mdBdev, dataBdev dmsim.BlockDevice
	pmd              *thinmeta.PoolMetadata
	sectorsPerBlock  uint64

	prison       *prison
	wq           *sim.Workqueue
	sharedReadDS *deferredSet
	allIODS      *deferredSet

	refCount int // under tbl.mu

	mode   atomic.Int32 // pf.mode, readable without the lock
	modeMu sync.Mutex   // serialises set_pool_mode()

	mu                sync.Mutex // pool->lock: everything below
	ti                *dmsim.DMTarget
	pt                *poolC
	pf                poolFeatures
	lowWaterBlocks    uint64
	lowWaterTriggered bool
	suspended         bool
	outOfDataSpace    bool
	lastCommit        time.Duration

	deferredFlushBios        []*dmsim.Bio
	deferredFlushCompletions []*dmsim.Bio
	preparedMappings         []*newMapping
	preparedDiscards         []*newMapping
	preparedDiscardsPt2      []*newMapping
	activeThins              []*thinC

	waker        *sim.Timer
	noSpaceTimer *sim.Timer
	workerQueued bool
	destroyed    bool

	// holdEnds and heldEnds: the thin bios a worker pass completes are
	// ended when the pass is over (doWorker).
	holdEnds bool
	heldEnds []heldEnd
}

// poolCreate is pool_create(): it opens (or formats) the metadata now, at
// table load.
func poolCreate(k *dmsim.Kernel, tbl *poolTable, md *dmsim.MappedDevice, mdBdev, dataBdev dmsim.BlockDevice,
	blockSize uint64, readOnly bool) (*pool, string, error) {
	pmd, err := openMetadata(k, mdBdev, uint32(blockSize), !readOnly)
	if err != nil {
		return nil, "Error creating metadata object", err
	}
	p := &pool{
		k:               k,
		tbl:             tbl,
		poolMD:          md,
		name:            md.DeviceName(),
		mdBdev:          mdBdev,
		dataBdev:        dataBdev,
		pmd:             pmd,
		sectorsPerBlock: blockSize,
		prison:          newPrison(),
		wq:              k.Clock.NewWorkqueue(),
		sharedReadDS:    newDeferredSet(),
		allIODS:         newDeferredSet(),
		refCount:        1,
		pf:              defaultFeatures(),
		suspended:       true,
		lastCommit:      k.Clock.Now(),
	}
	p.mode.Store(int32(pmWrite))
	tbl.pools = append(tbl.pools, p)
	return p, "", nil
}

// inc is __pool_inc(); the table lock is held.
func (p *pool) inc() { p.refCount++ }

// dec is __pool_dec(); the table lock is held.
func (p *pool) dec() {
	p.refCount--
	if p.refCount == 0 {
		p.destroy()
	}
}

// destroy is __pool_destroy(): closing the metadata commits it unless the
// pool failed or is read-only.
func (p *pool) destroy() {
	p.tbl.pools = slices.DeleteFunc(p.tbl.pools, func(x *pool) bool { return x == p })
	if err := p.pmd.Close(); err != nil {
		p.k.Log.DMWarn("thin", "%s: dm_pool_metadata_close() failed.", "__pool_destroy")
	}
	p.mu.Lock()
	p.destroyed = true
	if p.waker != nil {
		p.waker.Stop()
		p.waker = nil
	}
	if p.noSpaceTimer != nil {
		p.noSpaceTimer.Stop()
		p.noSpaceTimer = nil
	}
	p.mu.Unlock()
	p.wq.Stop()
}

func (p *pool) getMode() poolMode { return poolMode(p.mode.Load()) }

func (p *pool) isReadOnly() bool { return isReadOnlyMode(p.getMode()) }

// tableEvent is dm_table_event(pool->ti->table).
func (p *pool) tableEvent() {
	p.mu.Lock()
	ti := p.ti
	p.mu.Unlock()
	if ti != nil {
		ti.Event()
	}
}

// wakeWorker is wake_worker(): queue_work() of the pool's single worker,
// which does nothing if the worker is already queued.
func (p *pool) wakeWorker() {
	p.mu.Lock()
	if p.workerQueued || p.destroyed {
		p.mu.Unlock()
		return
	}
	p.workerQueued = true
	p.mu.Unlock()
	if !p.wq.Queue(p.doWorker) {
		p.mu.Lock()
		p.workerQueued = false
		p.mu.Unlock()
	}
}

// notifyOfPoolModeChange is notify_of_pool_mode_change().
func (p *pool) notifyOfPoolModeChange() {
	mode := p.getMode()
	extra := ""
	if mode == pmOutOfDataSpace {
		p.mu.Lock()
		eins := p.pf.errorIfNoSpace
		p.mu.Unlock()
		if eins {
			extra = " (error IO)"
		} else {
			extra = " (queue IO)"
		}
	}
	p.tableEvent()
	p.k.Log.DMInfo("thin", "%s: switching pool to %s%s mode", p.name, modeDesc[mode], extra)
}

// setPoolMode is set_pool_mode().
func (p *pool) setPoolMode(newMode poolMode) {
	p.modeMu.Lock()
	defer p.modeMu.Unlock()
	oldMode := p.getMode()

	// Never go back to write mode while the metadata needs checking.
	if newMode == pmWrite && p.pmd.NeedsCheck() {
		p.k.Log.DMErr("thin", "%s: unable to switch pool to write mode until repaired.", p.name)
		if oldMode != newMode {
			newMode = oldMode
		} else {
			newMode = pmReadOnly
		}
	}
	// Once failed, always failed.
	if oldMode == pmFail {
		newMode = oldMode
	}

	p.mode.Store(int32(newMode))
	switch newMode {
	case pmFail, pmOutOfMetadataSpace, pmReadOnly:
		p.pmd.SetReadOnly()
		p.errorRetryList()
	case pmOutOfDataSpace:
		p.mu.Lock()
		p.outOfDataSpace = true
		arm := !p.pf.errorIfNoSpace
		p.mu.Unlock()
		if timeout := noSpaceTimeout(p.k); arm && timeout > 0 {
			p.queueNoSpaceTimeout(timeout)
		}
	case pmWrite:
		if oldMode == pmOutOfDataSpace {
			p.cancelNoSpaceTimeout()
		}
		p.mu.Lock()
		p.outOfDataSpace = false
		if p.pt != nil {
			p.pf.errorIfNoSpace = p.pt.requested.errorIfNoSpace
		}
		p.mu.Unlock()
		p.pmd.SetReadWrite()
	}

	p.mu.Lock()
	p.pf.mode = newMode
	// Keep the bound table in step so a resume does not switch modes.
	if p.pt != nil {
		p.pt.adjusted.mode = newMode
	}
	p.mu.Unlock()

	if oldMode != newMode {
		p.notifyOfPoolModeChange()
	}
}

// queueNoSpaceTimeout is queue_delayed_work(no_space_timeout): a no-op if
// the timeout is already pending.
func (p *pool) queueNoSpaceTimeout(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.noSpaceTimer != nil || p.destroyed {
		return
	}
	var t *sim.Timer
	t = p.k.Clock.AfterFunc(d, func() {
		p.mu.Lock()
		if p.noSpaceTimer == t {
			p.noSpaceTimer = nil
		}
		p.mu.Unlock()
		p.wq.Queue(p.doNoSpaceTimeout)
	})
	p.noSpaceTimer = t
}

func (p *pool) cancelNoSpaceTimeout() {
	p.mu.Lock()
	t := p.noSpaceTimer
	p.noSpaceTimer = nil
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// doNoSpaceTimeout is do_no_space_timeout(): still out of space after the
// timeout, the pool stops queueing and fails the held I/O.
func (p *pool) doNoSpaceTimeout() {
	p.mu.Lock()
	if p.getMode() != pmOutOfDataSpace || p.pf.errorIfNoSpace {
		p.mu.Unlock()
		return
	}
	p.pf.errorIfNoSpace = true
	p.mu.Unlock()
	p.notifyOfPoolModeChange()
	p.errorRetryListWithCode(linuxerr.ENOSPC)
}

// startWaker is do_waker() run from pool_resume(): wake the worker now and
// every COMMIT_PERIOD.
func (p *pool) startWaker() {
	p.wakeWorker()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waker != nil || p.destroyed {
		return
	}
	p.armWakerLocked()
}

func (p *pool) armWakerLocked() {
	var t *sim.Timer
	t = p.k.Clock.AfterFuncDaemon(wakerPeriod, func() {
		p.mu.Lock()
		if p.waker != t {
			p.mu.Unlock()
			return
		}
		p.armWakerLocked()
		p.mu.Unlock()
		p.wakeWorker()
	})
	p.waker = t
}

func (p *pool) stopWaker() {
	p.mu.Lock()
	t := p.waker
	p.waker = nil
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// ioErrorCode is get_pool_io_error_code().
func (p *pool) ioErrorCode() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outOfDataSpace {
		return linuxerr.ENOSPC
	}
	return linuxerr.EIO
}

// errorRetryList is error_retry_list().
func (p *pool) errorRetryList() { p.errorRetryListWithCode(p.ioErrorCode()) }

// errorRetryListWithCode is error_retry_list_with_code().
func (p *pool) errorRetryListWithCode(err error) {
	for _, tc := range p.thins() {
		tc.mu.Lock()
		bios := tc.retryOnResume
		tc.retryOnResume = nil
		tc.mu.Unlock()
		for _, b := range bios {
			b.Endio(err)
		}
		tc.refs.Done()
	}
}

// requeueBios is requeue_bios(): the held bios go back to the deferred
// lists.
func (p *pool) requeueBios() {
	for _, tc := range p.thins() {
		tc.mu.Lock()
		tc.deferredBios = append(tc.deferredBios, tc.retryOnResume...)
		tc.retryOnResume = nil
		tc.mu.Unlock()
		tc.refs.Done()
	}
}

// thins returns the active thins, each with a reference the caller drops
// with tc.refs.Done() (get_first_thin/get_next_thin).
func (p *pool) thins() []*thinC {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.activeThins)
	for _, tc := range out {
		tc.refs.Add(1)
	}
	return out
}

// commit is commit(): nothing is committed once the pool is read-only or
// failed.
func (p *pool) commit() error {
	if p.getMode() >= pmOutOfMetadataSpace {
		return linuxerr.EINVAL
	}
	err := p.pmd.CommitMetadata()
	if err != nil {
		p.metadataOperationFailed("dm_pool_commit_metadata", err)
		return err
	}
	p.checkForMetadataSpace()
	p.checkForDataSpace()
	return nil
}

// checkForMetadataSpace is check_for_metadata_space().
func (p *pool) checkForMetadataSpace() {
	reason := ""
	free, err := p.pmd.FreeMetadataBlockCount()
	if err != nil {
		reason = "Could not get free metadata blocks"
	} else if free == 0 {
		reason = "No free metadata blocks"
	}
	if reason != "" && !p.isReadOnly() {
		p.k.Log.DMErr("thin", "%s", reason)
		p.setPoolMode(pmOutOfMetadataSpace)
	}
}

// checkForDataSpace is check_for_data_space().
func (p *pool) checkForDataSpace() {
	if p.getMode() != pmOutOfDataSpace {
		return
	}
	free, err := p.pmd.FreeBlockCount()
	if err != nil {
		return
	}
	if free > 0 {
		p.setPoolMode(pmWrite)
		p.requeueBios()
	}
}

// checkLowWaterMark is check_low_water_mark(): one event per latch, the
// latch being cleared at every pool resume.
func (p *pool) checkLowWaterMark(free uint64) {
	p.mu.Lock()
	if free > p.lowWaterBlocks || p.lowWaterTriggered {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.k.Log.DMWarn("thin", "%s: reached low water mark for data device: sending event.", p.name)
	p.mu.Lock()
	p.lowWaterTriggered = true
	p.mu.Unlock()
	p.tableEvent()
}

// allocDataBlock is alloc_data_block().
func (p *pool) allocDataBlock() (uint64, error) {
	if p.getMode() != pmWrite {
		return 0, linuxerr.EINVAL
	}
	free, err := p.pmd.FreeBlockCount()
	if err != nil {
		p.metadataOperationFailed("dm_pool_get_free_block_count", err)
		return 0, err
	}
	p.checkLowWaterMark(free)
	if free == 0 {
		// A commit may free the blocks released in this transaction.
		if err := p.commit(); err != nil {
			return 0, err
		}
		free, err = p.pmd.FreeBlockCount()
		if err != nil {
			p.metadataOperationFailed("dm_pool_get_free_block_count", err)
			return 0, err
		}
		if free == 0 {
			p.setPoolMode(pmOutOfDataSpace)
			return 0, linuxerr.ENOSPC
		}
	}
	b, err := p.pmd.AllocDataBlock()
	if err != nil {
		if errors.Is(err, linuxerr.ENOSPC) {
			p.setPoolMode(pmOutOfDataSpace)
		} else {
			p.metadataOperationFailed("dm_pool_alloc_data_block", err)
		}
		return 0, err
	}
	free, err = p.pmd.FreeMetadataBlockCount()
	if err != nil {
		p.metadataOperationFailed("dm_pool_get_free_metadata_block_count", err)
		return 0, err
	}
	if free == 0 {
		// Commit before the metadata reserve is used up.
		if err := p.commit(); err != nil {
			return 0, err
		}
	}
	return b, nil
}

// abortTransaction is abort_transaction().
func (p *pool) abortTransaction() {
	p.k.Log.DMErr("thin", "%s: aborting current metadata transaction", p.name)
	if err := p.pmd.AbortMetadata(); err != nil {
		p.k.Log.DMErr("thin", "%s: failed to abort metadata transaction", p.name)
		p.setPoolMode(pmFail)
	}
	if err := p.pmd.SetNeedsCheck(); err != nil {
		p.k.Log.DMErr("thin", "%s: failed to set 'needs_check' flag in metadata", p.name)
		p.setPoolMode(pmFail)
	}
}

// metadataOperationFailed is metadata_operation_failed().
func (p *pool) metadataOperationFailed(op string, err error) {
	p.k.Log.DMErr("thin", "%s: metadata operation '%s' failed: error = %d", p.name, op, -int(linuxerr.ToErrno(err)))
	p.abortTransaction()
	p.setPoolMode(pmReadOnly)
}

// needCommitDueToTime is need_commit_due_to_time().
func (p *pool) needCommitDueToTime() bool {
	now := p.k.Clock.Now()
	p.mu.Lock()
	last := p.lastCommit
	p.mu.Unlock()
	return now < last || now > last+commitPeriod
}

// doWorker is do_worker(): the pool's single worker.
func (p *pool) doWorker() {
	p.mu.Lock()
	p.workerQueued = false
	p.mu.Unlock()

	// The recording machine has one CPU and the worker does not sleep
	// between completing a bio (process_prepared_mapping()) and taking the
	// deferred bios (process_deferred_bios()), so the process it woke
	// cannot submit its next bio into the same pass: that bio is always
	// the next pass's, after the pass's commit. Here the woken process
	// would run at once, in parallel, and win that race now and then
	// (under load), allocating before the commit and moving metadata
	// blocks. So the thin bios a pass completes are ended when it is over.
	p.mu.Lock()
	p.holdEnds = true
	p.mu.Unlock()
	defer p.endHeld()

	// dm_pool_issue_prefetches(): thinmeta's block manager reads on
	// demand, there is nothing to prefetch.
	p.processPrepared(&p.preparedMappings, p.processPreparedMappingFn)
	p.processPrepared(&p.preparedDiscards, p.processPreparedDiscardFn)
	p.processPrepared(&p.preparedDiscardsPt2, p.processPreparedDiscardPassdownPt2)
	p.processDeferredBios()
}

// heldEnd is a completion held back until the end of a worker pass.
type heldEnd struct {
	bio *dmsim.Bio
	err error
}

// holdEnd keeps bio's completion for the end of the running worker pass;
// false when no pass runs.
func (p *pool) holdEnd(bio *dmsim.Bio, err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.holdEnds {
		return false
	}
	p.heldEnds = append(p.heldEnds, heldEnd{bio, err})
	return true
}

// endHeld ends a worker pass: the completions it held, in order.
func (p *pool) endHeld() {
	p.mu.Lock()
	ends := p.heldEnds
	p.holdEnds, p.heldEnds = false, nil
	p.mu.Unlock()
	for _, e := range ends {
		e.bio.Endio(e.err)
	}
}

// processPrepared is process_prepared().
func (p *pool) processPrepared(list *[]*newMapping, fn func(*newMapping)) {
	p.mu.Lock()
	maps := *list
	*list = nil
	p.mu.Unlock()
	for _, m := range maps {
		fn(m)
	}
}

// processDeferredBios is process_deferred_bios(): each thin's deferred
// cells and bios, then the batched flushes and the periodic commit.
func (p *pool) processDeferredBios() {
	for _, tc := range p.thins() {
		p.processThinDeferredCells(tc)
		p.processThinDeferredBios(tc)
		tc.refs.Done()
	}

	p.mu.Lock()
	bios := p.deferredFlushBios
	completions := p.deferredFlushCompletions
	p.deferredFlushBios, p.deferredFlushCompletions = nil, nil
	p.mu.Unlock()

	if len(bios) == 0 && len(completions) == 0 &&
		!(p.pmd.ChangedThisTransaction() && p.needCommitDueToTime()) {
		return
	}
	if err := p.commit(); err != nil {
		for _, b := range append(bios, completions...) {
			b.Endio(linuxerr.EIO)
		}
		return
	}
	p.mu.Lock()
	p.lastCommit = p.k.Clock.Now()
	p.mu.Unlock()

	for _, b := range completions {
		b.Endio(nil)
	}
	for _, b := range bios {
		// The commit flushed the data device: a flush is complete.
		if b.Op == dmsim.OpFlush || b.Flags&dmsim.ReqPreflush != 0 {
			b.Endio(nil)
		} else {
			b.Dev.Submit(b)
		}
	}
}
