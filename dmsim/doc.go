// Package dmsim is the emulated Linux 6.1 kernel's block layer and
// device-mapper core: virtio disks, brd ram disks, loop devices, mapped
// devices with their tables, the ioctl interface dmsetup drives, the target
// interface and module registry, the kernel log and the virtual clock.
//
// # Actors and time
//
// Time is virtual (Clock). Every goroutine that calls into a Kernel must be
// a clock actor: Clock.Enter before, Clock.Exit after. A process should stay
// an actor for its whole life (including between kernel calls); waits
// inside the kernel (a bio in flight, a suspend waiting for I/O, dmsetup
// wait, a sleeping lock) give the token up and take it back. When no actor
// holds a token, the clock jumps to the next timer; if only daemon timers
// are left, every waiter is woken with sim.ErrDeadlock (where the real kernel
// would hang). An actor that merely sits between kernel calls without a
// token lets time jump, or a deadlock be declared, behind its back.
//
// # Block devices
//
// NewKernel makes /dev/vda, /dev/vdb, ... (major 254, minor 16·i) from
// Config.Disks, backed by image files (writes are in the image when they
// complete, or, with DiskSpec.VolatileCache, once a flush or FUA covers
// them). `modprobe brd` makes /dev/ramN (major 1) and `modprobe loop`
// /dev/loop0..7 (major 7; LoopSetFile attaches files). A mapped device gets
// /dev/dm-N (major 253) at its first table load; /dev/mapper/NAME nodes are
// libdm's (Mknod/Unlink). Every device's Submit applies the generic block
// layer checks (end of device, discard support, flushes on devices without
// a write cache) and completes bios with an Errno.
//
// # For target authors
//
// A target package registers a Module (RegisterModule) from init(); its
// TargetType.Ctr gets a *DMTarget and the dm_split_args'd arguments. The
// dm_* helpers are methods:
//
//	ti.GetDevice(path, mode) / ti.PutDevice(d)   dm_get_device / dm_put_device (also on ti.Table)
//	ti.Table.Mode(), ti.Table.MD(), ti.Kernel()  dm_table_get_mode / dm_table_get_md
//	ti.Event() / ti.Table.Event()                dm_table_event: counts only for the live table
//	ti.SetMaxIOLen(n)                            dm_set_target_max_io_len
//	ti.Suspended(), ti.NoflushSuspending(), ti.PostSuspending()
//	md.DeviceName() "253:0", md.DiskName() "dm-0", md.Name() (dmsetup name)
//	md.InternalSuspendNoflush(), md.InternalResume()
//	k.GetMD(devt)                                dm_get_md (nil if none or being removed)
//	k.ModuleParam(module, name), k.Log, k.Clock
//
// A target's Map returns MapRemapped (the core submits the bio to bio.Dev),
// MapSubmitted (the target completes it with bio.Endio, now or later, from
// any goroutine), MapKill (EIO) or MapRequeue. Completing a held bio with
// ErrRequeue during a noflush suspend pushes it back for resubmission at
// resume. Flushes arrive NumFlushBios times per target (bio.TargetBioNr
// tells the copies apart), discards NumDiscardBios times; a target with
// MaxIOLen set sees no bio crossing a multiple of it. To do I/O of its own
// a target builds a bio (NewBio) for a DMDev's Bdev and calls Submit, or
// SubmitWait to wait for it in virtual time.
package dmsim
