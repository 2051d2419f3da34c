package thin

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/internal/crashmut"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/thinmeta"
)

// endioHook is struct dm_thin_endio_hook: the per-bio data of a thin bio.
type endioHook struct {
	tc              *thinC
	sharedReadEntry *deferredEntry
	allIOEntry      *deferredEntry
	cell            *cell

	// pending is bi_remaining: the bio completes when it drops to zero.
	pending atomic.Int32
	errMu   sync.Mutex
	err     error
}

func hookOf(bio *dmsim.Bio) *endioHook {
	h, _ := bio.Private.(*endioHook)
	return h
}

// newEndioHook is the thin target's per-bio data (per_io_data_size).
func newEndioHook() any { return new(endioHook) }

// thinHookBio is thin_hook_bio(): the per-bio data the core gave the clone
// (newEndioHook's) is initialised.
func thinHookBio(tc *thinC, bio *dmsim.Bio) *endioHook {
	h, ok := bio.Private.(*endioHook)
	if !ok {
		h = new(endioHook)
		bio.Private = h
	}
	*h = endioHook{tc: tc}
	h.pending.Store(1)
	return h
}

// bioIncRemaining is bio_inc_remaining().
func bioIncRemaining(bio *dmsim.Bio) {
	if h := hookOf(bio); h != nil {
		h.pending.Add(1)
	}
}

// endBio is bio_endio() on a thin bio: it completes once every chained
// part has completed, with the first error.
func endBio(bio *dmsim.Bio, err error) { endBioHeld(bio, err, true) }

// endBioHeld is endBio; hold false ends the bio at once even inside a
// worker pass (test-only mutations: see completeOverwriteBio).
func endBioHeld(bio *dmsim.Bio, err error, hold bool) {
	h := hookOf(bio)
	if h == nil {
		bio.Endio(err)
		return
	}
	h.errMu.Lock()
	if err != nil && h.err == nil {
		h.err = err
	}
	h.errMu.Unlock()
	if h.pending.Add(-1) != 0 {
		return
	}
	h.errMu.Lock()
	err = h.err
	h.errMu.Unlock()
	if hold && h.tc != nil && h.tc.pool.holdEnd(bio, err) {
		return
	}
	bio.Endio(err)
}

// newMapping is struct dm_thin_new_mapping: a block being provisioned,
// copied or discarded.
type newMapping struct {
	maybeShared bool

	// prepareActions counts the copy, zero and quiesce steps still to
	// complete before the mapping can be inserted.
	prepareActions atomic.Int32
	status         error // under pool.mu

	tc                 *thinC
	virtBegin, virtEnd uint64
	dataBlock          uint64
	cell               *cell
	// bio is the full-block overwrite issued ahead of the mapping, or the
	// discard being processed.
	bio *dmsim.Bio
}

func isFlush(bio *dmsim.Bio) bool {
	return bio.Op == dmsim.OpFlush || bio.Flags&(dmsim.ReqPreflush|dmsim.ReqFUA) != 0
}

// getBioBlock is get_bio_block().
func (tc *thinC) getBioBlock(bio *dmsim.Bio) uint64 { return bio.Sector / tc.pool.sectorsPerBlock }

// getBioBlockRange is get_bio_block_range(): the complete blocks a bio
// covers.
func (tc *thinC) getBioBlockRange(bio *dmsim.Bio) (uint64, uint64) {
	spb := tc.pool.sectorsPerBlock
	b := (bio.Sector + spb - 1) / spb
	e := (bio.Sector + bio.Size()) / spb
	if e < b {
		e = b
	}
	return b, e
}

// remap is remap(): the bio goes to the pool device at the data block.
func (tc *thinC) remap(bio *dmsim.Bio, block uint64) {
	spb := tc.pool.sectorsPerBlock
	bio.Dev = tc.poolDev.Bdev
	bio.Sector = block*spb + bio.Sector%spb
}

// bioTriggersCommit is bio_triggers_commit().
func (tc *thinC) bioTriggersCommit(bio *dmsim.Bio) bool {
	return isFlush(bio) && tc.td.ChangedThisTransaction()
}

// incAllIOEntry is inc_all_io_entry().
func (tc *thinC) incAllIOEntry(bio *dmsim.Bio) {
	if bio.Op == dmsim.OpDiscard {
		return
	}
	if h := hookOf(bio); h != nil {
		h.allIOEntry = tc.pool.allIODS.inc()
	}
}

