package thinmeta

import (
	"fmt"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// Kernel log levels (printk) used with the Logger hook.
const (
	LogErr  = 3
	LogWarn = 4
	LogInfo = 6
)

// Logger receives kernel log lines the metadata code prints: the printk
// level and the full text ("device-mapper: thin metadata: ...").
type Logger func(level int, msg string)

// Options configures Open.
type Options struct {
	// Log receives kernel log lines; nil discards them.
	Log Logger
	// CacheBytes bounds the block cache (default 64 MiB).
	CacheBytes int64
	// ReadOnlyDevice is bdev_read_only(): compat_ro features are then
	// not checked and the block manager starts read-only.
	ReadOnlyDevice bool
}

// LookupResult is struct dm_thin_lookup_result.
type LookupResult struct {
	Block  uint64
	Shared bool
}

// PoolMetadata is struct dm_pool_metadata.
type PoolMetadata struct {
	mu   sync.Mutex
	log  Logger
	dev  block.Device
	bm   *block.Manager
	sb   *sbValidator
	opts Options

	metaSM *spacemap.Metadata
	dataSM *spacemap.Disk
	tm     *transaction.Manager

	info, tlInfo, blInfo, detailsInfo btree.Info

	time          uint32
	root          uint64
	detailsRoot   uint64
	devices       []*ThinDevice // list order: newest first, as list_add
	transID       uint64
	flags         uint32
	dataBlockSize uint64

	preCommit func() error
	reserve   uint64
	failIO    bool
	inService bool

	thresholdSet bool
	threshold    uint64
	thresholdFn  func()
}

// ThinDevice is struct dm_thin_device.
type ThinDevice struct {
	pmd                *PoolMetadata
	id                 uint32
	openCount          int
	changed            bool
	abortedWithChanges bool
	mappedBlocks       uint64
	transactionID      uint64
	creationTime       uint32
	snapshottedTime    uint32
}

func (pmd *PoolMetadata) logf(level int, format string, a ...any) {
	if pmd.log != nil {
		pmd.log(level, "device-mapper: thin metadata: "+fmt.Sprintf(format, a...))
	}
}

func (pmd *PoolMetadata) setupBtreeDetails() {
	tm := pmd.tm
	dataSM := pmd.dataSM
	dataInc := func(v []byte, count int) {
		transaction.WithRuns(dataBlocks(v, count), dataSM.IncBlocks)
	}
	dataDec := func(v []byte, count int) {
		transaction.WithRuns(dataBlocks(v, count), dataSM.DecBlocks)
	}
	dataEqual := func(a, b []byte) bool {
		x, _ := UnpackBlockTime(le.Uint64(a))
		y, _ := UnpackBlockTime(le.Uint64(b))
		return x == y
	}
	pmd.info = btree.Info{TM: tm, Levels: 2, VT: btree.ValueType{Size: 8, Inc: dataInc, Dec: dataDec, Equal: dataEqual}}
	pmd.blInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: 8, Inc: dataInc, Dec: dataDec, Equal: dataEqual}}
	bl := &pmd.blInfo
	pmd.tlInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{
		Size: 8,
		// subtree_inc / subtree_dec / subtree_equal
		Inc: func(v []byte, count int) {
			for i := 0; i < count; i++ {
				tm.Inc(le.Uint64(v[8*i:]))
			}
		},
		Dec: func(v []byte, count int) {
			for i := 0; i < count; i++ {
				if err := btree.Del(bl, le.Uint64(v[8*i:])); err != nil {
					pmd.logf(LogErr, "btree delete failed")
				}
			}
		},
		Equal: func(a, b []byte) bool { return le.Uint64(a) == le.Uint64(b) },
	}}
	pmd.detailsInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: DetailsSize}}
}

func dataBlocks(v []byte, count int) []uint64 {
	out := make([]uint64, count)
	for i := range out {
		out[i], _ = UnpackBlockTime(le.Uint64(v[8*i:]))
	}
	return out
}

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

