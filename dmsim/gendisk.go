package dmsim

import (
	"path"
	"sort"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// Registered disks (block/genhd.c: add_disk, del_gendisk, register_blkdev,
// /proc/devices; /proc/misc is drivers/char/misc.c), the device nodes
// devtmpfs and libdm make under /dev, and how a path or name resolves to a
// device number (lookup_bdev in block/bdev.c, name_to_dev_t in
// init/do_mounts.c, as dm_get_dev_t uses them).

// gendisk is a registered disk (struct gendisk plus the block_device of
// its whole-disk partition): what /sys/block and device numbers resolve to.
type gendisk struct {
	// Set at allocation, never changed.
	name   string
	dev    DevT
	minors uint32 // minors reserved for the disk and its partitions
	bdev   BlockDevice

	// Openers (bd_openers) and the exclusive holder (bd_holder), as
	// blkdev_get_by_dev() tracks them; guarded by Kernel.devMu.
	openers     int
	holder      any
	holderCount int

	// raKB is the bdi's read-ahead in KiB (ra_pages * 4); guarded by
	// Kernel.devMu.
	raKB uint32

	// pages is the device's page cache (pagecache.go): page index ->
	// contents; guarded by Kernel.devMu, dropped at the last close.
	pages map[int64][]byte
}

// defaultRAKB is VM_READAHEAD_PAGES (32 pages of 4 KiB) in KiB.
const defaultRAKB = 128

// addDisk registers a disk and makes its /dev node (add_disk + devtmpfs).
func (k *Kernel) addDisk(name string, dev DevT, minors uint32, bdev BlockDevice) *gendisk {
	gd := &gendisk{name: name, dev: dev, minors: minors, bdev: bdev, raKB: defaultRAKB}
	k.registerDisk(gd)
	return gd
}

// registerDisk is add_disk() for a gendisk allocated earlier.
func (k *Kernel) registerDisk(gd *gendisk) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	k.disks[gd.dev] = gd
	k.diskOrder = append(k.diskOrder, gd)
	k.nodes["/dev/"+gd.name] = gd.dev
	k.madeLocked("/dev/" + gd.name)
}

// delDisk unregisters a disk and removes its devtmpfs node (del_gendisk).
func (k *Kernel) delDisk(gd *gendisk) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	if k.disks[gd.dev] == gd {
		delete(k.disks, gd.dev)
	}
	for i, d := range k.diskOrder {
		if d == gd {
			k.diskOrder = append(k.diskOrder[:i:i], k.diskOrder[i+1:]...)
			break
		}
	}
	if n := "/dev/" + gd.name; k.nodes[n] == gd.dev {
		delete(k.nodes, n)
	}
}

func (k *Kernel) diskByDevT(d DevT) *gendisk {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	return k.disks[d]
}

func (k *Kernel) diskByName(name string) *gendisk {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	for _, gd := range k.diskOrder {
		if gd.name == name {
			return gd
		}
	}
	return nil
}