// issue is issue(): flushes and FUA writes of a thin that changed wait for
// the commit of the worker's pass.
func (tc *thinC) issue(bio *dmsim.Bio) {
	if !tc.bioTriggersCommit(bio) {
		bio.Dev.Submit(bio)
		return
	}
	// Earlier changes could not be committed.
	if tc.td.AbortedChanges() {
		endBio(bio, linuxerr.EIO)
		return
	}
	p := tc.pool
	p.mu.Lock()
	p.deferredFlushBios = append(p.deferredFlushBios, bio)
	p.mu.Unlock()
}

// remapToOriginAndIssue is remap_to_origin_and_issue().
func (tc *thinC) remapToOriginAndIssue(bio *dmsim.Bio) {
	bio.Dev = tc.originDev.Bdev
	tc.issue(bio)
}

// remapAndIssue is remap_and_issue().
func (tc *thinC) remapAndIssue(bio *dmsim.Bio, block uint64) {
	tc.remap(bio, block)
	tc.issue(bio)
}

// thinDeferBio is thin_defer_bio().
func (tc *thinC) thinDeferBio(bio *dmsim.Bio) {
	tc.mu.Lock()
	tc.deferredBios = append(tc.deferredBios, bio)
	tc.mu.Unlock()
	tc.pool.wakeWorker()
}

// thinDeferCell is thin_defer_cell().
func (tc *thinC) thinDeferCell(c *cell) {
	tc.mu.Lock()
	tc.deferredCells = append(tc.deferredCells, c)
	tc.mu.Unlock()
	tc.pool.wakeWorker()
}

// cellDeferNoHolder is cell_defer_no_holder(): the waiting bios go back to
// the worker.
func (tc *thinC) cellDeferNoHolder(c *cell) {
	tc.deferBios(tc.pool.prison.releaseNoHolder(c))
}

// cellDeferNoHolderFree is cellDeferNoHolder freeing the cell, as the
// kernel's always does; for callers that keep no reference to it.
func (tc *thinC) cellDeferNoHolderFree(c *cell) {
	tc.deferBios(tc.pool.prison.releaseNoHolderFree(c))
}

// deferBios puts bios a cell held back on the deferred list.
func (tc *thinC) deferBios(bios []*dmsim.Bio) {
	if len(bios) == 0 {
		return
	}
	tc.mu.Lock()
	tc.deferredBios = append(tc.deferredBios, bios...)
	tc.mu.Unlock()
	tc.pool.wakeWorker()
}

// cellErrorWithCode is cell_error_with_code().
func (p *pool) cellErrorWithCode(c *cell, err error) {
	for _, b := range p.prison.release(c) {
		endBio(b, err)
	}
}

// cellError is cell_error().
func (p *pool) cellError(c *cell) { p.cellErrorWithCode(c, p.ioErrorCode()) }

// incRemapAndIssueCell is inc_remap_and_issue_cell().
func (tc *thinC) incRemapAndIssueCell(c *cell, block uint64) {
	var deferBios, issueBios []*dmsim.Bio
	tc.pool.prison.visitRelease(c, func(c *cell) {
		for _, b := range c.bios {
			if isFlush(b) || b.Op == dmsim.OpDiscard {
				deferBios = append(deferBios, b)
			} else {
				tc.incAllIOEntry(b)
				issueBios = append(issueBios, b)
			}
		}
		c.bios = nil
	})
	for _, b := range deferBios {
		tc.thinDeferBio(b)
	}
	for _, b := range issueBios {
		tc.remapAndIssue(b, block)
	}
}

// completeMappingPreparation is complete_mapping_preparation(): the last
// step queues the mapping for insertion.
func (p *pool) completeMappingPreparation(m *newMapping) {
	if m.prepareActions.Add(-1) != 0 {
		return
	}
	p.mu.Lock()
	p.preparedMappings = append(p.preparedMappings, m)
	p.mu.Unlock()
	p.wakeWorker()
}

// copyComplete is copy_complete().
func (p *pool) copyComplete(m *newMapping, err error) {
	if err != nil {
		p.mu.Lock()
		if m.status == nil {
			m.status = linuxerr.EIO
		}
		p.mu.Unlock()
	}
	p.completeMappingPreparation(m)
}

// processPreparedMappingFn is pool->process_prepared_mapping for the
// current mode.
func (p *pool) processPreparedMappingFn(m *newMapping) {
	switch p.getMode() {
	case pmWrite, pmOutOfDataSpace:
		p.processPreparedMapping(m)
	default:
		p.cellError(m.cell) // process_prepared_mapping_fail()
	}
}

