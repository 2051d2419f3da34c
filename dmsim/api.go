package dmsim

// This file fixes the core's API surface that userspace (the ioctl-like
// calls dmsetup makes) codes against. The target-facing helpers are on
// Table and DMTarget (dmtable.go, md.go); the implementation of IoctlAPI
// is in ioctl.go.

import (
	"context"
)

// FMode is the mode a table opens its devices with (FMODE_READ|FMODE_WRITE).
type FMode uint8

const (
	FModeRead FMode = 1 << iota
	FModeWrite
)

// DMDev is a device opened by a table (struct dm_dev).
type DMDev struct {
	Bdev BlockDevice
	Mode FMode
	// Name is format_dev_t of the device ("254:0"), as table lines print it.
	Name string
}

// TargetSpec is one table line as the load ioctl receives it
// (struct dm_target_spec plus its parameter string). Params is the string
// as marshalled into the ioctl: libdm doubles backslashes first
// (table.EscapeParams), and the kernel splits it with dm_split_args.
type TargetSpec struct {
	Start, Length uint64
	Type          string
	Params        string
	// Bad marks a target spec the ioctl buffer could not hold (next
	// pointing backwards, parameters not terminated): the load fails there
	// with "unable to find target" (populate_table()).
	Bad bool
}

// DevRef addresses a device in an ioctl: by name, by UUID, or by device
// number (Dev non-zero), as struct dm_ioctl does.
type DevRef struct {
	Name string
	UUID string
	Dev  DevT
}

// DMInfo is what most ioctls return about a device (struct dm_ioctl's header).
type DMInfo struct {
	Name, UUID      string
	Dev             DevT
	OpenCount       int
	EventNr         uint32
	TargetCount     int // live table, or inactive with the inactive flag
	Suspended       bool
	ReadOnly        bool
	LivePresent     bool
	InactivePresent bool
	DeferredRemove  bool
	// InternalSuspend is DM_INTERNAL_SUSPEND_FLAG: suspended by the kernel
	// (a thin device while its pool is suspended).
	InternalSuspend bool
}

// TargetStatus is one line of the status/table ioctl's answer.
type TargetStatus struct {
	Start, Length uint64
	Type          string
	Params        string
}

// IoctlFlags are the dm_ioctl flags the calls honour.
type IoctlFlags struct {
	ReadOnly   bool // DM_READONLY_FLAG (load: a read-only table)
	NoFlush    bool // DM_NOFLUSH_FLAG (suspend, status, wait)
	SkipLockfs bool
	Inactive   bool // DM_QUERY_INACTIVE_TABLE_FLAG (status, table, deps, info)
	Deferred   bool // DM_DEFERRED_REMOVE (remove --deferred)
	// Persistent is DM_PERSISTENT_DEV_FLAG (create --major/--minor): the
	// device gets minor Minor, EBUSY if taken.
	Persistent bool
	Minor      uint32
}

// NameEntry is one device of the list ioctl (struct dm_name_list).
type NameEntry struct {
	Name    string
	Dev     DevT
	EventNr uint32
}

// TargetVersion is one entry of the list-versions ioctl.
type TargetVersion struct {
	Name    string
	Version [3]uint32
}

// The ioctl-like API (drivers/md/dm-ioctl.c). Each call returns an Errno on
// failure and prints the kernel log lines the real ioctl prints. Their bodies
// live in ioctl.go.
type IoctlAPI interface {
	Version() [3]uint32
	ListVersions() []TargetVersion // newest registered first
	ListDevices() []NameEntry      // sorted by name
	DevCreate(name, uuid string, flags IoctlFlags) (DMInfo, error)
	DevRemove(ref DevRef, flags IoctlFlags) (DMInfo, error)
	RemoveAll(flags IoctlFlags) error
	DevRename(ref DevRef, newName string, setUUID bool) (DMInfo, error)
	DevSuspend(ref DevRef, flags IoctlFlags) (DMInfo, error)
	DevResume(ref DevRef, flags IoctlFlags) (DMInfo, error)
	DevStatus(ref DevRef, flags IoctlFlags) (DMInfo, error)
	DevWait(ctx context.Context, ref DevRef, eventNr uint32, flags IoctlFlags) (DMInfo, []TargetStatus, error)
	TableLoad(ref DevRef, specs []TargetSpec, flags IoctlFlags) (DMInfo, error)
	TableClear(ref DevRef) (DMInfo, error)
	TableDeps(ref DevRef, flags IoctlFlags) (DMInfo, []DevT, error)
	TableStatus(ref DevRef, typ StatusType, flags IoctlFlags) (DMInfo, []TargetStatus, error)
	TargetMessage(ref DevRef, sector uint64, msg string) (DMInfo, string, error)
}