// writeInitialSuperblock is __write_initial_superblock.
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

// formatMetadata is __format_metadata.
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

// checkIncompatFeatures is __check_incompat_features.
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

// openMetadata is __open_metadata.
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

// openOrFormat is __open_or_format_metadata.
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

// beginTransaction is __begin_transaction: re-read the superblock.
func (pmd *PoolMetadata) beginTransaction() error {
	b, err := pmd.bm.ReadLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
	s := DecodeSuperblock(b.Data())
	pmd.bm.Unlock(b)
	pmd.time = s.Time
	pmd.root = s.DataMappingRoot
	pmd.detailsRoot = s.DeviceDetailsRoot
	pmd.transID = s.TransID
	pmd.flags = s.Flags
	pmd.dataBlockSize = uint64(s.DataBlockSize)
	return nil
}

// writeChangedDetails is __write_changed_details.
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

// commitTransaction is __commit_transaction.
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
	if err := pmd.tm.PreCommit(); err != nil {
		return err
	}
	droot, mroot := pmd.smRoots()
	b, err := pmd.bm.WriteLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
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

// Open is dm_pool_metadata_open: open the metadata on dev, formatting it
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
	pmd.bm = block.NewManager(dev, bmOpts...)
	if err := pmd.openOrFormat(format); err != nil {
		return nil, err
	}
	if err := pmd.beginTransaction(); err != nil {
		return nil, err
	}
	pmd.setMetadataReserve()
	return pmd, nil
}

// Close is dm_pool_metadata_close: EBUSY while thin devices are open;
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

// writeLock marks the pool in service (pmd_write_lock).
func (pmd *PoolMetadata) writeLock() {
	pmd.mu.Lock()
	pmd.inService = true
}

// openDevice is __open_device.
func (pmd *PoolMetadata) openDevice(dev uint32, create bool) (*ThinDevice, error) {
	for _, td := range pmd.devices {
		if td.id == dev {
			if create {
				return nil, linuxerr.EEXIST
			}
			td.openCount++
			return td, nil
		}
	}
	var v [DetailsSize]byte
	changed := false
	var details DeviceDetails
	err := btree.Lookup(&pmd.detailsInfo, pmd.detailsRoot, []uint64{uint64(dev)}, v[:])
	if err != nil {
		if err != linuxerr.ENODATA || !create {
			return nil, err
		}
		changed = true
		details = DeviceDetails{0, pmd.transID, pmd.time, pmd.time}
	} else {
		details = DecodeDetails(v[:])
	}
	td := &ThinDevice{pmd: pmd, id: dev, openCount: 1, changed: changed,
		mappedBlocks: details.MappedBlocks, transactionID: details.TransactionID,
		creationTime: details.CreationTime, snapshottedTime: details.SnapshottedTime}
	pmd.devices = append([]*ThinDevice{td}, pmd.devices...)
	return td, nil
}

func (pmd *PoolMetadata) removeDevice(td *ThinDevice) {
	for i, x := range pmd.devices {
		if x == td {
			pmd.devices = append(pmd.devices[:i:i], pmd.devices[i+1:]...)
			return
		}
	}
}

func le64(v uint64) []byte {
	var b [8]byte
	le.PutUint64(b[:], v)
	return b[:]
}

// createThin is __create_thin.
func (pmd *PoolMetadata) createThin(dev uint32) error {
	key := []uint64{uint64(dev)}
	if btree.Lookup(&pmd.detailsInfo, pmd.detailsRoot, key, nil) == nil {
		return linuxerr.EEXIST
	}
	devRoot, err := btree.Empty(&pmd.blInfo)
	if err != nil {
		return err
	}
	nr, _, err := btree.Insert(&pmd.tlInfo, pmd.root, key, le64(devRoot))
	if err != nil {
		btree.Del(&pmd.blInfo, devRoot)
		return err
	}
	pmd.root = nr
	td, err := pmd.openDevice(dev, true)
	if err != nil {
		if nr, err2 := btree.Remove(&pmd.tlInfo, pmd.root, key); err2 == nil {
			pmd.root = nr
		}
		btree.Del(&pmd.blInfo, devRoot)
		return err
	}
	td.openCount--
	return nil
}

