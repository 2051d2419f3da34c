package thin

import (
	"context"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/thinmeta"
)

// openMetadata is dm_pool_metadata_open(bdev, data_block_size,
// format_device) on thinmeta, with the metadata device reached through
// bios: it formats an all-zero device when format is true, and logs its own
// "thin metadata" lines to the kernel log.
func openMetadata(k *dmsim.Kernel, bdev dmsim.BlockDevice, dataBlockSize uint32, format bool) (*thinmeta.PoolMetadata, error) {
	dev := &bdevDevice{bdev: bdev, clock: k.Clock}
	return thinmeta.Open(dev, uint64(dataBlockSize), format, thinmeta.Options{
		Log:            func(level int, msg string) { k.Log.Printk(level, "%s", msg) },
		ReadOnlyDevice: bdev.ReadOnly(),
	})
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

// Flush is dm_bufio_issue_flush(): an empty REQ_PREFLUSH bio.
func (d *bdevDevice) Flush() error {
	return d.submit(dmsim.OpFlush, dmsim.ReqPreflush, nil, 0)
}

func (d *bdevDevice) Size() int64 { return int64(d.bdev.Size()) * dmsim.SectorSize }