func cleanDevPath(p string) string {
	if p == "" {
		return p
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// LookupBdev resolves a path to a block device as lookup_bdev() does,
// through the device nodes under /dev ("/dev/vda", "/dev/mapper/pool",
// "/dev/dm-0", "/dev/ram0", "/dev/loop0"). ENOENT if there is no such node,
// ENOTBLK if it is not a block device, ENXIO if the node's device is gone.
func (k *Kernel) LookupBdev(p string) (BlockDevice, error) {
	d, err := k.lookupDevT(p)
	if err != nil {
		return nil, err
	}
	return k.BdevByDevT(d)
}

// lookupDevT is lookup_bdev(): the device number of a block device node.
func (k *Kernel) lookupDevT(p string) (DevT, error) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	r, err := k.resolveLocked(cleanDevPath(p), true) // lookup_bdev follows symlinks
	if err != nil {
		return DevT{}, err
	}
	d, ok := k.nodes[r]
	if !ok {
		return DevT{}, linuxerr.ENOENT
	}
	return d, nil
}

// BdevByDevT returns the block device with this number, ENXIO if none.
func (k *Kernel) BdevByDevT(d DevT) (BlockDevice, error) {
	gd := k.diskByDevT(d)
	if gd == nil {
		return nil, linuxerr.ENXIO
	}
	return gd.bdev, nil
}

// Mknod creates a block device node at path (libdm creates /dev/mapper/NAME
// itself when udev is disabled); Unlink removes one. DevNodes lists the nodes
// under dir.
func (k *Kernel) Mknod(p string, dev DevT) error {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	p, err := k.createLocked(p)
	if err != nil {
		return err
	}
	k.nodes[p] = dev
	k.madeLocked(p)
	return nil
}

func (k *Kernel) Unlink(p string) error {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	p, err := k.resolveLocked(cleanDevPath(p), false)
	if err != nil {
		return err
	}
	switch k.lstatLocked(p).Kind {
	case DevDir:
		return linuxerr.EISDIR // unlink(2) of a directory
	case DevLink:
		delete(k.devLinks, p) // the link itself, not its target
		return nil
	}
	if _, ok := k.devFiles[p]; ok {
		delete(k.devFiles, p) // a regular file (devtmpfs.go)
		return nil
	}
	if _, ok := k.nodes[p]; !ok {
		return linuxerr.ENOENT
	}
	delete(k.nodes, p)
	return nil
}

// DevNodes lists the block device nodes directly under dir ("/dev",
// "/dev/mapper"), by file name. Character devices (/dev/mapper/control,
// /dev/loop-control) are not block nodes and are not listed.
func (k *Kernel) DevNodes(dir string) map[string]DevT {
	dir = cleanDevPath(dir)
	k.devMu.Lock()
	defer k.devMu.Unlock()
	out := map[string]DevT{}
	for p, d := range k.nodes {
		if path.Dir(p) == dir {
			out[path.Base(p)] = d
		}
	}
	return out
}

// blkLookupDevT is blk_lookup_devt(): the number of partition partno of the
// disk with this kernel name, whether or not the partition exists.
func (k *Kernel) blkLookupDevT(name string, partno uint32) (DevT, bool) {
	gd := k.diskByName(name)
	if gd == nil || partno >= gd.minors {
		return DevT{}, false
	}
	return DevT{gd.dev.Major, gd.dev.Minor + partno}, true
}

// Root device numbers name_to_dev_t() knows by name.
var (
	rootNFS  = DevT{0, 255}
	rootCIFS = DevT{0, 254}
	rootRAM0 = DevT{RamdiskMajor, 0}
)

// nameToDevT is the kernel's name_to_dev_t() (init/do_mounts.c), which
// dm_get_dev_t() falls back on when lookup_bdev() fails: "M:m",
// "M:m:offset:", a hexadecimal number, or "/dev/NAME" looked up by the
// disk's kernel name (with partition number fallbacks). ok=false is
// failure (a zero dev_t).
func (k *Kernel) nameToDevT(name string) (DevT, bool) {
	if !strings.HasPrefix(name, "/dev/") {
		maj, min, ok := table.ScanDevT(name)
		if !ok {
			maj, min, ok = table.ScanDevTOffset(name)
		}
		if ok {
			if maj >= 1<<12 || min >= 1<<20 {
				return DevT{}, false
			}
			return DevT{maj, min}, maj != 0 || min != 0
		}
		v, rest := table.SimpleStrtoul(name, 16)
		if rest != "" {
			return DevT{}, false
		}
		// new_decode_dev()
		d := DevT{uint32((v & 0xfff00) >> 8), uint32((v & 0xff) | ((v >> 12) & 0xfff00))}
		return d, d != DevT{}
	}
	name = name[5:]
	switch name {
	case "nfs":
		return rootNFS, true
	case "cifs":
		return rootCIFS, true
	case "ram":
		return rootRAM0, true
	}
	if len(name) > 31 {
		return DevT{}, false
	}
	s := strings.ReplaceAll(name, "/", "!")
	if d, ok := k.blkLookupDevT(s, 0); ok {
		return d, true
	}
	// A partition of a disk that is not there yet: "vda1", "loop0p1".
	p := len(s)
	for p > 0 && s[p-1] >= '0' && s[p-1] <= '9' {
		p--
	}
	if p == 0 || p == len(s) || s[p] == '0' {
		return DevT{}, false
	}
	part, _ := table.SimpleStrtoul(s[p:], 10)
	if d, ok := k.blkLookupDevT(s[:p], uint32(part)); ok {
		return d, true
	}
	if p < 2 || s[p-2] < '0' || s[p-2] > '9' || s[p-1] != 'p' {
		return DevT{}, false
	}
	if d, ok := k.blkLookupDevT(s[:p-1], uint32(part)); ok {
		return d, true
	}
	return DevT{}, false
}

// devtFromPath is the device-number part of dm_get_device(): "M:m" (which
// must fit a dev_t, else EOVERFLOW) or a path (lookup_bdev, then
// name_to_dev_t); ENODEV if neither resolves.
func (k *Kernel) devtFromPath(p string) (DevT, error) {
	if maj, min, ok := table.ScanDevT(p); ok {
		if maj >= 1<<12 || min >= 1<<20 {
			return DevT{}, linuxerr.EOVERFLOW
		}
		d := DevT{maj, min}
		if k.diskByDevT(d) == nil {
			if hd, ok := k.hostLookup(p); ok {
				return hd, nil
			}
		}
		return d, nil
	}
	if d, err := k.lookupDevT(p); err == nil {
		return d, nil
	}
	d, ok := k.nameToDevT(p)
	if !ok || k.diskByDevT(d) == nil {
		// Not an emulated disk: a host device, if the host has one.
		if hd, hok := k.hostLookup(p); hok {
			return hd, nil
		}
	}
	if ok {
		return d, nil
	}
	return DevT{}, linuxerr.ENODEV
}

// ReadAhead returns a block device's read-ahead in sectors, as the
// BLKRAGET ioctl (blockdev --getra) reports it.
func (k *Kernel) ReadAhead(d DevT) (uint64, error) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[d]
	if gd == nil {
		return 0, linuxerr.ENXIO
	}
	return uint64(gd.raKB) * 2, nil
}

// SetReadAhead is the BLKRASET ioctl (blockdev --setra): the value is kept
// in whole 4 KiB pages.
func (k *Kernel) SetReadAhead(d DevT, sectors uint64) error {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[d]
	if gd == nil {
		return linuxerr.ENXIO
	}
	gd.raKB = uint32(sectors*SectorSize/4096) * 4
	return nil
}

// sortedDisks returns the registered disks in registration order.
func (k *Kernel) sortedDisks() []*gendisk {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	return append([]*gendisk(nil), k.diskOrder...)
}

func (k *Kernel) registerBlkdevMajor(major uint32, name string) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	k.blkMajors[major] = name
}

func (k *Kernel) registerMisc(minor uint32, name string) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	k.misc[minor] = name
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}