// CreateThin is dm_pool_create_thin.
func (pmd *PoolMetadata) CreateThin(dev uint32) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.createThin(dev))
}

// createSnap is __create_snap.
func (pmd *PoolMetadata) createSnap(dev, origin uint32) error {
	devKey := []uint64{uint64(dev)}
	if btree.Lookup(&pmd.detailsInfo, pmd.detailsRoot, devKey, nil) == nil {
		return linuxerr.EEXIST
	}
	var v [8]byte
	if err := btree.Lookup(&pmd.tlInfo, pmd.root, []uint64{uint64(origin)}, v[:]); err != nil {
		return err
	}
	originRoot := le.Uint64(v[:])
	// Clone the origin: an extra reference on its subtree root.
	pmd.tm.Inc(originRoot)
	nr, _, err := btree.Insert(&pmd.tlInfo, pmd.root, devKey, le64(originRoot))
	if err != nil {
		pmd.tm.Dec(originRoot)
		return err
	}
	pmd.root = nr
	pmd.time++
	td, err := pmd.openDevice(dev, true)
	if err == nil {
		// __set_snapshot_details
		var o *ThinDevice
		if o, err = pmd.openDevice(origin, false); err == nil {
			o.changed = true
			o.snapshottedTime = pmd.time
			td.mappedBlocks = o.mappedBlocks
			td.snapshottedTime = pmd.time
			o.openCount--
		}
		td.openCount--
	}
	if err != nil {
		if nr, err2 := btree.Remove(&pmd.tlInfo, pmd.root, devKey); err2 == nil {
			pmd.root = nr
		}
		if nr, err2 := btree.Remove(&pmd.detailsInfo, pmd.detailsRoot, devKey); err2 == nil {
			pmd.detailsRoot = nr
		}
		return err
	}
	return nil
}

// CreateSnap is dm_pool_create_snap.
func (pmd *PoolMetadata) CreateSnap(dev, origin uint32) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.createSnap(dev, origin))
}

// DeleteThinDevice is dm_pool_delete_thin_device: EBUSY while open.
func (pmd *PoolMetadata) DeleteThinDevice(dev uint32) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	td, err := pmd.openDevice(dev, false)
	if err != nil {
		return linuxerr.Of(err)
	}
	if td.openCount > 1 {
		td.openCount--
		return linuxerr.EBUSY
	}
	pmd.removeDevice(td)
	key := []uint64{uint64(dev)}
	nr, err := btree.Remove(&pmd.detailsInfo, pmd.detailsRoot, key)
	if err != nil {
		return linuxerr.Of(err)
	}
	pmd.detailsRoot = nr
	if nr, err = btree.Remove(&pmd.tlInfo, pmd.root, key); err != nil {
		return linuxerr.Of(err)
	}
	pmd.root = nr
	return nil
}

// SetMetadataTransactionID is dm_pool_set_metadata_transaction_id.
func (pmd *PoolMetadata) SetMetadataTransactionID(current, new uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	if pmd.transID != current {
		pmd.logf(LogErr, "mismatched transaction id")
		return linuxerr.EINVAL
	}
	pmd.transID = new
	return nil
}

// MetadataTransactionID is dm_pool_get_metadata_transaction_id.
func (pmd *PoolMetadata) MetadataTransactionID() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.transID, nil
}