// completeOverwriteBio is complete_overwrite_bio().
func (tc *thinC) completeOverwriteBio(bio *dmsim.Bio) {
	if !tc.bioTriggersCommit(bio) {
		endBio(bio, nil)
		return
	}
	if crashmut.On(crashmut.FUAOverwriteEarly) {
		// The mutation (4ae280b4ee34's bug): the bio completes now, ahead
		// of the commit this worker pass makes; the pass's held ends
		// (doWorker) would otherwise hide it behind that commit.
		endBioHeld(bio, nil, false)
		return
	}
	if tc.td.AbortedChanges() {
		endBio(bio, linuxerr.EIO)
		return
	}
	p := tc.pool
	p.mu.Lock()
	p.deferredFlushCompletions = append(p.deferredFlushCompletions, bio)
	p.mu.Unlock()
}

// processPreparedMapping is process_prepared_mapping(): the new block is
// ready, so the mapping is inserted and the held bios go to it.
func (p *pool) processPreparedMapping(m *newMapping) {
	tc := m.tc
	p.mu.Lock()
	status := m.status
	p.mu.Unlock()
	if status != nil {
		p.cellError(m.cell)
		return
	}
	if err := tc.td.InsertBlock(m.virtBegin, m.dataBlock); err != nil {
		p.metadataOperationFailed("dm_thin_insert_block", err)
		p.cellError(m.cell)
		return
	}
	if m.bio != nil {
		tc.incRemapAndIssueCell(m.cell, m.dataBlock)
		tc.completeOverwriteBio(m.bio)
	} else {
		holder := m.cell.holder
		tc.incAllIOEntry(holder)
		tc.remapAndIssue(holder, m.dataBlock)
		tc.incRemapAndIssueCell(m.cell, m.dataBlock)
	}
}

// freeDiscardMapping is free_discard_mapping().
func (tc *thinC) freeDiscardMapping(m *newMapping) {
	if m.cell != nil {
		tc.cellDeferNoHolder(m.cell)
	}
}

// processPreparedDiscardFn is pool->process_prepared_discard for the
// current mode.
func (p *pool) processPreparedDiscardFn(m *newMapping) {
	switch p.getMode() {
	case pmFail:
		endBio(m.bio, linuxerr.EIO) // process_prepared_discard_fail()
		m.tc.freeDiscardMapping(m)
	case pmReadOnly, pmOutOfMetadataSpace:
		endBio(m.bio, nil) // process_prepared_discard_success()
		m.tc.freeDiscardMapping(m)
	default:
		if p.passdown() {
			p.processPreparedDiscardPassdownPt1(m)
		} else {
			p.processPreparedDiscardNoPassdown(m)
		}
	}
}

// passdown is the live discard_passdown feature (set_discard_callbacks()).
func (p *pool) passdown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pf.discardPassdown
}

// processPreparedDiscardNoPassdown is process_prepared_discard_no_passdown().
func (p *pool) processPreparedDiscardNoPassdown(m *newMapping) {
	tc := m.tc
	if err := tc.td.RemoveRange(m.cell.key.begin, m.cell.key.end); err != nil {
		p.metadataOperationFailed("dm_thin_remove_range", err)
		endBio(m.bio, linuxerr.EIO)
	} else {
		endBio(m.bio, nil)
	}
	tc.cellDeferNoHolder(m.cell)
}

// processPreparedDiscardPassdownPt1 is
// process_prepared_discard_passdown_pt1(): unmap, hold the freed blocks
// with an extra reference while the discard goes down, then pt2 drops it.
func (p *pool) processPreparedDiscardPassdownPt1(m *newMapping) {
	tc := m.tc
	dataEnd := m.dataBlock + (m.virtEnd - m.virtBegin)
	if err := tc.td.RemoveRange(m.virtBegin, m.virtEnd); err != nil {
		p.metadataOperationFailed("dm_thin_remove_range", err)
		endBio(m.bio, linuxerr.EIO)
		tc.cellDeferNoHolder(m.cell)
		return
	}
	if err := p.pmd.IncDataRange(m.dataBlock, dataEnd); err != nil {
		p.metadataOperationFailed("dm_pool_inc_data_range", err)
		endBio(m.bio, linuxerr.EIO)
		tc.cellDeferNoHolder(m.cell)
		return
	}
	// passdown_endio(): the passdown's own errors are ignored.
	done := func(error) { p.queuePassdownPt2(m) }
	if m.maybeShared {
		p.passdownDoubleCheckingSharedStatus(m, done)
	} else {
		p.issueDataDiscard(m.dataBlock, dataEnd, done)
	}
}

