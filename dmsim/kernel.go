package dmsim

import (
	"sync"

	"github.com/dmsim/dmsim/sim"
)

// Config describes the machine a Kernel boots on.
type Config struct {
	// DMMajor is device-mapper's block major (253 on the recording machine;
	// 0 means 253).
	DMMajor uint32
	// BootModules are loaded at boot, in order, after dm_mod (which holds the
	// built-in targets): e.g. "dm_thin_pool", as the recorder's image does.
	BootModules []string
	// Disks are the virtio disks, in order: /dev/vda, /dev/vdb, ...
	Disks []DiskSpec
	// NoModuleAutoload makes request_module fail, as on a machine without
	// /sbin/modprobe: a table's unloaded target type stays unknown until
	// `modprobe`. By default, as on Debian 12 and in the recorder's guest, a
	// table naming an unloaded type loads module "dm-TYPE" and tries again.
	NoModuleAutoload bool
}

// DiskSpec is one emulated virtio disk backed by a sparse image file.
type DiskSpec struct {
	Path      string // host image file; created (zero-filled, sparse) if missing
	Size      int64  // bytes
	NoDiscard bool
	// VolatileCache models the disk's volatile write cache: a write is kept
	// in memory (readable, but lost at Halt) until a flush (REQ_PREFLUSH, an
	// empty flush bio, Flush()) or its own REQ_FUA makes it durable, i.e.
	// writes it to the image. Off, every completed write is in the image.
	VolatileCache bool
	// Faults, if set, sees every I/O of the disk first: it counts them and
	// can fail or corrupt chosen ones (see Faults).
	Faults *Faults
}

// Kernel is one booted instance of the emulated Linux kernel: its block
// devices, device-mapper state, loaded modules, log and clock. A `# reboot`
// throws the instance away with Halt (no teardown) and boots a new one on the
// same disk images.
//
// Every call into a Kernel (ioctls, I/O, module loading, ...) must come from
// a clock actor (see Clock.Enter): calls may wait in virtual time, and a
// wait gives the caller's running token up.
type Kernel struct {
	Clock *sim.Clock
	Log   *KernelLog

	cfg Config

	mu          sync.Mutex
	moduleState map[any]any

	// Block device registry and the device nodes devtmpfs and libdm make.
	devMu     sync.Mutex
	disks     map[DevT]*gendisk
	diskOrder []*gendisk
	nodes     map[string]DevT
	blkMajors map[uint32]string // /proc/devices "Block devices:"
	misc      map[uint32]string // /proc/misc
	halted    bool

	virtio []*Disk

	// Modules.
	modMu    sync.Mutex
	loaded   []*loadedModule
	modByKey map[string]*loadedModule
	targets  []*TargetType // registered target types, oldest first

	dm   *dmState
	brd  *brdState
	loop *loopState
}

// ModuleState returns the per-kernel state a target package keeps under key
// (for example dm-thin's table of pools), creating it with init on first use.
func (k *Kernel) ModuleState(key any, init func() any) any {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.moduleState == nil {
		k.moduleState = map[any]any{}
	}
	s, ok := k.moduleState[key]
	if !ok {
		s = init()
		k.moduleState[key] = s
	}
	return s
}

// DMMajor is the device-mapper block major of this kernel.
func (k *Kernel) DMMajor() uint32 { return k.dm.major }

// Disks returns the virtio disks in order (/dev/vda first).
func (k *Kernel) Disks() []*Disk { return append([]*Disk(nil), k.virtio...) }

// isHalted reports whether Halt was called.
func (k *Kernel) isHalted() bool {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	return k.halted
}
