package thin

import (
	"context"
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/internal/crashmut"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
	"github.com/dmsim/dmsim/thinmeta"
)

// poolC is struct pool_c: one thin-pool target of a table.
type poolC struct {
	ti                   *dmsim.DMTarget
	pool                 *pool
	dataDev, metadataDev *dmsim.DMDev
	lowWaterBlocks       uint64
	requested            poolFeatures // as the table asked
	adjusted             poolFeatures // after adjusting for the devices; under pool.mu
}

// parsePoolFeatures is parse_pool_features(): an optional group of at most
// four case-insensitive feature words.
func parsePoolFeatures(args []string, pf *poolFeatures) (errText string) {
	if len(args) == 0 {
		return ""
	}
	as := &table.ArgSet{Argv: args}
	n, err := table.Arg{Min: 0, Max: 4, Error: "Invalid number of pool feature arguments"}.ReadGroup(as, &errText)
	if err != nil {
		return errText
	}
	for _, w := range as.Argv[:n] {
		switch {
		case table.Strcasecmp(w, "skip_block_zeroing"):
			pf.zeroNewBlocks = false
		case table.Strcasecmp(w, "ignore_discard"):
			pf.discardEnabled = false
		case table.Strcasecmp(w, "no_discard_passdown"):
			pf.discardPassdown = false
		case table.Strcasecmp(w, "read_only"):
			pf.mode = pmReadOnly
		case table.Strcasecmp(w, "error_if_no_space"):
			pf.errorIfNoSpace = true
		default:
			return "Unrecognised pool feature requested"
		}
	}
	return ""
}

// parseBlockSize is pool_ctr()'s data block size check: kstrtoul, then
// 128 <= bs <= 2097152 and a multiple of 128.
func parseBlockSize(s string) (uint64, bool) {
	bs, err := table.Kstrtoull(s, 10)
	if err != nil || bs == 0 || bs < thinmeta.DataDevBlockSizeMinSectors || bs > thinmeta.DataDevBlockSizeMaxSectors || bs&(thinmeta.DataDevBlockSizeMinSectors-1) != 0 {
		return 0, false
	}
	return bs, true
}

// metadataDevSizeBlocks is get_metadata_dev_size_in_blocks(): the usable
// size is capped at THIN_METADATA_MAX_SECTORS.
func metadataDevSizeBlocks(bdev dmsim.BlockDevice) uint64 {
	return min(bdev.Size(), thinmeta.MetadataMaxSectors) / thinmeta.MetadataBlockSectors
}

// warnIfMetadataDeviceTooBig is warn_if_metadata_device_too_big().
func warnIfMetadataDeviceTooBig(log *dmsim.KernelLog, bdev dmsim.BlockDevice) {
	if bdev.Size() > thinmeta.MetadataMaxSectorsWarning {
		log.DMWarn("thin", "Metadata device %s is larger than %d sectors: excess space will not be used.",
			bdev.Name(), thinmeta.MetadataMaxSectors)
	}
}

// calcMetadataThreshold is calc_metadata_threshold(): from the current
// size of the metadata device.
func (pt *poolC) calcMetadataThreshold() uint64 {
	return min(1024, metadataDevSizeBlocks(pt.metadataDev.Bdev)/4)
}

