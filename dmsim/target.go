package dmsim

import (
	"fmt"
)

// The target interface (struct target_type and struct dm_target in
// include/linux/device-mapper.h) and a kernel's target type lookup
// (dm_get_target_type, dm_target_iterate in drivers/md/dm-target.c).

// TargetFeatures are a target type's DM_TARGET_* flags the core enforces.
type TargetFeatures uint32

const (
	// Singleton: must be alone in its table (DM_TARGET_SINGLETON).
	Singleton TargetFeatures = 1 << iota
	// AlwaysWriteable: may not be in a read-only table (DM_TARGET_ALWAYS_WRITEABLE).
	AlwaysWriteable
	// Immutable: may not be mixed with, or replaced by, other types (DM_TARGET_IMMUTABLE).
	Immutable
	// Wildcard: may replace an immutable type (DM_TARGET_WILDCARD: error).
	Wildcard
)

// TargetType describes a target type (struct target_type). Target packages
// register their types in a Module from init().
type TargetType struct {
	Name     string
	Version  [3]uint32
	Features TargetFeatures
	// Ctr builds a target instance for ti from its arguments, already split
	// by dm_split_args (ti.Begin, ti.Len and ti.Table are set). On failure it
	// sets ti.Error (the kernel's ti->error text) and returns an Errno.
	Ctr func(ti *DMTarget, argv []string) (Target, error)
}

// VersionString formats "v1.22.0" as `dmsetup targets` prints it.
func (t *TargetType) VersionString() string {
	return fmt.Sprintf("v%d.%d.%d", t.Version[0], t.Version[1], t.Version[2])
}

// MapResult is what a target's map function did with a bio (DM_MAPIO_*).
type MapResult int

const (
	// MapRemapped: the target changed bio.Dev and bio.Sector; the core submits it.
	MapRemapped MapResult = iota
	// MapSubmitted: the target took the bio and will complete it with Endio.
	MapSubmitted
	// MapKill: the core completes the bio with EIO.
	MapKill
	// MapRequeue: the core holds the bio and resubmits it at the next resume
	// (noflush suspend) or fails it (DM_MAPIO_REQUEUE).
	MapRequeue
)

// StatusType selects the status line (status_type_t).
type StatusType int

const (
	StatusInfo  StatusType = iota // STATUSTYPE_INFO: dmsetup status
	StatusTable                   // STATUSTYPE_TABLE: dmsetup table
)

// StatusFlags are the status ioctl's flags a target sees.
type StatusFlags uint32

const (
	// StatusNoFlush: DM_STATUS_NOFLUSH_FLAG (dmsetup status --noflush).
	StatusNoFlush StatusFlags = 1 << iota
)

// Target is a constructed target instance: the kernel's ti->private plus the
// type's map function. Optional hooks are the interfaces below.
type Target interface {
	Map(bio *Bio) MapResult
}

// Optional target hooks, named after struct target_type's members.
type (
	Dtr      interface{ Dtr() }
	Statuser interface {
		Status(typ StatusType, flags StatusFlags) string
	}
	Messager interface {
		Message(argv []string) (result string, err error)
	}
	PreSuspender interface{ PreSuspend() }
	// PreSuspendUndoer undoes PreSuspend when the suspend fails.
	PreSuspendUndoer interface{ PreSuspendUndo() }
	PostSuspender    interface{ PostSuspend() }
	PreResumer       interface{ PreResume() error }
	Resumer          interface{ Resume() }
	// DeviceIterator reports each device the target uses and the area of it
	// (iterate_devices), for the device-area checks and queue limits.
	DeviceIterator interface {
		IterateDevices(fn func(dev *DMDev, start, length uint64) error) error
	}
	// IOHinter adjusts the stacked queue limits (io_hints).
	IOHinter interface{ IOHints(limits *QueueLimits) }
	// EndIOer sees each bio's completion before its submitter (end_io);
	// returning true means the target took the bio back (DM_ENDIO_INCOMPLETE).
	EndIOer interface {
		EndIO(bio *Bio, err error) (error, bool)
	}
)

// DMTarget is one target of a table (struct dm_target), handed to the
// constructor, which fills in its limits and flags.
type DMTarget struct {
	Table *Table
	Type  *TargetType
	Begin uint64 // first sector of the target in the mapped device
	Len   uint64 // length in sectors

	// Set by the constructor.
	MaxIOLen          uint64 // split bios at multiples of this (0: no limit)
	NumFlushBios      uint   // flushes passed to the target (0: flushes are completed by the core)
	NumDiscardBios    uint   // 0: discards fail with EOPNOTSUPP
	DiscardsSupported bool   // the device advertises discard even if the underlying devices do not
	FlushSupported    bool
	// PerBioData is per_io_data_size: when set, every clone the core
	// sends the target carries in Private a value PerBioData made
	// (dm_per_bio_data()). The core makes it with the clone and reuses it
	// with the clone's dm_target_io, so Map must initialise it.
	PerBioData func() any
	// Error is ti->error: the reason a constructor failed.
	Error string

	Impl Target
	// endIO is Impl's end_io hook, if it has one.
	endIO EndIOer
}

// getTargetType is dm_get_target_type(): a registered type, or, failing
// that, request_module("dm-NAME") and a second look (unless the machine's
// request_module fails: Config.NoModuleAutoload).
func (k *Kernel) getTargetType(name string) *TargetType {
	if t := k.findTargetType(name); t != nil {
		return t
	}
	if k.cfg.NoModuleAutoload {
		return nil
	}
	k.requestModule("dm-" + name)
	return k.findTargetType(name)
}

func (k *Kernel) findTargetType(name string) *TargetType {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	for _, t := range k.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TargetTypes lists the registered target types, most recently registered
// first (dm_target_iterate order).
func (k *Kernel) TargetTypes() []*TargetType {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	out := make([]*TargetType, 0, len(k.targets))
	for i := len(k.targets) - 1; i >= 0; i-- {
		out = append(out, k.targets[i])
	}
	return out
}