// reserveMetadataSnap is __reserve_metadata_snap.
func (pmd *PoolMetadata) reserveMetadataSnap() error {
	if err := pmd.commitTransaction(); err != nil {
		pmd.logf(LogWarn, "__reserve_metadata_snap: __commit_transaction() failed, error = -%d", linuxerr.ToErrno(err))
		return err
	}
	// Copy the superblock by shadowing it with an extra reference.
	pmd.metaSM.IncBlocks(SuperblockLocation, SuperblockLocation+1)
	cp, _, err := pmd.tm.ShadowBlock(SuperblockLocation, pmd.sb)
	if err != nil {
		return err
	}
	held := cp.Location()
	d := cp.Data()
	s := DecodeSuperblock(d)
	if s.HeldRoot != 0 {
		pmd.logf(LogWarn, "Pool metadata snapshot already exists: release this before taking another.")
		pmd.tm.Dec(held)
		pmd.tm.Unlock(cp)
		return linuxerr.EBUSY
	}
	// The space maps of the copy are not published.
	clear(d[64:320])
	pmd.tm.Inc(s.DataMappingRoot)
	pmd.tm.Inc(s.DeviceDetailsRoot)
	pmd.tm.Unlock(cp)
	sb, err := pmd.bm.WriteLock(SuperblockLocation, pmd.sb)
	if err != nil {
		pmd.tm.Dec(held)
		return err
	}
	le.PutUint64(sb.Data()[56:], held)
	pmd.bm.Unlock(sb)
	return nil
}

// ReserveMetadataSnap is dm_pool_reserve_metadata_snap.
func (pmd *PoolMetadata) ReserveMetadataSnap() error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.reserveMetadataSnap())
}

// ReleaseMetadataSnap is dm_pool_release_metadata_snap.
func (pmd *PoolMetadata) ReleaseMetadataSnap() error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	sb, err := pmd.bm.WriteLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return linuxerr.Of(err)
	}
	held := le.Uint64(sb.Data()[56:])
	le.PutUint64(sb.Data()[56:], 0)
	pmd.bm.Unlock(sb)
	if held == 0 {
		pmd.logf(LogWarn, "No pool metadata snapshot found: nothing to release.")
		return linuxerr.EINVAL
	}
	cp, err := pmd.tm.ReadLock(held, pmd.sb)
	if err != nil {
		return linuxerr.Of(err)
	}
	s := DecodeSuperblock(cp.Data())
	btree.Del(&pmd.info, s.DataMappingRoot)
	btree.Del(&pmd.detailsInfo, s.DeviceDetailsRoot)
	pmd.metaSM.DecBlocks(held, held+1)
	pmd.tm.Unlock(cp)
	return nil
}

// MetadataSnap is dm_pool_get_metadata_snap: the held root, 0 if none.
func (pmd *PoolMetadata) MetadataSnap() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	b, err := pmd.bm.ReadLock(SuperblockLocation, pmd.sb)
	if err != nil {
		return 0, linuxerr.Of(err)
	}
	held := le.Uint64(b.Data()[56:])
	pmd.bm.Unlock(b)
	return held, nil
}

// OpenThinDevice is dm_pool_open_thin_device.
func (pmd *PoolMetadata) OpenThinDevice(dev uint32) (*ThinDevice, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return nil, linuxerr.EINVAL
	}
	td, err := pmd.openDevice(dev, false)
	return td, linuxerr.Of(err)
}

// Close is dm_pool_close_thin_device.
func (td *ThinDevice) Close() error {
	td.pmd.mu.Lock()
	td.openCount--
	td.pmd.mu.Unlock()
	return nil
}

// ID is dm_thin_dev_id.
func (td *ThinDevice) ID() uint32 { return td.id }

func (td *ThinDevice) unpack(v uint64) LookupResult {
	b, t := UnpackBlockTime(v)
	// __snapshotted_since(): a mapping older than the device's last
	// snapshot may be shared.
	return LookupResult{Block: b, Shared: td.snapshottedTime > t}
}

