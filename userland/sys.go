package userland

import (
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

func init() {
	register("blkdiscard", "discard sectors on a device", blkdiscard, "-o", "-l", "-s")
	register("blockdev", "block device ioctls", blockdev, "--getsz", "--getsize64", "--getss", "--getbsz",
		"--getro", "--getra", "--setra", "--flushbufs", "--rereadpt", "--setro", "--setrw")
	register("losetup", "set up loop devices", losetup, "-d", "-a", "-f", "-r", "-o", "-c", "-P")
	register("modprobe", "load kernel modules", modprobe, "-q", "-r", "-v", "-a")
	register("dmesg", "print or clear the kernel log", dmesg, "-c", "-r", "-n", "-s")
}

func blkdiscard(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "o:l:s")
	if !ok {
		return 1
	}
	if len(args) != 1 {
		return showUsage(p)
	}
	dev := args[0]
	f, err := p.OpenFile(dev, O_RDWR|O_EXCL, 0)
	if err != nil {
		cantOpen(p, dev, err)
		return 1
	}
	defer f.Close()
	offStr := "0"
	if o.has('o') {
		offStr = o.arg('o')
	}
	offset, err := parseNumber(offStr, kMGSuffixes, 0, math.MaxUint64)
	if err != nil {
		fmt.Fprintf(p.Stderr, "blkdiscard: %v\n", err)
		return 1
	}
	bf, isBlock := f.(BlockFile)
	var length uint64
	if o.has('l') {
		length, err = parseNumber(o.arg('l'), kMGSuffixes, 0, math.MaxUint64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "blkdiscard: %v\n", err)
			return 1
		}
	} else {
		if !isBlock {
			fmt.Fprintf(p.Stderr, "blkdiscard: ioctl %#x failed: %s\n", 0x80081272, linuxerr.Strerror(linuxerr.ENOTTY))
			return 1
		}
		length = uint64(bf.Size()) - offset
	}
	name := "BLKDISCARD"
	if o.has('s') {
		name = "BLKSECDISCARD"
	}
	if !isBlock {
		fmt.Fprintf(p.Stderr, "blkdiscard: %s: %s failed: %s\n", dev, name, linuxerr.Strerror(linuxerr.ENOTTY))
		return 1
	}
	if o.has('s') {
		err = linuxerr.EOPNOTSUPP // secure discard: no emulated device supports it
	} else {
		err = bf.Discard(int64(offset), int64(length))
	}
	if err != nil {
		fmt.Fprintf(p.Stderr, "blkdiscard: %s: %s failed: %s\n", dev, name, linuxerr.Strerror(err))
		return 1
	}
	return 0
}