// issueDataDiscard is issue_discard() on data blocks [b, e).
func (p *pool) issueDataDiscard(b, e uint64, done func(error)) {
	spb := p.sectorsPerBlock
	issueDiscard(p.dataBdev, b*spb, (e-b)*spb, done)
}

// passdownDoubleCheckingSharedStatus is
// passdown_double_checking_shared_status(): only blocks no other device
// still references are discarded.
func (p *pool) passdownDoubleCheckingSharedStatus(m *newMapping, done func(error)) {
	type run struct{ b, e uint64 }
	var runs []run
	var err error
	end := m.dataBlock + (m.virtEnd - m.virtBegin)
	b := m.dataBlock
scan:
	for b != end {
		for ; b < end; b++ {
			shared, e := p.pmd.BlockIsShared(b)
			if e != nil {
				err = e
				break scan
			}
			if !shared {
				break
			}
		}
		if b == end {
			break
		}
		e := b + 1
		for ; e != end; e++ {
			shared, e2 := p.pmd.BlockIsShared(e)
			if e2 != nil {
				err = e2
				runs = append(runs, run{b, e})
				break scan
			}
			if shared {
				break
			}
		}
		runs = append(runs, run{b, e})
		b = e
	}
	var issue func(i int, first error)
	issue = func(i int, first error) {
		if i == len(runs) {
			if first == nil {
				first = err
			}
			done(first)
			return
		}
		p.issueDataDiscard(runs[i].b, runs[i].e, func(e error) {
			if first == nil {
				first = e
			}
			issue(i+1, first)
		})
	}
	issue(0, nil)
}

// queuePassdownPt2 is queue_passdown_pt2().
func (p *pool) queuePassdownPt2(m *newMapping) {
	p.mu.Lock()
	p.preparedDiscardsPt2 = append(p.preparedDiscardsPt2, m)
	p.mu.Unlock()
	p.wakeWorker()
}

// processPreparedDiscardPassdownPt2 is process_prepared_discard_passdown_pt2().
func (p *pool) processPreparedDiscardPassdownPt2(m *newMapping) {
	tc := m.tc
	if err := p.pmd.DecDataRange(m.dataBlock, m.dataBlock+(m.virtEnd-m.virtBegin)); err != nil {
		p.metadataOperationFailed("dm_pool_dec_data_range", err)
		endBio(m.bio, linuxerr.EIO)
	} else {
		endBio(m.bio, nil)
	}
	tc.cellDeferNoHolder(m.cell)
}

// scheduleCopy is schedule_copy(): copy len sectors of a block from
// (origin, dataOrigin) to the new block, zeroing the tail of a partial copy
// when zeroing is on; the bio itself fills a block it covers entirely.
func (tc *thinC) scheduleCopy(virtBlock uint64, origin dmsim.BlockDevice, dataOrigin, dataDest uint64,
	c *cell, bio *dmsim.Bio, length uint64) {
	p := tc.pool
	spb := p.sectorsPerBlock
	m := &newMapping{tc: tc, virtBegin: virtBlock, virtEnd: virtBlock + 1, dataBlock: dataDest, cell: c}
	// quiesce + copy + our own reference (we may add a zeroing step)
	m.prepareActions.Store(3)

	if !p.sharedReadDS.addWork(m) {
		p.completeMappingPreparation(m) // already quiesced
	}

	if tc.ioOverwritesBlock(bio) {
		tc.remapAndIssueOverwrite(bio, dataDest, m)
	} else {
		// I/O to the pool device is remapped to the data device: copy on
		// the data device directly.
		from := origin
		if from == tc.poolDev.Bdev {
			from = p.dataBdev
		}
		zeroTail := length < spb && p.zeroNewBlocks()
		if zeroTail {
			m.prepareActions.Add(1)
		}
		kcopydCopy(from, dataOrigin*spb, p.dataBdev, dataDest*spb, length, func(err error) { p.copyComplete(m, err) })
		if zeroTail {
			kcopydZero(p.dataBdev, dataDest*spb+length, spb-length, func(err error) { p.copyComplete(m, err) })
		}
	}
	p.completeMappingPreparation(m) // drop our reference
}

func (p *pool) zeroNewBlocks() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pf.zeroNewBlocks
}

// ioOverwritesBlock is io_overwrites_block().
func (tc *thinC) ioOverwritesBlock(bio *dmsim.Bio) bool {
	return bio.Op == dmsim.OpWrite && bio.Size() == tc.pool.sectorsPerBlock
}

