package dmsim

import (
	"path"
	"strings"
)

// HostDevices lets a kernel served to real programs (the front end's
// daemon) reach block devices of the host, and learn about the host's
// openers of its own devices. A kernel without one (scripts, tests) sees
// only emulated devices.
type HostDevices interface {
	// Lookup resolves a path or "M:m" that names no emulated device: a
	// block device of the host (opened when a table or process gets it, see
	// Opener), or an emulated device the host sees under another name (the
	// loop device on a mapped device's file). ENOENT or ENODEV when it is
	// neither.
	Lookup(p string) (BlockDevice, error)
	// Openers is how many openers the host has on an emulated device it
	// exposes (a mount or an O_EXCL open of its loop device). They count in
	// dm_open_count() with the kernel's own.
	Openers(d DevT) int
	// Freeze freezes the file system the host has mounted on an emulated
	// device (FIFREEZE), for a suspend without --nolockfs (lock_fs()); an
	// error means there was nothing to freeze. Thaw undoes it (FITHAW).
	Freeze(d DevT) error
	Thaw(d DevT)
}

// hostLookup resolves p through Config.HostDevices and registers the device
// it finds as a disk under its host name, so that it is found by number from
// then on; ok=false when there is no HostDevices or p is no host device.
func (k *Kernel) hostLookup(p string) (DevT, bool) {
	h := k.cfg.HostDevices
	if h == nil {
		return DevT{}, false
	}
	b, err := h.Lookup(p)
	if err != nil {
		return DevT{}, false
	}
	d := b.Dev()
	if k.diskByDevT(d) == nil {
		name := b.Name()
		if name == "" {
			name = strings.TrimPrefix(path.Clean(p), "/dev/")
		}
		k.addDisk(name, d, 1, b)
	}
	return d, true
}

// hostOpeners is HostDevices.Openers, 0 without HostDevices.
func (k *Kernel) hostOpeners(d DevT) int {
	if h := k.cfg.HostDevices; h != nil {
		return h.Openers(d)
	}
	return 0
}

// RunDeferredRemoves removes the devices marked for deferred removal that
// nothing holds open any more (dm_deferred_remove()); the front end calls it
// once the host has closed a device.
func (k *Kernel) RunDeferredRemoves() { k.dm.queueDeferredRemove() }