// poolCtr is pool_ctr():
//
//	thin-pool <metadata dev> <data dev> <data block size> <low water mark> [<#features> <feature>...]
func poolCtr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	k := ti.Kernel()
	tbl := poolTableOf(k)
	tbl.mu.Lock()
	defer tbl.mu.Unlock()

	fail := func(text string, err error) (dmsim.Target, error) {
		if text != "" {
			ti.Error = text
		}
		return nil, err
	}

	if len(argv) < 4 {
		return fail("Invalid argument count", linuxerr.EINVAL)
	}
	// The metadata and data devices must differ (as strings).
	if argv[0] == argv[1] {
		return fail("Error setting metadata or data device", linuxerr.EINVAL)
	}
	pf := defaultFeatures()
	if text := parsePoolFeatures(argv[4:], &pf); text != "" {
		return fail(text, linuxerr.EINVAL)
	}

	mdMode := dmsim.FModeRead
	if pf.mode != pmReadOnly {
		mdMode |= dmsim.FModeWrite
	}
	metadataDev, err := ti.GetDevice(argv[0], mdMode)
	if err != nil {
		return fail("Error opening metadata block device", err)
	}
	warnIfMetadataDeviceTooBig(k.Log, metadataDev.Bdev)

	dataDev, err := ti.GetDevice(argv[1], dmsim.FModeRead|dmsim.FModeWrite)
	if err != nil {
		ti.PutDevice(metadataDev)
		return fail("Error getting data device", err)
	}
	putDevs := func() {
		ti.PutDevice(dataDev)
		ti.PutDevice(metadataDev)
	}

	blockSize, ok := parseBlockSize(argv[2])
	if !ok {
		putDevs()
		return fail("Invalid block size", linuxerr.EINVAL)
	}
	lowWater, err := table.Kstrtoull(argv[3], 10)
	if err != nil {
		putDevs()
		return fail("Invalid low water mark", linuxerr.EINVAL)
	}

	p, created, text, err := poolFind(k, tbl, ti.MD(), metadataDev.Bdev, dataDev.Bdev, blockSize, pf.mode == pmReadOnly)
	if err != nil {
		putDevs()
		return fail(text, err)
	}

	// Discard support is fixed by the table that created the pool object.
	p.mu.Lock()
	discardEnabled := p.pf.discardEnabled
	p.mu.Unlock()
	if !created && pf.discardEnabled != discardEnabled {
		p.dec()
		putDevs()
		return fail("Discard support cannot be disabled once enabled", linuxerr.EINVAL)
	}

	pt := &poolC{ti: ti, pool: p, metadataDev: metadataDev, dataDev: dataDev, lowWaterBlocks: lowWater,
		requested: pf, adjusted: pf}
	ti.NumFlushBios = 1
	// Only a pool that passes discards down takes them itself; thin
	// devices unmap on their own.
	if pf.discardEnabled && pf.discardPassdown {
		ti.NumDiscardBios = 1
		ti.DiscardsSupported = true
	}

	if err := p.pmd.RegisterMetadataThreshold(pt.calcMetadataThreshold(), p.metadataLowCallback); err != nil {
		p.dec()
		putDevs()
		return fail("Error registering metadata threshold", err)
	}
	// metadata_pre_commit_callback(): flush the data device before each
	// metadata commit.
	p.pmd.RegisterPreCommitCallback(func() error {
		if crashmut.On(crashmut.SkipDataFlush) {
			return nil
		}
		return flushDevice(p.k, p.dataBdev)
	})
	return pt, nil
}

// poolFind is __pool_find(): the pool of this metadata device, or of this
// mapped device, or a new one.
func poolFind(k *dmsim.Kernel, tbl *poolTable, md *dmsim.MappedDevice, mdBdev, dataBdev dmsim.BlockDevice,
	blockSize uint64, readOnly bool) (p *pool, created bool, errText string, err error) {
	if p = tbl.lookupMetadataDev(mdBdev.Dev()); p != nil {
		if p.poolMD != md {
			return nil, false, "metadata device already in use by a pool", linuxerr.EBUSY
		}
		if p.dataBdev.Dev() != dataBdev.Dev() {
			return nil, false, "data device already in use by a pool", linuxerr.EBUSY
		}
		p.inc()
		return p, false, "", nil
	}
	if p = tbl.lookup(md); p != nil {
		if p.mdBdev.Dev() != mdBdev.Dev() || p.dataBdev.Dev() != dataBdev.Dev() {
			return nil, false, "different pool cannot replace a pool", linuxerr.EINVAL
		}
		p.inc()
		return p, false, "", nil
	}
	p, errText, err = poolCreate(k, tbl, md, mdBdev, dataBdev, blockSize, readOnly)
	if err != nil {
		return nil, false, errText, err
	}
	return p, true, "", nil
}

// metadataLowCallback is metadata_low_callback().
func (p *pool) metadataLowCallback() {
	p.k.Log.DMWarn("thin", "%s: reached low water mark for metadata device: sending event.", p.name)
	p.tableEvent()
}

// Dtr is pool_dtr().
func (pt *poolC) Dtr() {
	p := pt.pool
	p.tbl.mu.Lock()
	defer p.tbl.mu.Unlock()
	p.mu.Lock()
	if p.ti == pt.ti { // unbind_control_target()
		p.ti, p.pt = nil, nil
	}
	p.mu.Unlock()
	p.dec()
	pt.ti.PutDevice(pt.metadataDev)
	pt.ti.PutDevice(pt.dataDev)
}

