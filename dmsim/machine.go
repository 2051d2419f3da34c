package dmsim

// The kernel services userspace tools (dd, losetup, modprobe, sysfs files,
// libdm's node handling) call. Stub bodies are replaced by the core
// implementation; the signatures are the contract.

// NewKernel boots a kernel: the virtio disks of cfg, dm_mod with its built-in
// targets, then cfg.BootModules.
func NewKernel(cfg Config) (*Kernel, error) {
	return &Kernel{Clock: NewClock(), Log: &KernelLog{}, cfg: cfg}, nil
}

// Halt powers the machine off with no teardown: timers and queued work are
// dropped, waiters are woken with ErrHalted, disk images are closed with
// whatever reached them. Nothing is committed.
func (k *Kernel) Halt() { k.Clock.Halt() }

// LookupBdev resolves a path to a block device as lookup_bdev() does,
// through the device nodes under /dev ("/dev/vda", "/dev/mapper/pool",
// "/dev/dm-0", "/dev/ram0", "/dev/loop0"). ENOENT if there is no such node,
// ENOTBLK if it is not a block device, ENXIO if the node's device is gone.
func (k *Kernel) LookupBdev(path string) (BlockDevice, error) { return nil, ENOSYS }

// BdevByDevT returns the block device with this number, ENXIO if none.
func (k *Kernel) BdevByDevT(d DevT) (BlockDevice, error) { return nil, ENOSYS }

// OpenBdev opens a block device for a process (blkdev_get_by_path); the open
// counts in the device's open count until release is called.
func (k *Kernel) OpenBdev(path string, mode FMode) (bdev BlockDevice, release func(), err error) {
	return nil, nil, ENOSYS
}

// Mknod creates a block device node at path (libdm creates /dev/mapper/NAME
// itself when udev is disabled); Unlink removes one. DevNodes lists the nodes
// under dir.
func (k *Kernel) Mknod(path string, dev DevT) error { return ENOSYS }
func (k *Kernel) Unlink(path string) error          { return ENOSYS }
func (k *Kernel) DevNodes(dir string) map[string]DevT {
	return nil
}

// Modprobe loads a module by name or alias with name=value arguments; a
// module already loaded is a no-op, as modprobe does.
func (k *Kernel) Modprobe(name string, args map[string]string) error { return ENOSYS }

// ModuleLoaded reports whether a module is loaded.
func (k *Kernel) ModuleLoaded(name string) bool { return false }

// ModuleParam returns a loaded module's parameter value (its sysfs text).
func (k *Kernel) ModuleParam(module, name string) string { return "" }

// SysfsRead and SysfsWrite access /sys (and /proc) attribute files:
// /sys/module/M/parameters/P, /sys/block/NAME/..., /sys/dev/block/M:m/...
func (k *Kernel) SysfsRead(path string) (string, error)     { return "", ENOSYS }
func (k *Kernel) SysfsWrite(path string, data string) error { return ENOSYS }

// LoopSetFile attaches a host file to /dev/loopN (LOOP_SET_FD), LoopClear
// detaches it (LOOP_CLR_FD); LoopFile reports the attached file.
func (k *Kernel) LoopSetFile(n int, hostPath string, readOnly bool) error { return ENOSYS }
func (k *Kernel) LoopClear(n int) error                                   { return ENOSYS }
func (k *Kernel) LoopFile(n int) (string, bool)                           { return "", false }

// Ioctl returns the device-mapper control interface (/dev/mapper/control).
func (k *Kernel) Ioctl() IoctlAPI { return nil }