func (td *ThinDevice) findBlock(block uint64) (LookupResult, error) {
	var v [8]byte
	pmd := td.pmd
	if err := btree.Lookup(&pmd.info, pmd.root, []uint64{uint64(td.id), block}, v[:]); err != nil {
		return LookupResult{}, linuxerr.Of(err)
	}
	return td.unpack(le.Uint64(v[:])), nil
}

// FindBlock is dm_thin_find_block: ENODATA when unmapped. canIssueIO is
// accepted for the kernel's signature; the lookup never returns
// EWOULDBLOCK.
func (td *ThinDevice) FindBlock(block uint64, canIssueIO bool) (LookupResult, error) {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	if td.pmd.failIO {
		return LookupResult{}, linuxerr.EINVAL
	}
	return td.findBlock(block)
}

// FindMappedRange is dm_thin_find_mapped_range: the first run of mapped
// blocks in [begin, end) with consecutive data blocks and one shared flag.
func (td *ThinDevice) FindMappedRange(begin, end uint64) (thinBegin, thinEnd, poolBegin uint64, maybeShared bool, err error) {
	pmd := td.pmd
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, 0, 0, false, linuxerr.EINVAL
	}
	if end < begin {
		return 0, 0, 0, false, linuxerr.ENODATA
	}
	var v [8]byte
	begin, err = btree.LookupNext(&pmd.info, pmd.root, []uint64{uint64(td.id), begin}, v[:])
	if err != nil {
		return 0, 0, 0, false, linuxerr.Of(err)
	}
	if begin >= end {
		return 0, 0, 0, false, linuxerr.ENODATA
	}
	first := td.unpack(le.Uint64(v[:]))
	thinBegin, poolBegin, maybeShared = begin, first.Block, first.Shared
	begin++
	poolEnd := poolBegin + 1
	for begin != end {
		r, err := td.findBlock(begin)
		if err == linuxerr.ENODATA {
			break
		}
		if err != nil {
			return 0, 0, 0, false, err
		}
		if r.Block != poolEnd || r.Shared != maybeShared {
			break
		}
		poolEnd++
		begin++
	}
	return thinBegin, begin, poolBegin, maybeShared, nil
}

// InsertBlock is dm_thin_insert_block: map block to dataBlock at the
// current time.
func (td *ThinDevice) InsertBlock(block, dataBlock uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	nr, inserted, err := btree.Insert(&pmd.info, pmd.root, []uint64{uint64(td.id), block}, le64(PackBlockTime(dataBlock, pmd.time)))
	if err != nil {
		return linuxerr.Of(err)
	}
	pmd.root = nr
	td.changed = true
	if inserted {
		td.mappedBlocks++
	}
	return nil
}

// RemoveBlock is dm_thin_remove_block.
func (td *ThinDevice) RemoveBlock(block uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	nr, err := btree.Remove(&pmd.info, pmd.root, []uint64{uint64(td.id), block})
	if err != nil {
		return linuxerr.Of(err)
	}
	pmd.root = nr
	td.mappedBlocks--
	td.changed = true
	return nil
}

// RemoveRange is dm_thin_remove_range: unmap every mapped block in
// [begin, end).
func (td *ThinDevice) RemoveRange(begin, end uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(td.removeRange(begin, end))
}

// removeRange is __remove_range: the subtree is detached from the top
// level (with an extra reference so it survives), trimmed, and put back.
func (td *ThinDevice) removeRange(begin, end uint64) error {
	pmd := td.pmd
	key := []uint64{uint64(td.id)}
	var v [8]byte
	if err := btree.Lookup(&pmd.tlInfo, pmd.root, key, v[:]); err != nil {
		return err
	}
	mappingRoot := le.Uint64(v[:])
	pmd.tm.Inc(mappingRoot)
	nr, err := btree.Remove(&pmd.tlInfo, pmd.root, key)
	if err != nil {
		return err
	}
	pmd.root = nr
	total := 0
	for begin < end {
		k, err := btree.LookupNext(&pmd.blInfo, mappingRoot, []uint64{begin}, v[:])
		if err == linuxerr.ENODATA {
			break
		}
		if err != nil {
			return err
		}
		begin = k
		if begin >= end {
			break
		}
		keys := []uint64{begin}
		nr, count, err := btree.RemoveLeaves(&pmd.blInfo, mappingRoot, keys, end)
		mappingRoot = nr
		if err != nil {
			return err
		}
		begin = keys[0]
		total += count
	}
	td.mappedBlocks -= uint64(total)
	td.changed = true
	nr, _, err = btree.Insert(&pmd.tlInfo, pmd.root, key, le64(mappingRoot))
	if err != nil {
		return err
	}
	pmd.root = nr
	return nil
}