func blockdev(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	args := p.Args[1:]
	if len(args) < 2 {
		return showUsage(p)
	}
	cmd := args[0]
	known := map[string]bool{"--setro": true, "--setrw": true, "--getro": true, "--getss": true,
		"--getbsz": true, "--setbsz": true, "--getsz": true, "--getsize": true, "--getsize64": true,
		"--getra": true, "--setra": true, "--flushbufs": true, "--rereadpt": true}
	if !known[cmd] {
		return showUsage(p)
	}
	args = args[1:]
	var arg uint64
	if cmd == "--setbsz" || cmd == "--setra" {
		v, err := strconv.ParseUint(args[0], 10, 31)
		if err != nil {
			fmt.Fprintf(p.Stderr, "blockdev: invalid number '%s'\n", args[0])
			return 1
		}
		arg = v
		args = args[1:]
	}
	if len(args) != 1 {
		return showUsage(p)
	}
	dev := args[0]
	f, err := p.OpenFile(dev, O_RDONLY, 0)
	if err != nil {
		cantOpen(p, dev, err)
		return 1
	}
	defer f.Close()
	bf, ok := f.(BlockFile)
	fail := func(err error) int {
		fmt.Fprintf(p.Stderr, "blockdev: %s: %s\n", dev, linuxerr.Strerror(err))
		return 1
	}
	if !ok {
		return fail(linuxerr.ENOTTY)
	}
	raPath := fmt.Sprintf("/sys/dev/block/%d:%d/bdi/read_ahead_kb", bf.Dev().Major, bf.Dev().Minor)
	switch cmd {
	case "--getsz":
		fmt.Fprintf(p.Stdout, "%d\n", bf.Size()>>9)
	case "--getsize":
		fmt.Fprintf(p.Stdout, "%d\n", bf.Size()>>9)
	case "--getsize64":
		fmt.Fprintf(p.Stdout, "%d\n", bf.Size())
	case "--getss":
		fmt.Fprintf(p.Stdout, "%d\n", bf.SectorSize())
	case "--getbsz":
		bsz := int64(bf.SectorSize())
		for bsz < pageSize && bf.Size()%(bsz*2) == 0 {
			bsz *= 2
		}
		fmt.Fprintf(p.Stdout, "%d\n", bsz)
	case "--getro":
		ro := 0
		if bf.ReadOnly() {
			ro = 1
		}
		fmt.Fprintf(p.Stdout, "%d\n", ro)
	case "--getra":
		if p.Kernel == nil {
			return fail(linuxerr.ENOTTY)
		}
		var s string
		var err error
		p.Kcall(func() { s, err = p.Kernel.SysfsRead(raPath) })
		if err != nil {
			return fail(err)
		}
		kb, _ := strconv.Atoi(strings.TrimSpace(s))
		fmt.Fprintf(p.Stdout, "%d\n", kb*2)
	case "--setra":
		if p.Kernel == nil {
			return fail(linuxerr.ENOTTY)
		}
		var err error
		p.Kcall(func() { err = p.Kernel.SysfsWrite(raPath, strconv.FormatUint(arg/2, 10)) })
		if err != nil {
			return fail(err)
		}
	case "--flushbufs":
		// BLKFLSBUF: sync_blockdev + invalidate; nothing is cached across opens here.
	case "--rereadpt":
		if strings.HasPrefix(path.Base(dev), "dm-") || strings.HasPrefix(dev, "/dev/mapper/") {
			return fail(linuxerr.EINVAL)
		}
	case "--setbsz":
		if arg < uint64(bf.SectorSize()) || arg > pageSize || arg&(arg-1) != 0 {
			return fail(linuxerr.EINVAL)
		}
	case "--setro", "--setrw":
		return fail(linuxerr.EOPNOTSUPP)
	}
	return 0
}

// loopNum parses /dev/loopN.
func loopNum(dev string) (int, bool) {
	s := strings.TrimPrefix(dev, "/dev/loop")
	if s == dev || s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// simPath maps a loop's host file back to the emulated path.
func simPath(p *Proc, host string) string {
	if s, ok := p.FS.(*SimFS); ok {
		if rel, ok := strings.CutPrefix(host, s.Root); ok {
			return "/" + strings.TrimPrefix(rel, "/")
		}
	}
	return host
}

func losetup(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "cdo:farP")
	if !ok {
		return 1
	}
	k := p.Kernel
	if k == nil {
		fmt.Fprintf(p.Stderr, "losetup: no loop devices outside the simulation\n")
		return 1
	}
	query := func(dev string) (string, bool) {
		n, ok := loopNum(dev)
		if !ok {
			return "", false
		}
		var f string
		p.Kcall(func() { f, ok = k.LoopFile(n) })
		if !ok {
			return "", false
		}
		return "0 " + simPath(p, f), true
	}
	nopts := len(o.set)
	switch {
	case nopts == 0 && len(args) == 1:
		s, ok := query(args[0])
		if !ok {
			err := linuxerr.ENXIO
			if _, serr := p.Stat(args[0]); serr != nil {
				err = linuxerr.ENOENT
			}
			fmt.Fprintf(p.Stderr, "losetup: %s: %s\n", args[0], linuxerr.Strerror(err))
			return 1
		}
		fmt.Fprintf(p.Stdout, "%s: %s\n", args[0], s)
		return 0
	case o.has('d') && nopts == 1 && len(args) >= 1:
		status := 0
		for _, dev := range args {
			n, ok := loopNum(dev)
			err := error(linuxerr.ENOENT)
			if ok {
				p.Kcall(func() { err = k.LoopClear(n) })
			}
			if err != nil {
				fmt.Fprintf(p.Stderr, "losetup: %s: %s\n", dev, linuxerr.Strerror(err))
				status = 1
			}
		}
		return status
	case o.has('a') && nopts == 1 && len(args) == 0:
		for n := 0; n < 1024; n++ {
			dev := fmt.Sprintf("/dev/loop%d", n)
			if s, ok := query(dev); ok {
				fmt.Fprintf(p.Stdout, "%s: %s\n", dev, s)
			}
		}
		return 0
	case o.has('c') && nopts == 1 && len(args) == 1:
		return 0
	}
	dev := ""
	if o.has('f') {
		for n := 0; ; n++ {
			if n > 1023 {
				fmt.Fprintf(p.Stderr, "losetup: no free loop devices\n")
				return 1
			}
			used := false
			p.Kcall(func() { _, used = k.LoopFile(n) })
			if !used {
				dev = fmt.Sprintf("/dev/loop%d", n)
				break
			}
		}
		if len(o.set) == 1 && len(args) == 0 {
			fmt.Fprintf(p.Stdout, "%s\n", dev)
			return 0
		}
	}
	if len(args) >= 1 && (o.has('f') || len(args) == 2) {
		if !o.has('f') {
			dev, args = args[0], args[1:]
		}
		if len(args) == 0 {
			return showUsage(p)
		}
		file := args[0]
		if o.has('o') {
			if off, err := strconv.ParseUint(o.arg('o'), 10, 64); err != nil || off != 0 {
				fmt.Fprintf(p.Stderr, "dmsim: losetup: offsets are not supported\n")
				return 1
			}
		}
		n, ok := loopNum(dev)
		if !ok {
			fmt.Fprintf(p.Stderr, "losetup: %s: %s\n", file, linuxerr.Strerror(linuxerr.ENOENT))
			return 1
		}
		s, isSim := p.FS.(*SimFS)
		host := ""
		if isSim {
			host = s.HostPath(p.Abs(file))
		}
		if _, err := p.Stat(file); err != nil || host == "" {
			fmt.Fprintf(p.Stderr, "losetup: %s: %s\n", file, linuxerr.Strerror(linuxerr.ENOENT))
			return 1
		}
		var err error
		p.Kcall(func() { err = k.LoopSetFile(n, host, o.has('r')) })
		if err != nil {
			fmt.Fprintf(p.Stderr, "losetup: %s: %s\n", file, linuxerr.Strerror(err))
			return 1
		}
		return 0
	}
	return showUsage(p)
}

