package busybox

import (
	"fmt"
	"math"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("truncate", "shrink or extend files", truncateCmd, "-c", "-s")
}

// truncateCmd is busybox truncate: set regular files to a size (-s);
// block devices are left alone.
func truncateCmd(p *userland.Proc) int {
	o, files, ok := getopt(p, "cs:")
	if !ok {
		return 1
	}
	if !o.has('s') || len(files) == 0 {
		return showUsage(p)
	}
	size, err := parseNumber(o.arg('s'), kMGSuffixes, 0, math.MaxInt64)
	if err != nil {
		fmt.Fprintf(p.Stderr, "truncate: %v\n", err)
		return 1
	}
	status := 0
	for _, f := range files {
		flag := userland.O_WRONLY
		if !o.has('c') {
			flag |= userland.O_CREATE
		}
		fh, err := p.OpenFile(f, flag, 0o666)
		if err != nil {
			if o.has('c') && linuxerr.ToErrno(err) == 2 {
				continue
			}
			cantOpen(p, f, err)
			status = 1
			continue
		}
		fi, _ := fh.Stat()
		fh.Close()
		if fi != nil && !fi.Mode().IsRegular() {
			if bf, ok := fh.(userland.BlockFile); ok && bf != nil {
				continue
			}
		}
		if err := p.FS.Truncate(p.Abs(f), int64(size)); err != nil {
			fmt.Fprintf(p.Stderr, "truncate: %s: truncate: %s\n", f, linuxerr.Strerror(err))
			status = 1
		}
	}
	return status
}
