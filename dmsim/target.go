package dmsim

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

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
	// Error is ti->error: the reason a constructor failed.
	Error string

	Impl Target
}

// Module is a kernel module (or dm-mod's built-in part) that provides target
// types, parameters, or block devices.
type Module struct {
	// Name as lsmod prints it ("dm_thin_pool"); modprobe treats - and _ alike.
	Name string
	// Aliases are other names that load it, e.g. "dm-zero" for target
	// lookups (request_module("dm-%s")).
	Aliases []string
	// Targets are registered in this order when the module loads (so
	// `dmsetup targets`, newest first, lists the last one first).
	Targets []*TargetType
	// Params are /sys/module/NAME/parameters/*.
	Params []*ModuleParam
	// Init runs at load with modprobe's name=value arguments, after the
	// parameters were set (e.g. brd creates its ram disks).
	Init func(k *Kernel, args map[string]string) error
}

// ModuleParam is a module parameter (module_param).
type ModuleParam struct {
	Name    string
	Default string
	// Parse validates a value written to the parameter and returns its
	// canonical text (as a later read shows it).
	Parse func(s string) (string, error)
	// ReadOnly parameters (permission 0444) refuse writes with EACCES.
	ReadOnly bool
}

var (
	registryMu sync.Mutex
	modules    = map[string]*Module{}
)

// RegisterModule makes a module known to every kernel instance; target
// packages call it from init(). Registering a name twice panics.
func RegisterModule(m *Module) {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(m.Name)
	if _, dup := modules[key]; dup {
		panic("dmsim: module registered twice: " + m.Name)
	}
	modules[key] = m
}

// AddToModule appends target types to a registered module, or registers the
// module with them if it is new (built-in targets of dm_mod come from several
// packages). order places the types within the module: lower first.
func AddToModule(name string, order int, types ...*TargetType) {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(name)
	m := modules[key]
	if m == nil {
		m = &Module{Name: name}
		modules[key] = m
	}
	for _, t := range types {
		builtinOrder[t] = order
	}
	m.Targets = append(m.Targets, types...)
	sort.SliceStable(m.Targets, func(i, j int) bool {
		return builtinOrder[m.Targets[i]] < builtinOrder[m.Targets[j]]
	})
}

var builtinOrder = map[*TargetType]int{}

// ModuleKey normalises a module name as modprobe does ("dm-zero" → "dm_zero").
func ModuleKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// FindModule returns the registered module with this name or alias.
func FindModule(name string) *Module {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(name)
	if m, ok := modules[key]; ok {
		return m
	}
	for _, m := range modules {
		for _, a := range m.Aliases {
			if ModuleKey(a) == key {
				return m
			}
		}
	}
	return nil
}
