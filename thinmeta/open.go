// dm-thin-metadata.c, open to close: format, superblock, transactions, commit, abort, read-only, needs_check.

package thinmeta

import (
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

func (pmd *PoolMetadata) superblockAllZeroes() (bool, error) {
	b, err := pmd.bm.ReadLock(SuperblockLocation, nil)
	if err != nil {
		return false, err
	}
	defer pmd.bm.Unlock(b)
	for _, c := range b.Data() {
		if c != 0 {
			return false, nil
		}
	}
	return true, nil
}

func (pmd *PoolMetadata) smRoots() ([smRootSize]byte, [smRootSize]byte) {
	var d, m [smRootSize]byte
	pmd.dataSM.Root().Encode(d[:])
	pmd.metaSM.Root().Encode(m[:])
	return d, m
}

// writeInitialSuperblock is __write_initial_superblock().
func (pmd *PoolMetadata) writeInitialSuperblock() error {
	size := uint64(pmd.dev.Size()) >> 9
	if size > MetadataMaxSectors {
		size = MetadataMaxSectors
	}
	if err := pmd.dataSM.Commit(); err != nil {
		return err
	}
	if err := pmd.tm.PreCommit(); err != nil {
		return err
	}
	droot, mroot := pmd.smRoots()
	b, err := pmd.bm.WriteLockZero(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
	s := Superblock{
		Magic:             SuperblockMagic,
		Version:           Version,
		DataSMRoot:        droot,
		MetadataSMRoot:    mroot,
		DataMappingRoot:   pmd.root,
		DeviceDetailsRoot: pmd.detailsRoot,
		MetadataBlockSize: MetadataBlockSectors,
		MetadataNrBlocks:  size / MetadataBlockSectors,
		DataBlockSize:     uint32(pmd.dataBlockSize),
	}
	s.Encode(b.Data())
	return pmd.tm.Commit(b)
}

// formatMetadata is __format_metadata().
func (pmd *PoolMetadata) formatMetadata() error {
	tm, msm, err := spacemap.CreateMetadata(pmd.bm, SuperblockLocation)
	if err != nil {
		pmd.logf(LogErr, "tm_create_with_sm failed")
		return err
	}
	pmd.tm, pmd.metaSM = tm, msm
	msm.Log = pmd.log
	if pmd.dataSM, err = spacemap.CreateDisk(tm, 0); err != nil {
		pmd.logf(LogErr, "sm_disk_create failed")
		return err
	}
	pmd.setupBtreeDetails()
	if pmd.root, err = btree.Empty(&pmd.info); err != nil {
		return err
	}
	if pmd.detailsRoot, err = btree.Empty(&pmd.detailsInfo); err != nil {
		pmd.logf(LogErr, "couldn't create devices root")
		return err
	}
	return pmd.writeInitialSuperblock()
}

// checkIncompatFeatures is __check_incompat_features().
func (pmd *PoolMetadata) checkIncompatFeatures(s *Superblock) error {
	if f := s.IncompatFlags &^ FeatureIncompatSupp; f != 0 {
		pmd.logf(LogErr, "could not access metadata due to unsupported optional features (%x).", f)
		return linuxerr.EINVAL
	}
	if pmd.opts.ReadOnlyDevice {
		return nil
	}
	if f := s.CompatROFlags &^ FeatureCompatROSupp; f != 0 {
		pmd.logf(LogErr, "could not access metadata RDWR due to unsupported optional features (%x).", f)
		return linuxerr.EINVAL
	}
	return nil
}

// openMetadata is __open_metadata().
func (pmd *PoolMetadata) openMetadata() error {
	b, err := pmd.bm.ReadLock(SuperblockLocation, pmd.sb)
	if err != nil {
		pmd.logf(LogErr, "couldn't read superblock")
		return err
	}
	s := DecodeSuperblock(b.Data())
	pmd.bm.Unlock(b)
	if uint64(s.DataBlockSize) != pmd.dataBlockSize {
		pmd.logf(LogErr, "changing the data block size (from %d to %d) is not supported", s.DataBlockSize, pmd.dataBlockSize)
		return linuxerr.EINVAL
	}
	if err := pmd.checkIncompatFeatures(&s); err != nil {
		return err
	}
	tm, msm, err := spacemap.OpenMetadata(pmd.bm, s.MetadataSpaceMap())
	if err != nil {
		pmd.logf(LogErr, "tm_open_with_sm failed")
		return err
	}
	pmd.tm, pmd.metaSM = tm, msm
	msm.Log = pmd.log
	// As in the kernel, a threshold registered before an abort is not
	// carried over to the reopened space map.
	if pmd.dataSM, err = spacemap.OpenDisk(tm, s.DataSpaceMap()); err != nil {
		pmd.logf(LogErr, "sm_disk_open failed")
		return err
	}
	pmd.root = s.DataMappingRoot
	pmd.detailsRoot = s.DeviceDetailsRoot
	pmd.setupBtreeDetails()
	return nil
}

// openOrFormat is __open_or_format_metadata().
func (pmd *PoolMetadata) openOrFormat(format bool) error {
	zero, err := pmd.superblockAllZeroes()
	if err != nil {
		return err
	}
	if zero {
		if !format {
			return linuxerr.EPERM
		}
		return pmd.formatMetadata()
	}
	return pmd.openMetadata()
}

// beginTransaction is __begin_transaction(): re-read the superblock.
func (pmd *PoolMetadata) beginTransaction() error {
	b, err := pmd.bm.ReadLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
	s := DecodeSuperblock(b.Data())
	pmd.bm.Unlock(b)
	pmd.time = s.Time
	pmd.mapGen++
	pmd.root = s.DataMappingRoot
	pmd.detailsRoot = s.DeviceDetailsRoot
	pmd.transID = s.TransID
	pmd.flags = s.Flags
	pmd.dataBlockSize = uint64(s.DataBlockSize)
	return nil
}

// writeChangedDetails is __write_changed_details().
func (pmd *PoolMetadata) writeChangedDetails() error {
	keep := pmd.devices[:0:0]
	var firstErr error
	for i, td := range pmd.devices {
		if firstErr != nil || !td.changed {
			keep = append(keep, td)
			continue
		}
		var v [DetailsSize]byte
		DeviceDetails{td.mappedBlocks, td.transactionID, td.creationTime, td.snapshottedTime}.Encode(v[:])
		nr, _, err := btree.Insert(&pmd.detailsInfo, pmd.detailsRoot, []uint64{uint64(td.id)}, v[:])
		if err != nil {
			firstErr = err
			keep = append(keep, pmd.devices[i:]...)
			break
		}
		pmd.detailsRoot = nr
		if td.openCount > 0 {
			td.changed = false
			keep = append(keep, td)
		}
	}
	pmd.devices = keep
	return firstErr
}

// commitTransaction is __commit_transaction().
func (pmd *PoolMetadata) commitTransaction() error {
	if !pmd.inService {
		return nil
	}
	if pmd.preCommit != nil {
		if err := pmd.preCommit(); err != nil {
			pmd.logf(LogErr, "pre-commit callback failed")
			return err
		}
	}
	if err := pmd.writeChangedDetails(); err != nil {
		return err
	}
	if err := pmd.dataSM.Commit(); err != nil {
		return err
	}
	// The superblock's lock is taken before the pre-commit flush, so that
	// flush leaves a superblock dirtied earlier in the transaction (the
	// held root that __reserve_metadata_snap() and
	// __release_metadata_snap() set in place) to the commit's last write.
	// The source takes the lock after dm_tm_pre_commit(), but 6.1 never
	// writes such a superblock before the flush: its bio logs show the
	// held root first reaching the disk in the final superblock, in one
	// write (goldens/logs/icount: meta-place-*, dmsetup-message).
	b, err := pmd.bm.WriteLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
	if err := pmd.tm.PreCommit(); err != nil {
		pmd.bm.Unlock(b)
		return err
	}
	droot, mroot := pmd.smRoots()
	d := b.Data()
	s := DecodeSuperblock(d)
	s.Time = pmd.time
	s.DataMappingRoot = pmd.root
	s.DeviceDetailsRoot = pmd.detailsRoot
	s.TransID = pmd.transID
	s.Flags = pmd.flags
	s.DataSMRoot, s.MetadataSMRoot = droot, mroot
	s.Encode(d)
	return pmd.tm.Commit(b)
}

func (pmd *PoolMetadata) setMetadataReserve() {
	total := pmd.metaSM.NrBlocks()
	pmd.reserve = total / 10
	if pmd.reserve > 4096 {
		pmd.reserve = 4096
	}
}

// Open is dm_pool_metadata_open(): open the metadata on dev, formatting it
// first when its superblock is all zeroes and format is set.
// dataBlockSize is in 512-byte sectors.
func Open(dev block.Device, dataBlockSize uint64, format bool, opts Options) (*PoolMetadata, error) {
	pmd := &PoolMetadata{log: opts.Log, dev: dev, opts: opts, dataBlockSize: dataBlockSize}
	pmd.sb = &sbValidator{log: opts.Log}
	var bmOpts []block.Option
	if opts.CacheBytes > 0 {
		bmOpts = append(bmOpts, block.WithCacheBytes(opts.CacheBytes))
	}
	if opts.ReadOnlyDevice {
		bmOpts = append(bmOpts, block.ReadOnly())
	}
	if opts.Log != nil {
		bmOpts = append(bmOpts, block.WithLog(opts.Log))
	}
	pmd.bm = block.NewManager(dev, bmOpts...)
	if err := pmd.openOrFormat(format); err != nil {
		// __create_persistent_data_objects(): dm_block_manager_destroy()
		// writes what a failed format left dirty (no flush follows).
		pmd.bm.Close()
		return nil, err
	}
	if err := pmd.beginTransaction(); err != nil {
		return nil, err
	}
	pmd.setMetadataReserve()
	return pmd, nil
}

// Close is dm_pool_metadata_close(): EBUSY while thin devices are open;
// otherwise commit (unless failed or read-only) and release everything.
// As in the kernel, closed thin devices are dropped before that commit,
// so changes made through them since the last commit are lost: commit
// first (the pool commits when it is suspended).
func (pmd *PoolMetadata) Close() error {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	open := 0
	keep := pmd.devices[:0:0]
	for _, td := range pmd.devices {
		if td.openCount > 0 {
			open++
			keep = append(keep, td)
		}
	}
	pmd.devices = keep
	if open > 0 {
		pmd.logf(LogErr, "attempt to close pmd when %d device(s) are still open", open)
		return linuxerr.EBUSY
	}
	if !pmd.failIO && !pmd.bm.IsReadOnly() {
		if err := pmd.commitTransaction(); err != nil {
			pmd.logf(LogWarn, "dm_pool_metadata_close: __commit_transaction() failed, error = -%d", linuxerr.ToErrno(err))
		}
	}
	pmd.failIO = true
	pmd.bm.Close()
	return nil
}

// writeLock marks the pool in service (pmd_write_lock()).
func (pmd *PoolMetadata) writeLock() {
	pmd.mu.Lock()
	pmd.inService = true
	pmd.mapGen++
}

// CommitMetadata is dm_pool_commit_metadata(). It does not itself put the
// pool in service: before any modifying call it writes nothing.
func (pmd *PoolMetadata) CommitMetadata() error {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	if err := pmd.commitTransaction(); err != nil {
		return linuxerr.Of(err)
	}
	return linuxerr.Of(pmd.beginTransaction())
}

// AbortMetadata is dm_pool_abort_metadata(): drop the open transaction and
// reopen the last committed one. Failure leaves the metadata failed.
func (pmd *PoolMetadata) AbortMetadata() error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	for _, td := range pmd.devices {
		td.abortedWithChanges = td.changed
	}
	pmd.tm.WipeShadows()
	pmd.bm.Reset()
	if err := pmd.openOrFormat(false); err != nil {
		pmd.failIO = true
		return linuxerr.Of(err)
	}
	return nil
}

// SetReadOnly is dm_pool_metadata_read_only().
func (pmd *PoolMetadata) SetReadOnly() {
	pmd.mu.Lock()
	pmd.bm.SetReadOnly(true)
	pmd.mu.Unlock()
}

// SetReadWrite is dm_pool_metadata_read_write().
func (pmd *PoolMetadata) SetReadWrite() {
	pmd.mu.Lock()
	pmd.bm.SetReadOnly(false)
	pmd.mu.Unlock()
}

// RegisterPreCommitCallback is dm_pool_register_pre_commit_callback().
func (pmd *PoolMetadata) RegisterPreCommitCallback(fn func() error) {
	pmd.mu.Lock()
	pmd.preCommit = fn
	pmd.mu.Unlock()
}

// SetNeedsCheck is dm_pool_metadata_set_needs_check(): the flag goes into
// the cached superblock at once (it reaches disk with the next write).
func (pmd *PoolMetadata) SetNeedsCheck() error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	pmd.flags |= NeedsCheckFlag
	sb, err := pmd.bm.WriteLock(SuperblockLocation, pmd.sb)
	if err != nil {
		pmd.logf(LogErr, "couldn't lock superblock")
		return linuxerr.Of(err)
	}
	le.PutUint32(sb.Data()[sbFlags:], pmd.flags)
	pmd.bm.Unlock(sb)
	return nil
}

// NeedsCheck is dm_pool_metadata_needs_check().
func (pmd *PoolMetadata) NeedsCheck() bool {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.flags&NeedsCheckFlag != 0
}

// BlockManager exposes the block manager (stats, tests).
func (pmd *PoolMetadata) BlockManager() *block.Manager { return pmd.bm }
