package thin

import (
	"context"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/thinmeta"
)

// openThinmeta is dm_pool_metadata_open() on the thinmeta package, with
// the metadata device reached through bios.
func openThinmeta(k *dmsim.Kernel, bdev dmsim.BlockDevice, dataBlockSize uint32, format bool) (Metadata, error) {
	dev := &bdevDevice{bdev: bdev, clock: k.Clock}
	pmd, err := thinmeta.Open(dev, uint64(dataBlockSize), format, thinmeta.Options{
		Log:            func(level int, msg string) { k.Log.Printk(level, "%s", msg) },
		ReadOnlyDevice: bdev.ReadOnly(),
	})
	if err != nil {
		return nil, err
	}
	return metaAdapter{pmd}, nil
}

// bdevDevice is block.Device on a dmsim block device: the block manager's
// reads and writes become bios (dm-bufio's I/O).
type bdevDevice struct {
	bdev  dmsim.BlockDevice
	clock *sim.Clock
}

var _ block.Device = (*bdevDevice)(nil)

func (d *bdevDevice) submit(op dmsim.Op, flags dmsim.BioFlags, p []byte, off int64) error {
	bio := dmsim.NewBio(op, d.bdev, uint64(off)/dmsim.SectorSize, p, nil)
	bio.Flags = flags
	if d.clock == nil {
		done := make(chan error, 1)
		bio.SetEndio(func(_ *dmsim.Bio, err error) { done <- err })
		d.bdev.Submit(bio)
		return <-done
	}
	return dmsim.SubmitWait(context.Background(), d.clock, bio)
}

func (d *bdevDevice) ReadAt(p []byte, off int64) (int, error) {
	if err := d.submit(dmsim.OpRead, 0, p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *bdevDevice) WriteAt(p []byte, off int64) (int, error) {
	if err := d.submit(dmsim.OpWrite, 0, p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (d *bdevDevice) Flush() error {
	if f, ok := d.bdev.(dmsim.Flusher); ok {
		return f.Flush()
	}
	return d.submit(dmsim.OpFlush, dmsim.ReqPreflush, nil, 0)
}

func (d *bdevDevice) WriteFUA(p []byte, off int64) error {
	return d.submit(dmsim.OpWrite, dmsim.ReqFUA, p, off)
}

func (d *bdevDevice) Size() int64 { return int64(d.bdev.Size()) * dmsim.SectorSize }

// metaAdapter is Metadata on *thinmeta.PoolMetadata.
type metaAdapter struct{ pmd *thinmeta.PoolMetadata }

func (m metaAdapter) Close() error                { return m.pmd.Close() }
func (m metaAdapter) CreateThin(dev uint64) error { return m.pmd.CreateThin(uint32(dev)) }
func (m metaAdapter) CreateSnap(dev, o uint64) error {
	return m.pmd.CreateSnap(uint32(dev), uint32(o))
}
func (m metaAdapter) DeleteThinDevice(dev uint64) error { return m.pmd.DeleteThinDevice(uint32(dev)) }
func (m metaAdapter) CommitMetadata() error             { return m.pmd.CommitMetadata() }
func (m metaAdapter) AbortMetadata() error              { return m.pmd.AbortMetadata() }
func (m metaAdapter) SetTransactionID(cur, next uint64) error {
	return m.pmd.SetMetadataTransactionID(cur, next)
}
func (m metaAdapter) TransactionID() (uint64, error) { return m.pmd.MetadataTransactionID() }
func (m metaAdapter) ReserveMetadataSnap() error     { return m.pmd.ReserveMetadataSnap() }
func (m metaAdapter) ReleaseMetadataSnap() error     { return m.pmd.ReleaseMetadataSnap() }
func (m metaAdapter) MetadataSnap() (uint64, error)  { return m.pmd.MetadataSnap() }
func (m metaAdapter) OpenThinDevice(dev uint64) (ThinDevice, error) {
	td, err := m.pmd.OpenThinDevice(uint32(dev))
	if err != nil {
		return nil, err
	}
	return thinAdapter{td}, nil
}
func (m metaAdapter) ChangedThisTransaction() bool            { return m.pmd.ChangedThisTransaction() }
func (m metaAdapter) AllocDataBlock() (uint64, error)         { return m.pmd.AllocDataBlock() }
func (m metaAdapter) FreeBlockCount() (uint64, error)         { return m.pmd.FreeBlockCount() }
func (m metaAdapter) FreeMetadataBlockCount() (uint64, error) { return m.pmd.FreeMetadataBlockCount() }
func (m metaAdapter) MetadataDevSize() (uint64, error)        { return m.pmd.MetadataDevSize() }
func (m metaAdapter) DataDevSize() (uint64, error)            { return m.pmd.DataDevSize() }
func (m metaAdapter) ResizeDataDev(n uint64) error            { return m.pmd.ResizeDataDev(n) }
func (m metaAdapter) ResizeMetadataDev(n uint64) error        { return m.pmd.ResizeMetadataDev(n) }
func (m metaAdapter) BlockIsShared(b uint64) (bool, error)    { return m.pmd.BlockIsShared(b) }
func (m metaAdapter) IncDataRange(b, e uint64) error          { return m.pmd.IncDataRange(b, e) }
func (m metaAdapter) DecDataRange(b, e uint64) error          { return m.pmd.DecDataRange(b, e) }
func (m metaAdapter) ReadOnly()                               { m.pmd.SetReadOnly() }
func (m metaAdapter) ReadWrite()                              { m.pmd.SetReadWrite() }
func (m metaAdapter) NeedsCheck() bool                        { return m.pmd.NeedsCheck() }
func (m metaAdapter) SetNeedsCheck() error                    { return m.pmd.SetNeedsCheck() }
func (m metaAdapter) IssuePrefetches()                        {}
func (m metaAdapter) RegisterMetadataThreshold(t uint64, fn func()) error {
	return m.pmd.RegisterMetadataThreshold(t, fn)
}
func (m metaAdapter) RegisterPreCommitCallback(fn func() error) { m.pmd.RegisterPreCommitCallback(fn) }

// thinAdapter is ThinDevice on *thinmeta.ThinDevice.
type thinAdapter struct{ td *thinmeta.ThinDevice }

func (t thinAdapter) ID() uint64 { return uint64(t.td.ID()) }
func (t thinAdapter) FindBlock(b uint64, canIssueIO bool) (LookupResult, error) {
	r, err := t.td.FindBlock(b, canIssueIO)
	return LookupResult{Block: r.Block, Shared: r.Shared}, err
}
func (t thinAdapter) FindMappedRange(b, e uint64) (uint64, uint64, uint64, bool, error) {
	return t.td.FindMappedRange(b, e)
}
func (t thinAdapter) InsertBlock(b, d uint64) error             { return t.td.InsertBlock(b, d) }
func (t thinAdapter) RemoveRange(b, e uint64) error             { return t.td.RemoveRange(b, e) }
func (t thinAdapter) ChangedThisTransaction() bool              { return t.td.ChangedThisTransaction() }
func (t thinAdapter) AbortedChanges() bool                      { return t.td.AbortedChanges() }
func (t thinAdapter) MappedCount() (uint64, error)              { return t.td.MappedCount() }
func (t thinAdapter) HighestMappedBlock() (uint64, bool, error) { return t.td.HighestMappedBlock() }
func (t thinAdapter) Close() error                              { return t.td.Close() }