// Map is pool_map(): I/O to the pool device goes straight to the data
// device.
func (pt *poolC) Map(bio *dmsim.Bio) dmsim.MapResult {
	bio.Dev = pt.dataDev.Bdev
	return dmsim.MapRemapped
}

// maybeResizeDataDev is maybe_resize_data_dev(): the data space grows to
// the target's length at resume.
func (pt *poolC) maybeResizeDataDev() (needCommit bool, err error) {
	p := pt.pool
	dataSize := pt.ti.Len / p.sectorsPerBlock
	sbDataSize, err := p.pmd.DataDevSize()
	if err != nil {
		p.k.Log.DMErr("thin", "%s: failed to retrieve data device size", p.name)
		return false, err
	}
	switch {
	case dataSize < sbDataSize:
		p.k.Log.DMErr("thin", "%s: pool target (%d blocks) too small: expected %d", p.name, dataSize, sbDataSize)
		return false, linuxerr.EINVAL
	case dataSize > sbDataSize:
		if p.pmd.NeedsCheck() {
			p.k.Log.DMErr("thin", "%s: unable to grow the data device until repaired.", p.name)
			return false, nil
		}
		if sbDataSize != 0 {
			p.k.Log.DMInfo("thin", "%s: growing the data device from %d to %d blocks", p.name, sbDataSize, dataSize)
		}
		if err := p.pmd.ResizeDataDev(dataSize); err != nil {
			p.metadataOperationFailed("dm_pool_resize_data_dev", err)
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// maybeResizeMetadataDev is maybe_resize_metadata_dev(): the metadata
// space grows to the metadata device's current size at every resume.
func (pt *poolC) maybeResizeMetadataDev() (needCommit bool, err error) {
	p := pt.pool
	devSize := metadataDevSizeBlocks(p.mdBdev)
	sbSize, err := p.pmd.MetadataDevSize()
	if err != nil {
		p.k.Log.DMErr("thin", "%s: failed to retrieve metadata device size", p.name)
		return false, err
	}
	switch {
	case devSize < sbSize:
		p.k.Log.DMErr("thin", "%s: metadata device (%d blocks) too small: expected %d", p.name, devSize, sbSize)
		return false, linuxerr.EINVAL
	case devSize > sbSize:
		if p.pmd.NeedsCheck() {
			p.k.Log.DMErr("thin", "%s: unable to grow the metadata device until repaired.", p.name)
			return false, nil
		}
		warnIfMetadataDeviceTooBig(p.k.Log, p.mdBdev)
		p.k.Log.DMInfo("thin", "%s: growing the metadata device from %d to %d blocks", p.name, sbSize, devSize)
		if p.getMode() == pmOutOfMetadataSpace {
			p.setPoolMode(pmWrite)
		}
		if err := p.pmd.ResizeMetadataDev(devSize); err != nil {
			p.metadataOperationFailed("dm_pool_resize_metadata_dev", err)
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// bindControlTarget is bind_control_target(): the resumed table's
// features, low water mark and mode take over the pool.
func (pt *poolC) bindControlTarget() {
	p := pt.pool
	p.mu.Lock()
	oldMode := p.getMode()
	newMode := pt.adjusted.mode
	// The mode changes only in setPoolMode below.
	pt.adjusted.mode = oldMode
	p.ti, p.pt = pt.ti, pt
	p.pf = pt.adjusted
	p.lowWaterBlocks = pt.lowWaterBlocks
	p.mu.Unlock()
	p.setPoolMode(newMode)
}

// PreResume is pool_preresume().
func (pt *poolC) PreResume() error {
	p := pt.pool
	pt.bindControlTarget()
	c1, err := pt.maybeResizeDataDev()
	if err == nil {
		var c2 bool
		c2, err = pt.maybeResizeMetadataDev()
		if err == nil && (c1 || c2) {
			_ = p.commit()
		}
	}
	// A failed pool must resume so that its I/O can be flushed.
	if err != nil && p.getMode() == pmFail {
		err = nil
	}
	return err
}

// Resume is pool_resume().
func (pt *poolC) Resume() {
	p := pt.pool
	p.requeueBios()
	p.resumeActiveThins()
	p.mu.Lock()
	p.lowWaterTriggered = false
	p.suspended = false
	p.mu.Unlock()
	p.startWaker()
}

func (p *pool) suspendActiveThins() {
	for _, tc := range p.thins() {
		tc.thinMD.InternalSuspendNoflush()
		tc.refs.Done()
	}
}

func (p *pool) resumeActiveThins() {
	for _, tc := range p.thins() {
		tc.thinMD.InternalResume()
		tc.refs.Done()
	}
}

// PreSuspend is pool_presuspend(): the active thins are suspended with
// the pool.
func (pt *poolC) PreSuspend() {
	p := pt.pool
	p.mu.Lock()
	p.suspended = true
	p.mu.Unlock()
	p.suspendActiveThins()
}

// PreSuspendUndo is pool_presuspend_undo().
func (pt *poolC) PreSuspendUndo() {
	p := pt.pool
	p.resumeActiveThins()
	p.mu.Lock()
	p.suspended = false
	p.mu.Unlock()
}

// PostSuspend is pool_postsuspend(): stop the timers, drain the worker and
// commit.
func (pt *poolC) PostSuspend() {
	p := pt.pool
	p.stopWaker()
	p.cancelNoSpaceTimeout()
	_ = p.wq.Flush(context.Background())
	_ = p.commit()
}

// checkArgCount is check_arg_count().
func (p *pool) checkArgCount(argc, required int) error {
	if argc != required {
		p.k.Log.DMWarn("thin", "Message received with %d arguments instead of %d.", argc, required)
		return linuxerr.EINVAL
	}
	return nil
}

// readDevID is read_dev_id(): ids are 24 bits (MAX_DEV_ID).
func (p *pool) readDevID(arg string, warn bool) (uint32, error) {
	id, err := table.Kstrtoull(arg, 10)
	if err == nil && id <= thinmeta.MaxDevID {
		return uint32(id), nil
	}
	if warn {
		p.k.Log.DMWarn("thin", "Message received with invalid device id: %s", arg)
	}
	return 0, linuxerr.EINVAL
}

// Message is pool_message(): create_thin, create_snap, delete,
// set_transaction_id, reserve_metadata_snap, release_metadata_snap. A
// successful message commits.
func (pt *poolC) Message(argv []string) (string, error) {
	p := pt.pool
	if p.getMode() >= pmOutOfMetadataSpace {
		p.k.Log.DMErr("thin", "%s: unable to service pool target messages in READ_ONLY or FAIL mode", p.name)
		return "", linuxerr.EOPNOTSUPP
	}
	if len(argv) == 0 {
		return "", linuxerr.EINVAL
	}
	var err error
	switch name := argv[0]; {
	case table.Strcasecmp(name, "create_thin"):
		err = p.createThinMesg(argv)
	case table.Strcasecmp(name, "create_snap"):
		err = p.createSnapMesg(argv)
	case table.Strcasecmp(name, "delete"):
		err = p.deleteMesg(argv)
	case table.Strcasecmp(name, "set_transaction_id"):
		err = p.setTransactionIDMesg(argv)
	case table.Strcasecmp(name, "reserve_metadata_snap"):
		err = p.reserveMetadataSnapMesg(argv)
	case table.Strcasecmp(name, "release_metadata_snap"):
		err = p.releaseMetadataSnapMesg(argv)
	default:
		p.k.Log.DMWarn("thin", "Unrecognised thin pool target message received: %s", name)
		err = linuxerr.EINVAL
	}
	if err == nil {
		_ = p.commit()
	}
	return "", err
}

// createThinMesg is process_create_thin_mesg().
func (p *pool) createThinMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 2); err != nil {
		return err
	}
	id, err := p.readDevID(argv[1], true)
	if err != nil {
		return err
	}
	if err := p.pmd.CreateThin(id); err != nil {
		p.k.Log.DMWarn("thin", "Creation of new thinly-provisioned device with id %s failed.", argv[1])
		return err
	}
	return nil
}

// createSnapMesg is process_create_snap_mesg().
func (p *pool) createSnapMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 3); err != nil {
		return err
	}
	id, err := p.readDevID(argv[1], true)
	if err != nil {
		return err
	}
	origin, err := p.readDevID(argv[2], true)
	if err != nil {
		return err
	}
	if err := p.pmd.CreateSnap(id, origin); err != nil {
		p.k.Log.DMWarn("thin", "Creation of new snapshot %s of device %s failed.", argv[1], argv[2])
		return err
	}
	return nil
}

// deleteMesg is process_delete_mesg().
func (p *pool) deleteMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 2); err != nil {
		return err
	}
	id, err := p.readDevID(argv[1], true)
	if err != nil {
		return err
	}
	if err := p.pmd.DeleteThinDevice(id); err != nil {
		p.k.Log.DMWarn("thin", "Deletion of thin device %s failed.", argv[1])
		return err
	}
	return nil
}

