// Package dmsim is the emulated Linux 6.1 kernel's block layer and
// device-mapper core: virtio disks, brd ram disks, loop devices, mapped
// devices with their tables, the ioctl interface dmsetup drives, the target
// interface and module registry, and the kernel log. Time is package sim's
// virtual clock; errors are package linuxerr's errnos.
//
// # Actors and time
//
// Time is virtual (sim.Clock). Every goroutine that calls into a Kernel must
// be a clock actor: Clock.Enter before, Clock.Exit after. A process should stay
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
// a write cache) and completes bios with an errno (linuxerr).
//
// # Files
//
// Each file holds one kernel object or subsystem and names the kernel
// source it reproduces:
//
//	kernel.go        a booted kernel: Config, NewKernel, Halt, Sync
//	module.go        the module registry and loaded modules, parameters (kernel/module/main.c, kernel/params.c)
//	modules_core.go  the modules the core provides: dm_mod's parameters, brd, loop
//	params.go        module parameter setters (kernel/params.c param_set_*)
//	log.go           the kernel log: printk, dmesg, DMERR/DMWARN prefixes (kernel/printk/printk.c)
//	sysfs.go         /sys/block (queue limits, alignment_offset), /sys/dev/block, /sys/module attributes, /proc/partitions, /proc/devices,
//	                 /proc/misc (block/genhd.c, block/blk-sysfs.c, drivers/md/dm-sysfs.c, kernel/params.c)
//
// Block layer:
//
//	blockdev.go      BlockDevice, DevT, QueueLimits; opening a device (include/linux/blkdev.h,
//	                 block/blk-settings.c, block/bdev.c blkdev_get_by_dev/blkdev_put)
//	limits.go        stacking queue limits: blk_stack_limits() and its alignment helpers
//	                 (block/blk-settings.c)
//	devtmpfs.go      regular files under /dev and /dev/mapper (what a shell redirect makes where no
//	                 node is; libdm finds them in its way)
//	pagecache.go     block devices' page cache: clean pages shared by openers, dropped at the last
//	                 close (mm/filemap.c, block/bdev.c kill_bdev)
//	gendisk.go       registered disks and majors, /dev nodes, path and name lookup (block/genhd.c,
//	                 block/bdev.c lookup_bdev, init/do_mounts.c name_to_dev_t)
//	bio.go           struct bio: ops, flags, cloning, completion (include/linux/blk_types.h, block/bio.c)
//	submit.go        the submission path every device starts with (block/blk-core.c submit_bio_noacct),
//	                 discard splitting (block/blk-merge.c), bio_chain (block/bio.c), blkdev_issue_flush
//	                 (block/blk-flush.c)
//	disk.go          virtio disks on image files (drivers/block/virtio_blk.c, qemu's virtio-blk)
//	tracer.go        a disk's bio log as a dm-log-writes log (package biolog; no kernel counterpart:
//	                 the format of drivers/md/dm-log-writes.c and qemu's blklogwrites)
//	faultdisk.go     a disk's fault injector: failed I/O, bit flips, I/O counts (no kernel
//	                 counterpart; the crash and fault tests' storage model)
//	brd.go           RAM disks /dev/ramN (drivers/block/brd.c)
//	loop.go          loop devices /dev/loopN (drivers/block/loop.c)
//
// Device-mapper:
//
//	md.go            struct mapped_device: the I/O path, suspend and resume, table binding (drivers/md/dm.c)
//	dmstate.go       dm's global state: minors and device create/destroy (drivers/md/dm.c), the name and
//	                 UUID hash and remove_all (drivers/md/dm-ioctl.c)
//	dmtable.go       struct dm_table: targets, devices, limits (drivers/md/dm-table.c)
//	target.go        the target interface and target type lookup (include/linux/device-mapper.h,
//	                 drivers/md/dm-target.c)
//	api.go           the ioctl interface's types (include/uapi/linux/dm-ioctl.h)
//	ioctl.go         the ioctls (drivers/md/dm-ioctl.c)
//	ctl.go           ctl_ioctl(): the same ioctls on struct dm_ioctl buffers (dm-ioctl.c, for the bridge)
//
// # Lock order
//
// Lock order (outermost locks must be taken first; a lock indented under
// another is taken while that one is held, directly or through the calls
// named):
//
//	MappedDevice.typeLock (clock)            table_load; the constructors run under it
//	  Table.devMu                            dm_get_device, dm_put_device
//	    MappedDevice.mu                      the table's device (table_devices), or the device opened
//	    Kernel.devMu                         blkdevGet, blkdevPut
//	    LoopDev.mu                           opening a loop device
//	  Kernel.modMu                           dm_get_target_type, request_module
//	  MappedDevice.mu, Kernel.devMu          dm_setup_md_queue
//	MappedDevice.suspendLock (clock)         suspend, resume, table swap, destroy; a pool's before its
//	                                         thins' (the pool's presuspend suspends them internally)
//	  MappedDevice.mu
//	  dmState.minorMu                        the global event of a swap
//	  Kernel.devMu                           dm_table_set_restrictions (read-ahead)
//	dmState.hashMu                           finding, inserting, renaming and removing hash cells
//	  MappedDevice.mu
//	  dmState.minorMu                        lookup by device number; an event on the live table
//	RamDisk.mu                               held across the bio's completion, so what completions
//	  dmIO.mu                                take (a clone's dmIO, the device's mu) nests under it
//	    MappedDevice.mu                      dm_io_dec_pending asks dm_noflush_suspending
//	loopState.mu
//	  LoopDev.mu
//
// Leaves, taken under any of the above and holding nothing else:
// Table.eventMu (the event callback runs after it is dropped), Kernel.mu
// (a ModuleState's init runs under it), Disk.mu (completion runs after it
// is dropped), registryMu (the modules every kernel can load), and
// innermost KernelLog.mu and the sim.Clock's own lock (MappedDevice.mu is
// held while an event is fired or made).
//
// typeLock and suspendLock are clock mutexes (sim.Mutex): a holder waits
// for them in virtual time, giving its running token up, and may hold them
// across waits (a suspend waits for in-flight I/O, a constructor reads its
// metadata). The core itself never holds the two together (dm-thin holds a
// pool's suspendLock while it takes its thins'), and takes neither while
// it holds a sync.Mutex. Every other lock is a sync.Mutex, never
// held across a wait in virtual time (waitCond drops MappedDevice.mu
// before it waits). The core calls targets (constructors, Map, hooks,
// Status, messages) holding no sync.Mutex, except brd completing a bio
// under RamDisk.mu (a target's end_io runs under it); a target's own
// locks are outside this order.
//
// A function named ...Locked expects the lock its comment names held
// (findCellLocked: dmState.hashMu; doSuspendLocked: suspendLock; ...).
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
//
// A clone belongs to the core: once it is completed (its end_io hook has
// run and it was not taken back) the core reuses it, with its dm_io, for a
// later bio of the device, so neither the target nor the device below
// may touch it after completing it. A target that sets ti.PerBioData
// (per_io_data_size) finds the value it made in each clone's Private;
// the value is reused with the clone, so Map initialises it.
package dmsim