// BlockIsShared is dm_pool_block_is_shared: the data block's count > 1.
func (pmd *PoolMetadata) BlockIsShared(b uint64) (bool, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return false, linuxerr.EINVAL
	}
	c, err := pmd.dataSM.GetCount(b)
	return c > 1, linuxerr.Of(err)
}

// IncDataRange is dm_pool_inc_data_range.
func (pmd *PoolMetadata) IncDataRange(b, e uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.dataSM.IncBlocks(b, e))
}

// DecDataRange is dm_pool_dec_data_range.
func (pmd *PoolMetadata) DecDataRange(b, e uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.dataSM.DecBlocks(b, e))
}

// ChangedThisTransaction is dm_thin_changed_this_transaction.
func (td *ThinDevice) ChangedThisTransaction() bool {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	return td.changed
}

// ChangedThisTransaction is dm_pool_changed_this_transaction.
func (pmd *PoolMetadata) ChangedThisTransaction() bool {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	for _, td := range pmd.devices {
		if td.changed {
			return true
		}
	}
	return false
}

// AbortedChanges is dm_thin_aborted_changes.
func (td *ThinDevice) AbortedChanges() bool {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	return td.abortedWithChanges
}

// AllocDataBlock is dm_pool_alloc_data_block.
func (pmd *PoolMetadata) AllocDataBlock() (uint64, error) {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	b, err := pmd.dataSM.NewBlock()
	return b, linuxerr.Of(err)
}

// CommitMetadata is dm_pool_commit_metadata. It does not itself put the
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

// AbortMetadata is dm_pool_abort_metadata: drop the open transaction and
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

// FreeBlockCount is dm_pool_get_free_block_count (data).
func (pmd *PoolMetadata) FreeBlockCount() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.dataSM.NrFree(), nil
}

// FreeMetadataBlockCount is dm_pool_get_free_metadata_block_count: the
// free count less the reserve.
func (pmd *PoolMetadata) FreeMetadataBlockCount() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	f := pmd.metaSM.NrFree()
	if f < pmd.reserve {
		return 0, nil
	}
	return f - pmd.reserve, nil
}

// MetadataReserve is the metadata reserve (min(4096, blocks/10)).
func (pmd *PoolMetadata) MetadataReserve() uint64 {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.reserve
}

// MetadataDevSize is dm_pool_get_metadata_dev_size (blocks).
func (pmd *PoolMetadata) MetadataDevSize() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.metaSM.NrBlocks(), nil
}

// DataDevSize is dm_pool_get_data_dev_size (blocks).
func (pmd *PoolMetadata) DataDevSize() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.dataSM.NrBlocks(), nil
}

// MappedCount is dm_thin_get_mapped_count.
func (td *ThinDevice) MappedCount() (uint64, error) {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	if td.pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return td.mappedBlocks, nil
}

// HighestMappedBlock is dm_thin_get_highest_mapped_block; ok is false when
// nothing is mapped.
func (td *ThinDevice) HighestMappedBlock() (highest uint64, ok bool, err error) {
	pmd := td.pmd
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, false, linuxerr.EINVAL
	}
	var v [8]byte
	if err := btree.Lookup(&pmd.tlInfo, pmd.root, []uint64{uint64(td.id)}, v[:]); err != nil {
		return 0, false, linuxerr.Of(err)
	}
	keys := make([]uint64, 1)
	n, err := btree.FindKey(&pmd.blInfo, le.Uint64(v[:]), true, keys)
	if err != nil {
		return 0, false, linuxerr.Of(err)
	}
	return keys[0], n > 0, nil
}