// setTransactionIDMesg is process_set_transaction_id_mesg().
func (p *pool) setTransactionIDMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 3); err != nil {
		return err
	}
	oldID, err := table.Kstrtoull(argv[1], 10)
	if err != nil {
		p.k.Log.DMWarn("thin", "set_transaction_id message: Unrecognised id %s.", argv[1])
		return linuxerr.EINVAL
	}
	newID, err := table.Kstrtoull(argv[2], 10)
	if err != nil {
		p.k.Log.DMWarn("thin", "set_transaction_id message: Unrecognised new id %s.", argv[2])
		return linuxerr.EINVAL
	}
	if err := p.pmd.SetMetadataTransactionID(oldID, newID); err != nil {
		p.k.Log.DMWarn("thin", "Failed to change transaction id from %s to %s.", argv[1], argv[2])
		return err
	}
	return nil
}

// reserveMetadataSnapMesg is process_reserve_metadata_snap_mesg(): it
// commits first.
func (p *pool) reserveMetadataSnapMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 1); err != nil {
		return err
	}
	_ = p.commit()
	if err := p.pmd.ReserveMetadataSnap(); err != nil {
		p.k.Log.DMWarn("thin", "reserve_metadata_snap message failed.")
		return err
	}
	return nil
}

// releaseMetadataSnapMesg is process_release_metadata_snap_mesg().
func (p *pool) releaseMetadataSnapMesg(argv []string) error {
	if err := p.checkArgCount(len(argv), 1); err != nil {
		return err
	}
	if err := p.pmd.ReleaseMetadataSnap(); err != nil {
		p.k.Log.DMWarn("thin", "release_metadata_snap message failed.")
		return err
	}
	return nil
}

