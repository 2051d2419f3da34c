package dmsim

import "github.com/dmsim/dmsim/sim"

// The kernel services userspace tools (dd, losetup, modprobe, sysfs files,
// libdm's node handling) call.

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

// Halt powers the machine off with no teardown: timers and queued work are
// dropped, waiters are woken with sim.ErrHalted, disk images are closed with
// whatever reached them (a disk's volatile cache is lost). Nothing is
// committed; I/O submitted afterwards fails with EIO.
func (k *Kernel) Halt() {
	k.devMu.Lock()
	k.halted = true
	k.devMu.Unlock()
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
