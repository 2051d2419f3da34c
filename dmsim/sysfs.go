package dmsim

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// SysfsRead and SysfsWrite access /sys (and /proc) attribute files:
// /sys/module/M/parameters/P, /sys/block/NAME/..., /sys/dev/block/M:m/...,
// /sys/class/block/NAME/..., /proc/partitions, /proc/devices, /proc/misc.
// A read returns the file's whole text (with its trailing newline). ENOENT
// if there is no such file, EISDIR-like ENOENT for directories (see
// SysfsList), EACCES for a write to a read-only attribute.
func (k *Kernel) SysfsRead(p string) (string, error) {
	p = path.Clean(p)
	switch p {
	case "/proc/partitions":
		return k.procPartitions(), nil
	case "/proc/devices":
		return k.procDevices(), nil
	case "/proc/misc":
		return k.procMisc(), nil
	}
	if rest, ok := strings.CutPrefix(p, "/sys/module/"); ok {
		mod, param, ok := cutParam(rest)
		if !ok || !k.ModuleLoaded(mod) {
			return "", linuxerr.ENOENT
		}
		k.modMu.Lock()
		lm := k.modByKey[moduleKeyOf(mod)]
		var v string
		found := false
		if lm != nil {
			v, found = lm.params[param]
		}
		k.modMu.Unlock()
		if !found {
			return "", linuxerr.ENOENT
		}
		return v + "\n", nil
	}
	gd, attr, err := k.sysfsDisk(p)
	if err != nil {
		return "", err
	}
	return k.diskAttr(gd, attr)
}

// SysfsWrite writes an attribute: module parameters that are writable,
// and a disk's read_ahead_kb (queue/ or bdi/).
func (k *Kernel) SysfsWrite(p string, data string) error {
	p = path.Clean(p)
	if rest, ok := strings.CutPrefix(p, "/sys/module/"); ok {
		mod, param, ok := cutParam(rest)
		if !ok {
			return linuxerr.ENOENT
		}
		return k.SetModuleParam(mod, param, data)
	}
	if strings.HasPrefix(p, "/proc/") {
		if _, err := k.SysfsRead(p); err != nil {
			return err
		}
		return linuxerr.EACCES
	}
	gd, attr, err := k.sysfsDisk(p)
	if err != nil {
		return err
	}
	if _, err := k.diskAttr(gd, attr); err != nil {
		return err
	}
	switch attr {
	case "queue/read_ahead_kb", "bdi/read_ahead_kb":
		v, err := strconv.ParseUint(strings.TrimSpace(data), 10, 64)
		if err != nil {
			return linuxerr.EINVAL
		}
		k.devMu.Lock()
		gd.raKB = uint32(v>>2) << 2
		k.devMu.Unlock()
		return nil
	}
	return linuxerr.EACCES
}

// SysfsList lists a sysfs directory: /sys/block, /sys/dev/block,
// /sys/module, /sys/module/M/parameters, /sys/block/NAME/holders and
// /slaves (the device-mapper devices stacked on a disk and the disks under
// one), /sys/block/NAME and its queue, bdi, dm and loop directories.
func (k *Kernel) SysfsList(dir string) ([]string, error) {
	dir = path.Clean(dir)
	switch dir {
	case "/sys/block", "/sys/class/block":
		var out []string
		for _, gd := range k.sortedDisks() {
			out = append(out, gd.name)
		}
		sort.Strings(out)
		return out, nil
	case "/sys/dev/block":
		var out []string
		for _, gd := range k.sortedDisks() {
			out = append(out, gd.dev.String())
		}
		sort.Strings(out)
		return out, nil
	case "/sys/module":
		out := k.LoadedModules()
		sort.Strings(out)
		return out, nil
	}
	if rest, ok := strings.CutPrefix(dir, "/sys/module/"); ok {
		mod, sub, _ := strings.Cut(rest, "/")
		if !k.ModuleLoaded(mod) {
			return nil, linuxerr.ENOENT
		}
		switch sub {
		case "":
			return []string{"parameters"}, nil
		case "parameters":
			k.modMu.Lock()
			defer k.modMu.Unlock()
			var out []string
			for n := range k.modByKey[moduleKeyOf(mod)].params {
				out = append(out, n)
			}
			sort.Strings(out)
			return out, nil
		}
		return nil, linuxerr.ENOENT
	}
	gd, sub, err := k.sysfsDisk(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	switch sub {
	case "":
		names = []string{"alignment_offset", "bdi", "dev", "discard_alignment", "holders", "queue", "removable", "ro", "size", "slaves"}
		if _, ok := gd.bdev.(*mdDisk); ok {
			names = append(names, "dm")
		}
		if l, ok := gd.bdev.(*LoopDev); ok && l.BackingFile() != "" {
			names = append(names, "loop")
		}
	case "queue":
		names = queueAttrs
	case "bdi":
		names = []string{"read_ahead_kb"}
	case "dm":
		if _, ok := gd.bdev.(*mdDisk); !ok {
			return nil, linuxerr.ENOENT
		}
		names = []string{"name", "rq_based_seq_io_merge_deadline", "suspended", "use_blk_mq", "uuid"}
	case "loop":
		if l, ok := gd.bdev.(*LoopDev); !ok || l.BackingFile() == "" {
			return nil, linuxerr.ENOENT
		}
		names = []string{"autoclear", "backing_file", "dio", "offset", "partscan", "sizelimit"}
	case "holders":
		names = k.holders(gd)
	case "slaves":
		names = k.slaves(gd)
	default:
		return nil, linuxerr.ENOENT
	}
	sort.Strings(names)
	return names, nil
}

var queueAttrs = []string{
	"discard_granularity", "discard_max_bytes", "discard_max_hw_bytes", "discard_zeroes_data",
	"fua", "hw_sector_size", "logical_block_size", "max_hw_sectors_kb", "max_sectors_kb",
	"minimum_io_size", "optimal_io_size", "physical_block_size", "read_ahead_kb", "rotational",
	"write_cache",
}

func cutParam(rest string) (mod, param string, ok bool) {
	mod, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return "", "", false
	}
	param, ok = strings.CutPrefix(rest, "parameters/")
	if !ok || param == "" || strings.Contains(param, "/") {
		return "", "", false
	}
	return mod, param, true
}