// emitFlags is emit_flags(): the requested features, in a fixed order,
// each followed by a space.
func emitFlags(b *strings.Builder, pf poolFeatures) {
	count := 0
	for _, on := range []bool{!pf.zeroNewBlocks, !pf.discardEnabled, !pf.discardPassdown, pf.mode == pmReadOnly, pf.errorIfNoSpace} {
		if on {
			count++
		}
	}
	fmt.Fprintf(b, "%d ", count)
	if !pf.zeroNewBlocks {
		b.WriteString("skip_block_zeroing ")
	}
	if !pf.discardEnabled {
		b.WriteString("ignore_discard ")
	}
	if !pf.discardPassdown {
		b.WriteString("no_discard_passdown ")
	}
	if pf.mode == pmReadOnly {
		b.WriteString("read_only ")
	}
	if pf.errorIfNoSpace {
		b.WriteString("error_if_no_space ")
	}
}

// Status is pool_status(). The INFO line commits first unless the request
// is noflush or the pool is suspended.
func (pt *poolC) Status(typ dmsim.StatusType, flags dmsim.StatusFlags) string {
	p := pt.pool
	var b strings.Builder
	switch typ {
	case dmsim.StatusInfo:
		if p.getMode() == pmFail {
			return "Fail"
		}
		if flags&dmsim.StatusNoFlush == 0 && !pt.ti.Suspended() {
			_ = p.commit()
		}
		fail := func(what string, err error) string {
			p.k.Log.DMErr("thin", "%s: %s returned %d", p.name, what, -int(linuxerr.ToErrno(err)))
			return "Error"
		}
		tid, err := p.pmd.MetadataTransactionID()
		if err != nil {
			return fail("dm_pool_get_metadata_transaction_id", err)
		}
		freeMeta, err := p.pmd.FreeMetadataBlockCount()
		if err != nil {
			return fail("dm_pool_get_free_metadata_block_count", err)
		}
		totalMeta, err := p.pmd.MetadataDevSize()
		if err != nil {
			return fail("dm_pool_get_metadata_dev_size", err)
		}
		freeData, err := p.pmd.FreeBlockCount()
		if err != nil {
			return fail("dm_pool_get_free_block_count", err)
		}
		totalData, err := p.pmd.DataDevSize()
		if err != nil {
			return fail("dm_pool_get_data_dev_size", err)
		}
		held, err := p.pmd.MetadataSnap()
		if err != nil {
			return fail("dm_pool_get_metadata_snap", err)
		}
		fmt.Fprintf(&b, "%d %d/%d %d/%d ", tid, totalMeta-freeMeta, totalMeta, totalData-freeData, totalData)
		if held != 0 {
			fmt.Fprintf(&b, "%d ", held)
		} else {
			b.WriteString("- ")
		}
		switch mode := p.getMode(); {
		case mode == pmOutOfDataSpace:
			b.WriteString("out_of_data_space ")
		case isReadOnlyMode(mode):
			b.WriteString("ro ")
		default:
			b.WriteString("rw ")
		}
		p.mu.Lock()
		pf := p.pf
		p.mu.Unlock()
		switch {
		case !pf.discardEnabled:
			b.WriteString("ignore_discard ")
		case pf.discardPassdown:
			b.WriteString("discard_passdown ")
		default:
			b.WriteString("no_discard_passdown ")
		}
		if pf.errorIfNoSpace {
			b.WriteString("error_if_no_space ")
		} else {
			b.WriteString("queue_if_no_space ")
		}
		if p.pmd.NeedsCheck() {
			b.WriteString("needs_check ")
		} else {
			b.WriteString("- ")
		}
		fmt.Fprintf(&b, "%d ", pt.calcMetadataThreshold())
	case dmsim.StatusTable:
		fmt.Fprintf(&b, "%s %s %d %d ", pt.metadataDev.Name, pt.dataDev.Name, p.sectorsPerBlock, pt.lowWaterBlocks)
		emitFlags(&b, pt.requested)
	}
	return b.String()
}