// remapAndIssueOverwrite is remap_and_issue_overwrite(): the write that
// covers the whole new block is issued now; its completion is a preparation
// step of the mapping, and the bio itself completes once the mapping is in.
func (tc *thinC) remapAndIssueOverwrite(bio *dmsim.Bio, dataBlock uint64, m *newMapping) {
	m.bio = bio
	tc.incAllIOEntry(bio)
	spb := tc.pool.sectorsPerBlock
	clone := bio.Clone(0, bio.Size(), func(_ *dmsim.Bio, err error) {
		if err != nil {
			tc.pool.mu.Lock()
			if m.status == nil {
				m.status = err
			}
			tc.pool.mu.Unlock()
		}
		tc.pool.completeMappingPreparation(m) // overwrite_endio()
	})
	clone.Dev = tc.poolDev.Bdev
	clone.Sector = dataBlock*spb + bio.Sector%spb
	// dm core sends a PREFLUSH apart before the data (dm_io_complete()
	// resubmits the data without it); REQ_FUA stays on the write, which
	// goes through issue() as remap_and_issue() sends it: a FUA write of a
	// thin that changed waits for the worker's commit.
	clone.Flags &^= dmsim.ReqPreflush
	tc.issue(clone)
}

// scheduleInternalCopy is schedule_internal_copy().
func (tc *thinC) scheduleInternalCopy(virtBlock, dataOrigin, dataDest uint64, c *cell, bio *dmsim.Bio) {
	tc.scheduleCopy(virtBlock, tc.poolDev.Bdev, dataOrigin, dataDest, c, bio, tc.pool.sectorsPerBlock)
}

// scheduleZero is schedule_zero().
func (tc *thinC) scheduleZero(virtBlock, dataBlock uint64, c *cell, bio *dmsim.Bio) {
	p := tc.pool
	m := &newMapping{tc: tc, virtBegin: virtBlock, virtEnd: virtBlock + 1, dataBlock: dataBlock, cell: c}
	m.prepareActions.Store(1) // no need to quiesce

	if p.zeroNewBlocks() {
		if tc.ioOverwritesBlock(bio) {
			tc.remapAndIssueOverwrite(bio, dataBlock, m)
		} else {
			spb := p.sectorsPerBlock
			kcopydZero(p.dataBdev, dataBlock*spb, spb, func(err error) { p.copyComplete(m, err) })
		}
	} else {
		p.processPreparedMapping(m)
	}
}

// scheduleExternalCopy is schedule_external_copy(): the block's contents
// come from the external origin, as far as the origin reaches.
func (tc *thinC) scheduleExternalCopy(virtBlock, dataDest uint64, c *cell, bio *dmsim.Bio) {
	spb := tc.pool.sectorsPerBlock
	begin, end := virtBlock*spb, (virtBlock+1)*spb
	originSize := tc.getOriginSize()
	switch {
	case end <= originSize:
		tc.scheduleCopy(virtBlock, tc.originDev.Bdev, virtBlock, dataDest, c, bio, spb)
	case begin < originSize:
		tc.scheduleCopy(virtBlock, tc.originDev.Bdev, virtBlock, dataDest, c, bio, originSize-begin)
	default:
		tc.scheduleZero(virtBlock, dataDest, c, bio)
	}
}

// retryOnResume is retry_on_resume(): the bio waits for space.
func retryOnResume(bio *dmsim.Bio) {
	tc := hookOf(bio).tc
	tc.mu.Lock()
	tc.retryOnResume = append(tc.retryOnResume, bio)
	tc.mu.Unlock()
}

// shouldErrorUnserviceableBio is should_error_unserviceable_bio(): nil
// means queue the bio.
func (p *pool) shouldErrorUnserviceableBio() error {
	switch p.getMode() {
	case pmWrite:
		p.k.Log.DMErr("thin", "bio unserviceable, yet pool is in PM_WRITE mode")
		return linuxerr.EIO
	case pmOutOfDataSpace:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.pf.errorIfNoSpace {
			return linuxerr.ENOSPC
		}
		return nil
	default:
		return linuxerr.EIO
	}
}

// handleUnserviceableBio is handle_unserviceable_bio().
func (p *pool) handleUnserviceableBio(bio *dmsim.Bio) {
	if err := p.shouldErrorUnserviceableBio(); err != nil {
		endBio(bio, err)
	} else {
		retryOnResume(bio)
	}
}

// retryBiosOnResume is retry_bios_on_resume().
func (p *pool) retryBiosOnResume(c *cell) {
	if err := p.shouldErrorUnserviceableBio(); err != nil {
		p.cellErrorWithCode(c, err)
		return
	}
	for _, b := range p.prison.release(c) {
		retryOnResume(b)
	}
}

