package dmsim

import (
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// Block devices: the device number, the queue limits and the interface every
// block device implements (include/linux/blkdev.h, block/blk-settings.c),
// and opening one for a process or a table (blkdev_get_by_dev,
// blkdev_put in block/bdev.c).

// DevT is a device number (dev_t).
type DevT struct{ Major, Minor uint32 }

// String formats as the kernel's format_dev_t: "253:0".
func (d DevT) String() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// ParseDevT parses "major:minor" as dm_get_device does (the kernel's
// sscanf "%u:%u%c" == 2; each number must fit the kernel's dev_t: 12-bit
// major, 20-bit minor, else EOVERFLOW). ok is false when s does not have the
// form at all.
func ParseDevT(s string) (d DevT, ok bool, err error) {
	maj, min, found := table.ScanDevT(s)
	if !found {
		return DevT{}, false, nil
	}
	if maj >= 1<<12 || min >= 1<<20 {
		return DevT{}, true, linuxerr.EOVERFLOW
	}
	return DevT{maj, min}, true, nil
}

// Well-known majors, as on the recording machine.
const (
	RamdiskMajor = 1   // brd
	LoopMajor    = 7   // loop
	VirtioMajor  = 254 // virtio_blk, dynamically allocated first
	DMMajor      = 253 // device-mapper, dynamically allocated after virtio
)

// QueueLimits are the request-queue limits a device advertises
// (struct queue_limits), in the units the kernel uses.
type QueueLimits struct {
	LogicalBlockSize   uint32 // bytes
	PhysicalBlockSize  uint32 // bytes
	IOMin              uint32 // bytes
	IOOpt              uint32 // bytes
	MaxSectors         uint32 // sectors per request; 0 = unlimited
	MaxDiscardSectors  uint32 // 0 = no discard support
	DiscardGranularity uint32 // bytes

	MaxHWSectors     uint32 // max_hw_sectors (sysfs max_hw_sectors_kb)
	DiscardAlignment uint32 // bytes
	// MaxHWDiscardSectors is max_hw_discard_sectors (sysfs
	// discard_max_hw_bytes): drivers set it with MaxDiscardSectors
	// (blk_queue_max_discard_sectors); a dm target's io_hints may change
	// MaxDiscardSectors alone.
	MaxHWDiscardSectors uint32
	// AlignmentOffset is alignment_offset (bytes): how far the device's
	// first sector is from a physical block boundary.
	AlignmentOffset uint32
	// Misaligned is the misaligned flag blk_stack_limits() sets when the
	// components' alignments cannot be reconciled (sysfs alignment_offset
	// then reads -1).
	Misaligned bool
	// DiscardMisaligned is discard_misaligned: the components' discard
	// alignments disagree.
	DiscardMisaligned bool
	// WriteCache is QUEUE_FLAG_WC: the device has a volatile write cache, so
	// flushes and REQ_PREFLUSH reach it (without it the block layer completes
	// empty flushes at once and drops REQ_PREFLUSH/REQ_FUA).
	WriteCache bool
	// FUA is QUEUE_FLAG_FUA: the device honours REQ_FUA natively.
	FUA bool
	// NonRotational is QUEUE_FLAG_NONROT (sysfs queue/rotational = 0).
	NonRotational bool
}

// UintMax is UINT_MAX, the "no limit" value of 32-bit queue limits.
const UintMax = ^uint32(0)

// StackingLimits are blk_set_stacking_limits(): the neutral starting point
// that stacking drivers (device-mapper) combine component limits into.
func StackingLimits() QueueLimits {
	l := DefaultQueueLimits()
	l.MaxSectors = UintMax
	l.MaxHWSectors = UintMax
	return l
}

// DefaultQueueLimits are blk_set_default_limits() for a 512-byte device.
func DefaultQueueLimits() QueueLimits {
	return QueueLimits{LogicalBlockSize: 512, PhysicalBlockSize: 512, IOMin: 512}
}

// SysfsAlignmentOffset is what /sys/block/NAME/alignment_offset reads
// (bdev_alignment_offset(): -1 when misaligned).
func (l QueueLimits) SysfsAlignmentOffset() int64 {
	if l.Misaligned {
		return -1
	}
	return int64(l.AlignmentOffset)
}

// DiscardSupported reports whether the device accepts discards
// (bdev_max_discard_sectors() != 0).
func (l QueueLimits) DiscardSupported() bool { return l.MaxDiscardSectors > 0 }

// BlockDevice is a block device the kernel knows: a disk, a ram disk, a loop
// device or a mapped device.
type BlockDevice interface {
	// Name is the kernel's disk name: "vda", "ram0", "loop0", "dm-3"
	// (what %pg prints).
	Name() string
	Dev() DevT
	// Size is the capacity in sectors (get_capacity).
	Size() uint64
	Limits() QueueLimits
	// Submit starts the bio (submit_bio); it completes through bio.Endio,
	// possibly later and from another goroutine.
	Submit(bio *Bio)
	// ReadOnly reports whether writes are refused (get_disk_ro).
	ReadOnly() bool
}

// Opener is implemented by block devices that count their openers
// (mapped devices show the count in `dmsetup info`).
type Opener interface {
	Open() error // blkdev_get: may fail (e.g. ENXIO for a mapped device being removed)
	Release()
}

// Flusher lets a device be asked to make its volatile writes durable
// (blkdev_issue_flush), for devices modelling a write cache.
type Flusher interface {
	Flush() error
}

// blkdevGet is blkdev_get_by_dev(): open a block device by number for a
// table (holder non-nil: an exclusive claim shared by everyone passing the
// same holder) or a process. It fails with ENXIO if there is no such device
// (or the device refuses the open) and EBUSY if another holder claimed it.
func (k *Kernel) blkdevGet(d DevT, holder any) (*gendisk, error) {
	k.devMu.Lock()
	gd := k.disks[d]
	if gd == nil {
		k.devMu.Unlock()
		return nil, linuxerr.ENXIO
	}
	if holder != nil && gd.holder != nil && gd.holder != holder {
		k.devMu.Unlock()
		return nil, linuxerr.EBUSY
	}
	k.devMu.Unlock()
	if o, ok := gd.bdev.(Opener); ok {
		if err := o.Open(); err != nil {
			return nil, err
		}
	}
	k.devMu.Lock()
	if holder != nil && gd.holder != nil && gd.holder != holder {
		k.devMu.Unlock()
		if o, ok := gd.bdev.(Opener); ok {
			o.Release()
		}
		return nil, linuxerr.EBUSY
	}
	gd.openers++
	if holder != nil {
		gd.holder = holder
		gd.holderCount++
	}
	k.devMu.Unlock()
	return gd, nil
}

// blkdevPut is blkdev_put().
func (k *Kernel) blkdevPut(gd *gendisk, holder any) {
	k.devMu.Lock()
	gd.openers--
	if gd.openers == 0 {
		gd.pages = nil // blkdev_flush_mapping(): kill_bdev()
	}
	if holder != nil && gd.holder == holder {
		gd.holderCount--
		if gd.holderCount == 0 {
			gd.holder = nil
		}
	}
	k.devMu.Unlock()
	if o, ok := gd.bdev.(Opener); ok {
		o.Release()
	}
}

// FModeExcl, passed to OpenBdev, opens the device exclusively (O_EXCL on a
// block device): it fails with EBUSY while a table holds the device, and
// tables cannot claim it while it is open so.
const FModeExcl FMode = 1 << 7

// OpenBdev opens a block device for a process (blkdev_get_by_path); the open
// counts in the device's open count until release is called.
func (k *Kernel) OpenBdev(p string, mode FMode) (bdev BlockDevice, release func(), err error) {
	d, err := k.lookupDevT(p)
	if err != nil {
		hd, ok := k.hostLookup(p)
		if !ok {
			return nil, nil, err
		}
		d = hd
	}
	var holder any
	if mode&FModeExcl != 0 {
		holder = new(int)
	}
	gd, err := k.blkdevGet(d, holder)
	if err != nil {
		return nil, nil, err
	}
	var once bool
	return gd.bdev, func() {
		if once {
			return
		}
		once = true
		k.blkdevPut(gd, holder)
	}, nil
}

// OpenCount returns how many times the block device is open (bd_openers):
// by processes and by device-mapper tables.
func (k *Kernel) OpenCount(d DevT) int {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	if gd := k.disks[d]; gd != nil {
		return gd.openers
	}
	return 0
}
