package dmsim

import (
	"sync"
	"sync/atomic"

	"github.com/dmsim/dmsim/sim"
)

// One booted kernel instance: its configuration, boot (the virtio disks,
// dm_mod, the boot modules), power-off and the final cache flush.

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
	// HostDevices, if set, reaches the host's block devices (the front
	// end's daemon); see HostDevices.
	HostDevices HostDevices
}

// DiskSpec is one emulated virtio disk backed by a sparse image file.
type DiskSpec struct {
	Path string // host image file; created (zero-filled, sparse) if missing
	Size int64  // bytes
	// Image, if set, backs the disk instead of Path: an image in memory,
	// such as a crash state's copy-on-write overlay (package crash).
	Image     DiskImage
	NoDiscard bool
	// VolatileCache models the disk's volatile write cache: a write is kept
	// in memory (readable, but lost at Halt) until a flush (REQ_PREFLUSH, an
	// empty flush bio, Flush()) or its own REQ_FUA makes it durable, i.e.
	// writes it to the image. Off, every completed write is in the image.
	VolatileCache bool
	// NativeFUA gives the disk QUEUE_FLAG_FUA (queue/fua 1): a FUA write is
	// durable on its own. Off, as virtio_blk in 6.1, the block layer turns
	// FUA into a write and a flush, which makes every earlier write durable.
	NativeFUA bool
	// BioLog records every bio the disk executes (Disk.BioLog), so that
	// Disk.CrashStates can enumerate the images a crash may leave.
	BioLog bool
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
	// Set at boot, never changed.
	Clock  *sim.Clock
	Log    *KernelLog
	cfg    Config
	virtio []*Disk
	dm     *dmState
	bioSeq atomic.Uint64 // orders bio log records across disks

	// Set once, by the brd and loop modules' init (nil until loaded).
	brd  *brdState
	loop *loopState

	mu          sync.Mutex
	moduleState map[any]any // guarded by mu

	// Block device registry and the device nodes devtmpfs and libdm make
	// (gendisk.go); all guarded by devMu, as are the gendisks' open counts,
	// holders and read-ahead.
	devMu     sync.Mutex
	disks     map[DevT]*gendisk
	diskOrder []*gendisk
	nodes     map[string]DevT
	devFiles  map[string]*DevFile // regular files under /dev (devtmpfs.go)
	devDirs   map[string]bool     // directories made under /dev (devtmpfs.go)
	devLinks  map[string]string   // symlinks under /dev: their targets (devtmpfs.go)
	devSeq    map[string]uint64   // when each /dev entry was made, for readdir's order
	devNext   uint64              // the last devSeq given
	blkMajors map[uint32]string   // /proc/devices "Block devices:"
	misc      map[uint32]string   // /proc/misc

	halted atomic.Bool // Halt was called

	// Modules (module.go); all guarded by modMu, as are the loaded
	// modules' parameter values.
	modMu    sync.Mutex
	loaded   []*loadedModule
	modByKey map[string]*loadedModule
	targets  []*TargetType // registered target types, oldest first
}

// NewKernel boots a kernel: the virtio disks of cfg, dm_mod with its built-in
// targets, then cfg.BootModules. Boot prints nothing to the kernel log.
func NewKernel(cfg Config) (*Kernel, error) {
	if cfg.DMMajor == 0 {
		cfg.DMMajor = DMMajor
	}
	k := &Kernel{
		Clock:     sim.NewClock(),
		Log:       &KernelLog{},
		cfg:       cfg,
		disks:     map[DevT]*gendisk{},
		nodes:     map[string]DevT{},
		devFiles:  map[string]*DevFile{},
		devDirs:   map[string]bool{},
		devLinks:  map[string]string{},
		devSeq:    map[string]uint64{},
		blkMajors: map[uint32]string{259: "blkext"},
		misc:      map[uint32]string{},
		modByKey:  map[string]*loadedModule{},
	}
	for i, spec := range cfg.Disks {
		d, err := openDisk(k, i, spec)
		if err != nil {
			for _, o := range k.virtio {
				o.close()
			}
			return nil, err
		}
		k.virtio = append(k.virtio, d)
		k.addDisk(d.name, d.dev, 16, d)
	}
	k.registerBlkdevMajor(VirtioMajor, "virtblk")
	// dm_mod: the ioctl interface (misc device 10:236) and the built-in
	// targets.
	k.dm = newDMState(k, cfg.DMMajor)
	k.registerBlkdevMajor(cfg.DMMajor, "device-mapper")
	k.registerMisc(236, "device-mapper")
	if m := FindModule("dm_mod"); m != nil {
		if err := k.loadModule(m, nil); err != nil {
			k.Halt()
			return nil, err
		}
	}
	for _, name := range cfg.BootModules {
		if err := k.Modprobe(name, nil); err != nil {
			k.Halt()
			return nil, err
		}
	}
	return k, nil
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
func (k *Kernel) isHalted() bool { return k.halted.Load() }

// Halt powers the machine off with no teardown: timers and queued work are
// dropped, waiters are woken with sim.ErrHalted, disk images are closed with
// whatever reached them (a disk's volatile cache is lost). Nothing is
// committed; I/O submitted afterwards fails with EIO.
func (k *Kernel) Halt() {
	k.halted.Store(true)
	k.Clock.Halt()
	for _, d := range k.virtio {
		d.close()
	}
	if k.loop != nil {
		k.loop.closeAll()
	}
}

// Sync makes every disk's volatile writes durable, as a clean shutdown's
// final cache flush does (the recorder's `sync; poweroff -f`).
func (k *Kernel) Sync() error {
	for _, d := range k.virtio {
		if err := d.Flush(); err != nil {
			return err
		}
	}
	return nil
}