// processDiscardCellNoPassdown is process_discard_cell_no_passdown().
func (tc *thinC) processDiscardCellNoPassdown(virtCell *cell) {
	p := tc.pool
	m := &newMapping{tc: tc, virtBegin: virtCell.key.begin, virtEnd: virtCell.key.end, cell: virtCell, bio: virtCell.holder}
	if !p.allIODS.addWork(m) {
		p.processPreparedDiscardFn(m)
	}
}

// breakUpDiscardBio is break_up_discard_bio(): one mapping per run of
// contiguously mapped blocks, each locking its data blocks.
func (tc *thinC) breakUpDiscardBio(begin, end uint64, bio *dmsim.Bio) {
	p := tc.pool
	for begin != end {
		virtBegin, virtEnd, dataBegin, maybeShared, err := tc.td.FindMappedRange(begin, end)
		if err != nil {
			// Silently stop, letting the mappings made so far complete.
			break
		}
		key := cellKey{virtual: false, dev: tc.devID, begin: dataBegin, end: dataBegin + (virtEnd - virtBegin)}
		dataCell, held := p.prison.detain(key, nil)
		if held {
			// Contention: give up on this range.
			begin = virtEnd
			continue
		}
		m := &newMapping{tc: tc, maybeShared: maybeShared, virtBegin: virtBegin, virtEnd: virtEnd,
			dataBlock: dataBegin, cell: dataCell, bio: bio}
		bioIncRemaining(bio)
		if !p.allIODS.addWork(m) {
			p.processPreparedDiscardFn(m)
		}
		begin = virtEnd
	}
}

// processDiscardCellPassdown is process_discard_cell_passdown(): the
// virtual cell stays locked until the discard and all its passdowns
// complete (thin_endio releases it).
func (tc *thinC) processDiscardCellPassdown(virtCell *cell) {
	bio := virtCell.holder
	hookOf(bio).cell = virtCell
	tc.breakUpDiscardBio(virtCell.key.begin, virtCell.key.end, bio)
	endBio(bio, nil)
}

// processDiscardCellFn is pool->process_discard_cell for the current mode.
func (tc *thinC) processDiscardCellFn(c *cell) {
	p := tc.pool
	switch p.getMode() {
	case pmFail:
		p.cellError(c)
	case pmReadOnly, pmOutOfMetadataSpace:
		p.cellErrorWithCode(c, nil)
	default:
		if p.passdown() {
			tc.processDiscardCellPassdown(c)
		} else {
			tc.processDiscardCellNoPassdown(c)
		}
	}
}

// processDiscardBio is process_discard_bio(): only whole blocks are
// discarded.
func (tc *thinC) processDiscardBio(bio *dmsim.Bio) {
	begin, end := tc.getBioBlockRange(bio)
	if begin == end {
		// The discard covers less than a block.
		endBio(bio, nil)
		return
	}
	c, held := tc.pool.prison.detain(cellKey{virtual: true, dev: tc.devID, begin: begin, end: end}, bio)
	if held {
		return
	}
	tc.processDiscardCellFn(c)
}

// processDiscardFn is pool->process_discard for the current mode.
func (tc *thinC) processDiscardFn(bio *dmsim.Bio) {
	switch tc.pool.getMode() {
	case pmFail:
		endBio(bio, linuxerr.EIO)
	case pmReadOnly, pmOutOfMetadataSpace:
		endBio(bio, nil)
	default:
		tc.processDiscardBio(bio)
	}
}

// breakSharing is break_sharing(): a write to a shared block gets a copy.
func (tc *thinC) breakSharing(bio *dmsim.Bio, block uint64, lookup thinmeta.LookupResult, c *cell) {
	p := tc.pool
	dataBlock, err := p.allocDataBlock()
	switch {
	case err == nil:
		tc.scheduleInternalCopy(block, lookup.Block, dataBlock, c, bio)
	case errors.Is(err, linuxerr.ENOSPC):
		p.retryBiosOnResume(c)
	default:
		p.k.Log.DMErr("thin", "%s: alloc_data_block() failed: error = %d", "break_sharing", -int(linuxerr.ToErrno(err)))
		p.cellError(c)
	}
}

