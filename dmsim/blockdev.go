package dmsim

import (
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

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