// modulePath is where a module lives under /lib/modules/VERSION, as
// busybox modprobe's messages show it.
func modulePath(name string) string {
	key := dmsim.ModuleKey(name)
	switch key {
	case "brd", "loop":
		return "kernel/drivers/block/" + key + ".ko"
	}
	return "kernel/drivers/md/" + strings.ReplaceAll(key, "_", "-") + ".ko"
}

func modprobe(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "alrqvsDbd:")
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return showUsage(p)
	}
	if p.Kernel == nil {
		return 1
	}
	if o.has('r') {
		fmt.Fprintf(p.Stderr, "dmsim: modprobe -r is not supported\n")
		return 1
	}
	mods := args[:1]
	params := map[string]string{}
	if o.has('a') {
		mods = args
	} else {
		for _, a := range args[1:] {
			k, v, _ := strings.Cut(a, "=")
			params[k] = v
		}
	}
	status := 0
	for _, m := range mods {
		if dmsim.FindModule(m) == nil {
			if !o.has('q') {
				fmt.Fprintf(p.Stderr, "modprobe: module %s not found in modules.dep\n", m)
			}
			status = 1
			continue
		}
		var err error
		p.Kcall(func() { err = p.Kernel.Modprobe(m, params) })
		if err != nil {
			fmt.Fprintf(p.Stderr, "modprobe: can't load module %s (%s): %s\n", dmsim.ModuleKey(m),
				modulePath(m), linuxerr.Strerror(err))
			status = 1
		}
	}
	return status
}

func dmesg(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "cs:n:r")
	if !ok {
		return 1
	}
	if len(args) > 0 {
		return showUsage(p)
	}
	if o.has('n') {
		return 0
	}
	if p.Kernel == nil {
		return 1
	}
	var lines []dmsim.LogLine
	if o.has('c') {
		lines = p.Kernel.Log.ReadClear()
	} else {
		lines = p.Kernel.Log.Read()
	}
	var b strings.Builder
	for _, l := range lines {
		if o.has('r') {
			b.WriteString(l.String())
		} else {
			b.WriteString(l.Text)
		}
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(p.Stdout, b.String()); err != nil {
		return 1
	}
	return 0
}