// remapAndIssueSharedCell is remap_and_issue_shared_cell(): reads of a
// shared block go ahead; writes wait for the sharing to be broken.
func (tc *thinC) remapAndIssueSharedCell(c *cell, block uint64) {
	p := tc.pool
	var deferBios, issueBios []*dmsim.Bio
	p.prison.visitRelease(c, func(c *cell) {
		for _, b := range c.bios {
			if b.Op == dmsim.OpWrite || isFlush(b) || b.Op == dmsim.OpDiscard {
				deferBios = append(deferBios, b)
			} else {
				if h := hookOf(b); h != nil {
					h.sharedReadEntry = p.sharedReadDS.inc()
				}
				tc.incAllIOEntry(b)
				issueBios = append(issueBios, b)
			}
		}
		c.bios = nil
	})
	for _, b := range deferBios {
		tc.thinDeferBio(b)
	}
	for _, b := range issueBios {
		tc.remapAndIssue(b, block)
	}
}

// processSharedBio is process_shared_bio().
func (tc *thinC) processSharedBio(bio *dmsim.Bio, block uint64, lookup thinmeta.LookupResult, virtCell *cell) {
	p := tc.pool
	dataCell, held := p.prison.detain(cellKey{virtual: false, dev: tc.devID, begin: lookup.Block, end: lookup.Block + 1}, bio)
	if held {
		// Sharing is already being broken.
		tc.cellDeferNoHolder(virtCell)
		return
	}
	if bio.Op == dmsim.OpWrite && bio.Size() > 0 {
		tc.breakSharing(bio, block, lookup, dataCell)
		tc.cellDeferNoHolder(virtCell)
	} else {
		if h := hookOf(bio); h != nil {
			h.sharedReadEntry = p.sharedReadDS.inc()
		}
		tc.incAllIOEntry(bio)
		tc.remapAndIssue(bio, lookup.Block)
		tc.remapAndIssueSharedCell(dataCell, lookup.Block)
		tc.remapAndIssueSharedCell(virtCell, lookup.Block)
	}
}

// zeroFillBio is zero_fill_bio().
func zeroFillBio(bio *dmsim.Bio) { clear(bio.Data) }

// provisionBlock is provision_block().
func (tc *thinC) provisionBlock(bio *dmsim.Bio, block uint64, c *cell) {
	p := tc.pool
	// Empty bios (flushes) go through without provisioning.
	if bio.Size() == 0 {
		tc.incAllIOEntry(bio)
		tc.cellDeferNoHolder(c)
		tc.remapAndIssue(bio, 0)
		return
	}
	// Reads of holes return zeroes.
	if bio.Op == dmsim.OpRead {
		zeroFillBio(bio)
		tc.cellDeferNoHolder(c)
		endBio(bio, nil)
		return
	}
	dataBlock, err := p.allocDataBlock()
	switch {
	case err == nil:
		if tc.originDev != nil {
			tc.scheduleExternalCopy(block, dataBlock, c, bio)
		} else {
			tc.scheduleZero(block, dataBlock, c, bio)
		}
	case errors.Is(err, linuxerr.ENOSPC):
		p.retryBiosOnResume(c)
	default:
		p.k.Log.DMErr("thin", "%s: alloc_data_block() failed: error = %d", "provision_block", -int(linuxerr.ToErrno(err)))
		p.cellError(c)
	}
}

// readFromOrigin serves a read of an unmapped block from the external
// origin; the part beyond the origin's end reads as zeroes (process_cell()).
func (tc *thinC) readFromOrigin(bio *dmsim.Bio) {
	originSize := tc.getOriginSize()
	switch {
	case bio.Sector+bio.Size() <= originSize:
		tc.remapToOriginAndIssue(bio)
	case bio.Sector < originSize:
		zeroFillBio(bio)
		part := bio.Clone(0, originSize-bio.Sector, func(_ *dmsim.Bio, err error) { endBio(bio, err) })
		part.Dev = tc.originDev.Bdev
		part.Dev.Submit(part)
	default:
		zeroFillBio(bio)
		endBio(bio, nil)
	}
}

// processCell is process_cell(): the worker's handling of a bio that holds
// its virtual block's cell, in write mode.
func (tc *thinC) processCell(c *cell) {
	p := tc.pool
	bio := c.holder
	block := tc.getBioBlock(bio)
	if tc.requeueMode.Load() {
		p.cellErrorWithCode(c, dmsim.ErrRequeue)
		return
	}
	lookup, err := tc.td.FindBlock(block, true)
	switch {
	case err == nil:
		if lookup.Shared {
			tc.processSharedBio(bio, block, lookup, c)
		} else {
			tc.incAllIOEntry(bio)
			tc.remapAndIssue(bio, lookup.Block)
			tc.incRemapAndIssueCell(c, lookup.Block)
		}
	case errors.Is(err, linuxerr.ENODATA):
		if bio.Op == dmsim.OpRead && tc.originDev != nil {
			tc.incAllIOEntry(bio)
			tc.cellDeferNoHolder(c)
			tc.readFromOrigin(bio)
		} else {
			tc.provisionBlock(bio, block, c)
		}
	default:
		p.k.Log.DMErr("thin", "%s: dm_thin_find_block() failed: error = %d", "process_cell", -int(linuxerr.ToErrno(err)))
		tc.cellDeferNoHolder(c)
		endBio(bio, linuxerr.EIO)
	}
}