// sysfsDisk resolves /sys/block/NAME/..., /sys/class/block/NAME/... and
// /sys/dev/block/M:m/... to a registered disk and the attribute path under
// it.
func (k *Kernel) sysfsDisk(p string) (*gendisk, string, error) {
	var key, rest string
	var byDev bool
	switch {
	case strings.HasPrefix(p, "/sys/block/"):
		key, rest, _ = strings.Cut(strings.TrimPrefix(p, "/sys/block/"), "/")
	case strings.HasPrefix(p, "/sys/class/block/"):
		key, rest, _ = strings.Cut(strings.TrimPrefix(p, "/sys/class/block/"), "/")
	case strings.HasPrefix(p, "/sys/dev/block/"):
		key, rest, _ = strings.Cut(strings.TrimPrefix(p, "/sys/dev/block/"), "/")
		byDev = true
	default:
		return nil, "", linuxerr.ENOENT
	}
	var gd *gendisk
	if byDev {
		d, ok, err := ParseDevT(key)
		if !ok || err != nil {
			return nil, "", linuxerr.ENOENT
		}
		gd = k.diskByDevT(d)
	} else {
		gd = k.diskByName(key)
	}
	if gd == nil {
		return nil, "", linuxerr.ENOENT
	}
	return gd, rest, nil
}

