package dmsim

import (
	"sync"
)

// Config describes the machine a Kernel boots on.
type Config struct {
	// DMMajor is device-mapper's block major (253 on the recording machine).
	DMMajor uint32
	// BootModules are loaded at boot, in order, after dm_mod (which holds the
	// built-in targets): e.g. "dm_thin_pool", as the recorder's image does.
	BootModules []string
	// Disks are the virtio disks, in order: /dev/vda, /dev/vdb, ...
	Disks []DiskSpec
}

// DiskSpec is one emulated virtio disk backed by a sparse image file.
type DiskSpec struct {
	Path      string // host image file; created (zero-filled, sparse) if missing
	Size      int64  // bytes
	NoDiscard bool
}

// Kernel is one booted instance of the emulated Linux kernel: its block
// devices, device-mapper state, loaded modules, log and clock. A `# reboot`
// throws the instance away with Halt (no teardown) and boots a new one on the
// same disk images.
type Kernel struct {
	Clock *Clock
	Log   *KernelLog

	cfg Config

	mu          sync.Mutex
	moduleState map[any]any
	// The rest of the state (block devices, /dev nodes, mapped devices,
	// loaded modules and their parameters) is added by the core
	// implementation.
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
