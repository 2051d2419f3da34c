// Package frontend makes dmsim a device-mapper that unmodified programs
// use: a daemon (`dmsim serve`) holds one emulated Linux 6.1 machine whose
// clock follows the wall clock; shims on PATH (package frontend/shim) send it
// dmsetup, thin_* and blockdev command lines over a Unix socket (package
// frontend/wire); and every mapped device with a live table is a real block
// device of the host: a file of a FUSE file system (package
// frontend/fuseblk) with a loop device attached, and /dev/mapper/NAME a
// symlink to that loop device, as udev would make it.
//
// Tables may name the host's own block devices (a /dev/loopN on a file):
// the kernel opens them with O_DIRECT through dmsim.HostDevices. A table
// naming an emulated device, by /dev/mapper name, by its loop device or by
// number, is resolved inside dmsim and never read back through the loop
// device.
//
// Programs linked with libdevmapper (the real dmsetup, lvm) reach the same
// kernel through the LD_PRELOAD bridge (package frontend/preload): the
// daemon answers connections that start with a Bridge frame with a
// BridgeServer (ioctls as dmsim.Kernel.CtlIoctl, and /dev/mapper, /proc and
// /sys calls).
//
// The host's opens of a device's loop device (a mount, an O_EXCL open)
// count in the device's open count, so `dmsetup remove` of a mounted device
// fails with EBUSY and `--deferred` removes it once it is closed.
package frontend
