package busybox

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("blockdev", "block device ioctls", blockdev, "--getsz", "--getsize64", "--getss", "--getbsz",
		"--getro", "--getra", "--setra", "--flushbufs", "--rereadpt", "--setro", "--setrw")
}

// blockdev is busybox blockdev: one BLK* ioctl on a block device.
func blockdev(p *userland.Proc) int {
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
	f, err := p.OpenFile(dev, userland.O_RDONLY, 0)
	if err != nil {
		cantOpen(p, dev, err)
		return 1
	}
	defer f.Close()
	bf, ok := f.(userland.BlockFile)
	fail := func(err error) int {
		fmt.Fprintf(p.Stderr, "blockdev: %s: %s\n", dev, linuxerr.Strerror(err))
		return 1
	}
	if !ok {
		return fail(linuxerr.ENOTTY)
	}
	raPath := fmt.Sprintf("/sys/dev/block/%d:%d/bdi/read_ahead_kb", bf.Dev().Major, bf.Dev().Minor)
	switch cmd {
	case "--getsz", "--getsize":
		fmt.Fprintf(p.Stdout, "%d\n", bf.Size()>>9)
	case "--getsize64":
		fmt.Fprintf(p.Stdout, "%d\n", bf.Size())
	case "--getss":
		fmt.Fprintf(p.Stdout, "%d\n", bf.SectorSize())
	case "--getbsz":
		fmt.Fprintf(p.Stdout, "%d\n", bf.BlockSize())
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
		// BLKFLSBUF: sync_blockdev, then invalidate_bdev drops the clean pages.
		if fb, ok := bf.(interface{ FlushBufs() error }); ok {
			if err := fb.FlushBufs(); err != nil {
				return fail(err)
			}
		}
	case "--rereadpt":
		if strings.HasPrefix(path.Base(dev), "dm-") || strings.HasPrefix(dev, "/dev/mapper/") {
			return fail(linuxerr.EINVAL)
		}
	case "--setbsz":
		if arg < uint64(bf.SectorSize()) || arg > userland.PageSize || arg&(arg-1) != 0 {
			return fail(linuxerr.EINVAL)
		}
	case "--setro", "--setrw":
		return fail(linuxerr.EOPNOTSUPP)
	}
	return 0
}