func (k *Kernel) diskAttr(gd *gendisk, attr string) (string, error) {
	b := gd.bdev
	lim := b.Limits()
	boolStr := func(v bool) string {
		if v {
			return "1\n"
		}
		return "0\n"
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) + "\n" }
	k.devMu.Lock()
	ra := gd.raKB
	k.devMu.Unlock()
	switch attr {
	case "size":
		return u(b.Size()), nil
	case "ro":
		return boolStr(b.ReadOnly()), nil
	case "dev":
		return gd.dev.String() + "\n", nil
	case "removable":
		return "0\n", nil
	case "queue/logical_block_size", "queue/hw_sector_size":
		return u(uint64(lim.LogicalBlockSize)), nil
	case "queue/physical_block_size":
		return u(uint64(lim.PhysicalBlockSize)), nil
	case "queue/minimum_io_size":
		return u(uint64(lim.IOMin)), nil
	case "queue/optimal_io_size":
		return u(uint64(lim.IOOpt)), nil
	case "queue/max_sectors_kb":
		return u(uint64(lim.MaxSectors) >> 1), nil
	case "queue/max_hw_sectors_kb":
		return u(uint64(lim.MaxHWSectors) >> 1), nil
	case "queue/discard_granularity":
		return u(uint64(lim.DiscardGranularity)), nil
	case "queue/discard_max_bytes":
		return u(uint64(lim.MaxDiscardSectors) << 9), nil
	case "queue/discard_max_hw_bytes":
		return u(uint64(lim.MaxHWDiscardSectors) << 9), nil
	case "alignment_offset":
		// disk_alignment_offset_show(): bdev_alignment_offset().
		return strconv.FormatInt(lim.SysfsAlignmentOffset(), 10) + "\n", nil
	case "discard_alignment":
		// disk_discard_alignment_show() in 6.1 prints bdev_alignment_offset(),
		// not the discard alignment.
		return strconv.FormatInt(lim.SysfsAlignmentOffset(), 10) + "\n", nil
	case "queue/discard_zeroes_data":
		return "0\n", nil
	case "queue/rotational":
		return boolStr(!lim.NonRotational), nil
	case "queue/fua":
		return boolStr(lim.FUA), nil
	case "queue/write_cache":
		if lim.WriteCache {
			return "write back\n", nil
		}
		return "write through\n", nil
	case "queue/read_ahead_kb", "bdi/read_ahead_kb":
		return u(uint64(ra)), nil
	}
	if md, ok := b.(*mdDisk); ok {
		switch attr {
		case "dm/name":
			return md.md.Name() + "\n", nil
		case "dm/uuid":
			return md.md.UUID() + "\n", nil
		case "dm/suspended":
			return boolStr(md.md.Suspended()), nil
		case "dm/use_blk_mq":
			return "0\n", nil
		case "dm/rq_based_seq_io_merge_deadline":
			return "0\n", nil
		}
	}
	if l, ok := b.(*LoopDev); ok && l.BackingFile() != "" {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch attr {
		case "loop/backing_file":
			return l.path + "\n", nil
		case "loop/offset", "loop/sizelimit":
			return "0\n", nil
		case "loop/autoclear":
			return boolStr(l.autoclear), nil
		case "loop/partscan", "loop/dio":
			return "0\n", nil
		}
	}
	return "", linuxerr.ENOENT
}

// holders lists the mapped devices whose tables hold gd open.
func (k *Kernel) holders(gd *gendisk) []string {
	var out []string
	for _, other := range k.sortedDisks() {
		md, ok := other.bdev.(*mdDisk)
		if !ok {
			continue
		}
		md.md.mu.Lock()
		for _, td := range md.md.tableDevs {
			if td.gd == gd {
				out = append(out, other.name)
				break
			}
		}
		md.md.mu.Unlock()
	}
	return out
}

// slaves lists the disks a mapped device's tables hold open.
func (k *Kernel) slaves(gd *gendisk) []string {
	md, ok := gd.bdev.(*mdDisk)
	if !ok {
		return nil
	}
	md.md.mu.Lock()
	defer md.md.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, td := range md.md.tableDevs {
		if !seen[td.gd.name] {
			seen[td.gd.name] = true
			out = append(out, td.gd.name)
		}
	}
	return out
}

// procPartitions is /proc/partitions (show_partition()): every disk with a
// non-zero size, in registration order.
func (k *Kernel) procPartitions() string {
	var b strings.Builder
	b.WriteString("major minor  #blocks  name\n\n")
	for _, gd := range k.sortedDisks() {
		sz := gd.bdev.Size()
		if sz == 0 {
			continue
		}
		fmt.Fprintf(&b, "%4d  %7d %10d %s\n", gd.dev.Major, gd.dev.Minor, sz>>1, gd.name)
	}
	return b.String()
}

// procDevices is /proc/devices. The character devices are those of the
// recording guest that matter to tools (libdm looks for "misc").
func (k *Kernel) procDevices() string {
	var b strings.Builder
	b.WriteString("Character devices:\n")
	for _, c := range []struct {
		n    int
		name string
	}{{1, "mem"}, {4, "/dev/vc/0"}, {4, "tty"}, {4, "ttyS"}, {5, "/dev/tty"}, {5, "/dev/console"},
		{5, "/dev/ptmx"}, {7, "vcs"}, {10, "misc"}, {13, "input"}, {128, "ptm"}, {136, "pts"}} {
		fmt.Fprintf(&b, "%3d %s\n", c.n, c.name)
	}
	b.WriteString("\nBlock devices:\n")
	k.devMu.Lock()
	for _, m := range sortedKeys(k.blkMajors) {
		fmt.Fprintf(&b, "%3d %s\n", m, k.blkMajors[m])
	}
	k.devMu.Unlock()
	return b.String()
}

// procMisc is /proc/misc: misc devices, most recently registered first.
func (k *Kernel) procMisc() string {
	var b strings.Builder
	k.devMu.Lock()
	defer k.devMu.Unlock()
	keys := sortedKeys(k.misc)
	for i := len(keys) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "%3d %s\n", keys[i], k.misc[keys[i]])
	}
	return b.String()
}
