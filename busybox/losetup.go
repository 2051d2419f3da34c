package busybox

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("losetup", "set up loop devices", losetup, "-d", "-a", "-f", "-r", "-o", "-c", "-P")
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
func simPath(p *userland.Proc, host string) string {
	if s, ok := p.FS.(*userland.SimFS); ok {
		if rel, ok := strings.CutPrefix(host, s.Root); ok {
			return "/" + strings.TrimPrefix(rel, "/")
		}
	}
	return host
}

// losetup is busybox losetup: query (-a, DEV), set up (-f, DEV FILE) and
// detach (-d) loop devices (LOOP_SET_FD, LOOP_GET_STATUS64, LOOP_CLR_FD).
func losetup(p *userland.Proc) int {
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
		s, isSim := p.FS.(*userland.SimFS)
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