// IterateDevices is pool_iterate_devices(): the data device, for the whole
// target length.
func (pt *poolC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	return fn(pt.dataDev, 0, pt.ti.Len)
}

// IOHints is pool_io_hints().
func (pt *poolC) IOHints(l *dmsim.QueueLimits) {
	p := pt.pool
	spb := p.sectorsPerBlock
	ioOptSectors := uint64(l.IOOpt) >> 9

	// Lower max_sectors to the largest power of two dividing the block.
	if l.MaxSectors != 0 && uint64(l.MaxSectors) < spb {
		for spb%uint64(l.MaxSectors) != 0 {
			if l.MaxSectors&(l.MaxSectors-1) == 0 {
				l.MaxSectors--
			}
			l.MaxSectors = roundDownPow2(l.MaxSectors)
		}
	}
	// Keep stacked limits that already suit the block size.
	if ioOptSectors < spb || ioOptSectors%spb != 0 {
		if l.MaxSectors != 0 && spb%uint64(l.MaxSectors) == 0 {
			setIOMin(l, l.MaxSectors<<9)
		} else {
			setIOMin(l, uint32(spb<<9))
		}
		l.IOOpt = uint32(spb << 9)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if pt.adjusted.discardEnabled {
		pt.disableDiscardPassdownIfNotSupported()
		if !pt.adjusted.discardPassdown {
			l.MaxDiscardSectors = 0
		}
	} else {
		l.DiscardGranularity = 0
	}
}

// disableDiscardPassdownIfNotSupported is
// disable_discard_passdown_if_not_supported(); pool.mu is held.
func (pt *poolC) disableDiscardPassdownIfNotSupported() {
	if !pt.adjusted.discardPassdown {
		return
	}
	data := pt.dataDev.Bdev
	lim := data.Limits()
	reason := ""
	if !lim.DiscardSupported() {
		reason = "discard unsupported"
	} else if uint64(lim.MaxDiscardSectors) < pt.pool.sectorsPerBlock {
		reason = "max discard sectors smaller than a block"
	}
	if reason != "" {
		pt.pool.k.Log.DMWarn("thin", "Data device (%s) %s: Disabling discard passdown.", data.Name(), reason)
		pt.adjusted.discardPassdown = false
	}
}

// setIOMin is blk_limits_io_min().
func setIOMin(l *dmsim.QueueLimits, min uint32) {
	l.IOMin = min
	if l.IOMin < l.LogicalBlockSize {
		l.IOMin = l.LogicalBlockSize
	}
	if l.IOMin < l.PhysicalBlockSize {
		l.IOMin = l.PhysicalBlockSize
	}
}

func roundDownPow2(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	p := uint32(1)
	for p<<1 != 0 && p<<1 <= n {
		p <<= 1
	}
	return p
}
