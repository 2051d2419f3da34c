package thin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
	"github.com/dmsim/dmsim/thinmeta"
)

// thinC is struct thin_c: one thin target.
type thinC struct {
	ti                 *dmsim.DMTarget
	poolDev, originDev *dmsim.DMDev
	devID              uint64
	pool               *pool
	td                 *thinmeta.ThinDevice
	thinMD             *dmsim.MappedDevice

	requeueMode atomic.Bool
	// refs counts the pool's walks over its active thins that hold this
	// one; the destructor waits for them (thin_get/thin_put).
	refs sync.WaitGroup

	mu            sync.Mutex // tc->lock
	originSize    uint64
	deferredCells []*cell
	deferredBios  []*dmsim.Bio
	retryOnResume []*dmsim.Bio
}

func (tc *thinC) getOriginSize() uint64 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.originSize
}

// thinCtr is thin_ctr():
//
//	thin <pool dev> <dev id> [<external origin dev>]
func thinCtr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	k := ti.Kernel()
	tbl := poolTableOf(k)
	tbl.mu.Lock()
	defer tbl.mu.Unlock()

	fail := func(text string, err error) (dmsim.Target, error) {
		ti.Error = text
		return nil, err
	}
	if len(argv) != 2 && len(argv) != 3 {
		return fail("Invalid argument count", linuxerr.EINVAL)
	}
	tc := &thinC{ti: ti, thinMD: ti.MD()}
	putDevs := func() {
		if tc.poolDev != nil {
			ti.PutDevice(tc.poolDev)
		}
		if tc.originDev != nil {
			ti.PutDevice(tc.originDev)
		}
	}

	if len(argv) == 3 {
		if argv[0] == argv[2] {
			return fail("Error setting origin device", linuxerr.EINVAL)
		}
		od, err := ti.GetDevice(argv[2], dmsim.FModeRead)
		if err != nil {
			return fail("Error opening origin device", err)
		}
		tc.originDev = od
	}
	pd, err := ti.GetDevice(argv[0], ti.Table.Mode())
	if err != nil {
		putDevs()
		return fail("Error opening pool device", err)
	}
	tc.poolDev = pd

	// read_dev_id() without its warning.
	id, err := table.Kstrtoull(argv[1], 10)
	if err != nil || id > thinmeta.MaxDevID {
		putDevs()
		return fail("Invalid device id", linuxerr.EINVAL)
	}
	tc.devID = id

	poolMD := k.GetMD(pd.Bdev.Dev())
	if poolMD == nil {
		putDevs()
		return fail("Couldn't get pool mapped device", linuxerr.EINVAL)
	}
	p := tbl.lookup(poolMD)
	if p == nil {
		putDevs()
		return fail("Couldn't find pool object", linuxerr.EINVAL)
	}
	p.inc()
	tc.pool = p

	if p.getMode() == pmFail {
		p.dec()
		putDevs()
		return fail("Couldn't open thin device, Pool is in fail mode", linuxerr.EINVAL)
	}
	td, err := p.pmd.OpenThinDevice(uint32(id))
	if err != nil {
		p.dec()
		putDevs()
		return fail("Couldn't open thin internal device", err)
	}
	tc.td = td

	ti.MaxIOLen = p.sectorsPerBlock
	ti.NumFlushBios = 1
	ti.FlushSupported = true
	ti.PerBioData = newEndioHook // ti->per_io_data_size

	p.mu.Lock()
	if p.pf.discardEnabled {
		ti.DiscardsSupported = true
		ti.NumDiscardBios = 1
	}
	if p.suspended {
		p.mu.Unlock()
		_ = td.Close()
		p.dec()
		putDevs()
		return fail("Unable to activate thin device while pool is suspended", linuxerr.EINVAL)
	}
	p.activeThins = append(p.activeThins, tc)
	p.mu.Unlock()
	return tc, nil
}

// Dtr is thin_dtr().
func (tc *thinC) Dtr() {
	p := tc.pool
	p.mu.Lock()
	p.activeThins = slices.DeleteFunc(p.activeThins, func(x *thinC) bool { return x == tc })
	p.mu.Unlock()
	tc.refs.Wait()

	p.tbl.mu.Lock()
	defer p.tbl.mu.Unlock()
	p.dec()
	_ = tc.td.Close()
	tc.ti.PutDevice(tc.poolDev)
	if tc.originDev != nil {
		tc.ti.PutDevice(tc.originDev)
	}
}

// Map is thin_map() and thin_bio_map(): bios to mapped, unshared blocks
// are remapped here; everything else goes to the pool's worker.
func (tc *thinC) Map(bio *dmsim.Bio) dmsim.MapResult {
	bio.Sector -= tc.ti.Begin // dm_target_offset()
	thinHookBio(tc, bio)
	p := tc.pool

	if tc.requeueMode.Load() {
		return dmsim.MapRequeue
	}
	if p.getMode() == pmFail {
		return dmsim.MapKill
	}
	if isFlush(bio) || bio.Op == dmsim.OpDiscard {
		tc.thinDeferBio(bio)
		return dmsim.MapSubmitted
	}

	// Hold the virtual cell before the lookup: a discard may be racing.
	block := tc.getBioBlock(bio)
	virtCell, held := p.prison.detain(cellKey{virtual: true, dev: tc.devID, begin: block, end: block + 1}, bio)
	if held {
		return dmsim.MapSubmitted
	}
	res, err := tc.td.FindBlock(block, false)
	switch {
	case err == nil:
		if res.Shared {
			tc.thinDeferCell(virtCell)
			return dmsim.MapSubmitted
		}
		dataCell, held := p.prison.detain(cellKey{virtual: false, dev: tc.devID, begin: res.Block, end: res.Block + 1}, bio)
		if held {
			tc.cellDeferNoHolder(virtCell)
			return dmsim.MapSubmitted
		}
		tc.incAllIOEntry(bio)
		tc.cellDeferNoHolderFree(dataCell)
		tc.cellDeferNoHolderFree(virtCell)
		tc.remap(bio, res.Block)
		return dmsim.MapRemapped
	case errors.Is(err, linuxerr.ENODATA), errors.Is(err, linuxerr.EAGAIN):
		tc.thinDeferCell(virtCell)
		return dmsim.MapSubmitted
	default:
		endBio(bio, linuxerr.EIO)
		tc.cellDeferNoHolder(virtCell)
		return dmsim.MapSubmitted
	}
}