// processBio is process_bio().
func (tc *thinC) processBio(bio *dmsim.Bio) {
	block := tc.getBioBlock(bio)
	c, held := tc.pool.prison.detain(cellKey{virtual: true, dev: tc.devID, begin: block, end: block + 1}, bio)
	if held {
		// The block is already being provisioned.
		return
	}
	tc.processCell(c)
}

// processBioReadOnly is __process_bio_read_only(): no metadata changes;
// writes that would need one are unserviceable.
func (tc *thinC) processBioReadOnly(bio *dmsim.Bio, c *cell) {
	p := tc.pool
	block := tc.getBioBlock(bio)
	lookup, err := tc.td.FindBlock(block, true)
	switch {
	case err == nil:
		if lookup.Shared && bio.Op == dmsim.OpWrite && bio.Size() > 0 {
			p.handleUnserviceableBio(bio)
			if c != nil {
				tc.cellDeferNoHolder(c)
			}
		} else {
			tc.incAllIOEntry(bio)
			tc.remapAndIssue(bio, lookup.Block)
			if c != nil {
				tc.incRemapAndIssueCell(c, lookup.Block)
			}
		}
	case errors.Is(err, linuxerr.ENODATA):
		if c != nil {
			tc.cellDeferNoHolder(c)
		}
		if bio.Op != dmsim.OpRead {
			p.handleUnserviceableBio(bio)
			break
		}
		if tc.originDev != nil {
			tc.incAllIOEntry(bio)
			tc.remapToOriginAndIssue(bio)
			break
		}
		zeroFillBio(bio)
		endBio(bio, nil)
	default:
		p.k.Log.DMErr("thin", "%s: dm_thin_find_block() failed: error = %d", "__process_bio_read_only", -int(linuxerr.ToErrno(err)))
		if c != nil {
			tc.cellDeferNoHolder(c)
		}
		endBio(bio, linuxerr.EIO)
	}
}

// processBioFn is pool->process_bio for the current mode.
func (tc *thinC) processBioFn(bio *dmsim.Bio) {
	switch tc.pool.getMode() {
	case pmWrite:
		tc.processBio(bio)
	case pmFail:
		endBio(bio, linuxerr.EIO)
	default:
		tc.processBioReadOnly(bio, nil)
	}
}

// processCellFn is pool->process_cell for the current mode.
func (tc *thinC) processCellFn(c *cell) {
	switch tc.pool.getMode() {
	case pmWrite:
		tc.processCell(c)
	case pmFail:
		tc.pool.cellError(c)
	default:
		tc.processBioReadOnly(c.holder, c)
	}
}

// processThinDeferredBios is process_thin_deferred_bios(): deferred bios
// are handled in sector order.
func (p *pool) processThinDeferredBios(tc *thinC) {
	if tc.requeueMode.Load() {
		tc.mu.Lock()
		bios := tc.deferredBios
		tc.deferredBios = nil
		tc.mu.Unlock()
		for _, b := range bios {
			endBio(b, dmsim.ErrRequeue)
		}
		return
	}
	tc.mu.Lock()
	bios := tc.deferredBios
	tc.deferredBios = nil
	tc.mu.Unlock()
	slices.SortStableFunc(bios, func(a, b *dmsim.Bio) int { return cmpU64(a.Sector, b.Sector) })
	for _, b := range bios {
		if b.Op == dmsim.OpDiscard {
			tc.processDiscardFn(b)
		} else {
			tc.processBioFn(b)
		}
	}
}

// processThinDeferredCells is process_thin_deferred_cells(): cells are
// handled in the order of their holders' sectors.
func (p *pool) processThinDeferredCells(tc *thinC) {
	tc.mu.Lock()
	cells := tc.deferredCells
	tc.deferredCells = nil
	tc.mu.Unlock()
	slices.SortStableFunc(cells, func(a, b *cell) int { return cmpU64(a.holder.Sector, b.holder.Sector) })
	for _, c := range cells {
		if c.holder.Op == dmsim.OpDiscard {
			tc.processDiscardCellFn(c)
		} else {
			tc.processCellFn(c)
		}
	}
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