func (pmd *PoolMetadata) resizeSpaceMap(old, new uint64, extend func(uint64) error) error {
	if new == old {
		return nil
	}
	if new < old {
		pmd.logf(LogErr, "cannot reduce size of space map")
		return linuxerr.EINVAL
	}
	return linuxerr.Of(extend(new - old))
}

// ResizeDataDev is dm_pool_resize_data_dev (new size in data blocks).
func (pmd *PoolMetadata) ResizeDataDev(newCount uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return pmd.resizeSpaceMap(pmd.dataSM.NrBlocks(), newCount, pmd.dataSM.Extend)
}

// ResizeMetadataDev is dm_pool_resize_metadata_dev (new size in metadata
// blocks); the reserve is recomputed.
func (pmd *PoolMetadata) ResizeMetadataDev(newCount uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	err := pmd.resizeSpaceMap(pmd.metaSM.NrBlocks(), newCount, pmd.metaSM.Extend)
	if err == nil {
		pmd.setMetadataReserve()
	}
	return err
}

// SetReadOnly is dm_pool_metadata_read_only.
func (pmd *PoolMetadata) SetReadOnly() {
	pmd.mu.Lock()
	pmd.bm.SetReadOnly(true)
	pmd.mu.Unlock()
}

// SetReadWrite is dm_pool_metadata_read_write.
func (pmd *PoolMetadata) SetReadWrite() {
	pmd.mu.Lock()
	pmd.bm.SetReadOnly(false)
	pmd.mu.Unlock()
}

// RegisterMetadataThreshold is dm_pool_register_metadata_threshold: fn runs
// (edge triggered) when an allocation leaves at most threshold free
// metadata blocks. fn is called with the metadata lock held: it must not
// call back into the PoolMetadata.
func (pmd *PoolMetadata) RegisterMetadataThreshold(threshold uint64, fn func()) error {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	pmd.thresholdSet, pmd.threshold, pmd.thresholdFn = true, threshold, fn
	pmd.metaSM.RegisterThreshold(threshold, fn)
	return nil
}

// RegisterPreCommitCallback is dm_pool_register_pre_commit_callback.
func (pmd *PoolMetadata) RegisterPreCommitCallback(fn func() error) {
	pmd.mu.Lock()
	pmd.preCommit = fn
	pmd.mu.Unlock()
}

// SetNeedsCheck is dm_pool_metadata_set_needs_check: the flag goes into
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
	le.PutUint32(sb.Data()[4:], pmd.flags)
	pmd.bm.Unlock(sb)
	return nil
}

// NeedsCheck is dm_pool_metadata_needs_check.
func (pmd *PoolMetadata) NeedsCheck() bool {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.flags&NeedsCheckFlag != 0
}

// DataBlockSize is the data block size in sectors.
func (pmd *PoolMetadata) DataBlockSize() uint64 {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.dataBlockSize
}

// Time is the pool's snapshot time counter.
func (pmd *PoolMetadata) Time() uint32 {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.time
}

// UsedMetadataBlocks is what the pool status line prints as used
// metadata: total less the free count beyond the reserve.
func (pmd *PoolMetadata) UsedMetadataBlocks() (uint64, error) {
	free, err := pmd.FreeMetadataBlockCount()
	if err != nil {
		return 0, err
	}
	total, err := pmd.MetadataDevSize()
	if err != nil {
		return 0, err
	}
	return total - free, nil
}

// BlockManager exposes the block manager (stats, tests).
func (pmd *PoolMetadata) BlockManager() *block.Manager { return pmd.bm }