// EndIO is thin_endio(): I/O that completed may let a copy or a discard
// proceed.
func (tc *thinC) EndIO(bio *dmsim.Bio, err error) (error, bool) {
	h := hookOf(bio)
	if h == nil {
		return err, false
	}
	p := tc.pool
	if e := h.sharedReadEntry; e != nil {
		h.sharedReadEntry = nil
		for _, m := range p.sharedReadDS.dec(e) {
			p.completeMappingPreparation(m)
		}
	}
	if e := h.allIOEntry; e != nil {
		h.allIOEntry = nil
		if work := p.allIODS.dec(e); len(work) > 0 {
			p.mu.Lock()
			p.preparedDiscards = append(p.preparedDiscards, work...)
			p.mu.Unlock()
			p.wakeWorker()
		}
	}
	if c := h.cell; c != nil {
		h.cell = nil
		tc.cellDeferNoHolder(c)
	}
	return err, false
}

// noflushWork is noflush_work(): run fn on the pool's worker and wait.
func (tc *thinC) noflushWork(fn func()) {
	p := tc.pool
	ev := p.k.Clock.NewEvent()
	if !p.wq.Queue(func() { fn(); ev.Fire(nil) }) {
		fn()
		return
	}
	_ = ev.Wait(context.Background())
}

// requeueIO is requeue_io(): deferred and held bios go back to the core,
// which resubmits them after the resume.
func (tc *thinC) requeueIO() {
	tc.mu.Lock()
	bios := append(tc.deferredBios, tc.retryOnResume...)
	cells := tc.deferredCells
	tc.deferredBios, tc.retryOnResume, tc.deferredCells = nil, nil, nil
	tc.mu.Unlock()
	for _, b := range bios {
		endBio(b, dmsim.ErrRequeue)
	}
	for _, c := range cells {
		tc.pool.cellErrorWithCode(c, dmsim.ErrRequeue)
	}
}

// PreSuspend is thin_presuspend(): a noflush suspend requeues the held
// I/O instead of completing it.
func (tc *thinC) PreSuspend() {
	if tc.ti.NoflushSuspending() {
		tc.noflushWork(func() { // do_noflush_start()
			tc.requeueMode.Store(true)
			tc.requeueIO()
		})
	}
}

// PostSuspend is thin_postsuspend().
func (tc *thinC) PostSuspend() {
	tc.noflushWork(func() { tc.requeueMode.Store(false) }) // do_noflush_stop()
}

// PreResume is thin_preresume(): the external origin's size is sampled.
func (tc *thinC) PreResume() error {
	if tc.originDev != nil {
		tc.mu.Lock()
		tc.originSize = tc.originDev.Bdev.Size()
		tc.mu.Unlock()
	}
	return nil
}

// Status is thin_status().
func (tc *thinC) Status(typ dmsim.StatusType, flags dmsim.StatusFlags) string {
	p := tc.pool
	if p.getMode() == pmFail {
		return "Fail"
	}
	switch typ {
	case dmsim.StatusInfo:
		mapped, err := tc.td.MappedCount()
		if err != nil {
			p.k.Log.DMErr("thin", "dm_thin_get_mapped_count returned %d", -int(linuxerr.ToErrno(err)))
			return "Error"
		}
		highest, ok, err := tc.td.HighestMappedBlock()
		if err != nil {
			p.k.Log.DMErr("thin", "dm_thin_get_highest_mapped_block returned %d", -int(linuxerr.ToErrno(err)))
			return "Error"
		}
		spb := p.sectorsPerBlock
		if ok {
			return fmt.Sprintf("%d %d", mapped*spb, (highest+1)*spb-1)
		}
		return fmt.Sprintf("%d -", mapped*spb)
	case dmsim.StatusTable:
		s := fmt.Sprintf("%s %d", tc.poolDev.Name, tc.devID)
		if tc.originDev != nil {
			s += " " + tc.originDev.Name
		}
		return s
	}
	return ""
}

// IterateDevices is thin_iterate_devices(): the pool device, as far as the
// bound pool target's whole blocks reach.
func (tc *thinC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	p := tc.pool
	p.mu.Lock()
	ti := p.ti
	p.mu.Unlock()
	if ti == nil {
		return nil
	}
	if blocks := ti.Len / p.sectorsPerBlock; blocks > 0 {
		return fn(tc.poolDev, 0, p.sectorsPerBlock*blocks)
	}
	return nil
}

// IOHints is thin_io_hints().
func (tc *thinC) IOHints(l *dmsim.QueueLimits) {
	p := tc.pool
	p.mu.Lock()
	enabled := p.pf.discardEnabled
	p.mu.Unlock()
	if enabled {
		l.DiscardGranularity = uint32(p.sectorsPerBlock << 9)
		l.MaxDiscardSectors = thinMaxDiscardSectors
	}
}
