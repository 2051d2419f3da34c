package busybox

import (
	"fmt"
	"math"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("blkdiscard", "discard sectors on a device", blkdiscard, "-o", "-l", "-s")
}

// blkdiscard is busybox blkdiscard: BLKDISCARD (BLKSECDISCARD with -s) on
// a byte range of a block device, the whole device by default.
func blkdiscard(p *userland.Proc) int {
	o, args, ok := getopt(p, "o:l:s")
	if !ok {
		return 1
	}
	if len(args) != 1 {
		return showUsage(p)
	}
	dev := args[0]
	f, err := p.OpenFile(dev, userland.O_RDWR|userland.O_EXCL, 0)
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
	bf, isBlock := f.(userland.BlockFile)
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
