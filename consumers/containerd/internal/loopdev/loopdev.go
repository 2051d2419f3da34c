// Package loopdev finds and detaches the loop devices a test run leaked,
// chosen by where their backing file lives and by nothing else.
//
// containerd's devmapper tests attach loop devices on files in their
// t.TempDir() (core/mount.AttachLoopDevice: LOOP_CTL_GET_FREE, then
// LOOP_CONFIGURE without autoclear) and detach them in deferred calls that a
// panic or a kill skips. Loop devices are global, not per mount namespace, so
// the harness gives each run a private TMPDIR and afterwards detaches exactly
// the loop devices whose backing file is under it.
package loopdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// SysBlock is where the kernel lists block devices.
const SysBlock = "/sys/block"

// loopClrFD is LOOP_CLR_FD from <linux/loop.h>.
const loopClrFD = 0x4C01

// Loop is an attached loop device.
type Loop struct {
	Dev     string // /dev/loopN
	Backing string // its backing file, as /sys/block/loopN/loop/backing_file shows it
}

// Under lists the loop devices in sysBlock whose backing file is dir or lies
// below it. A backing file removed since it was attached still counts: the
// kernel shows it with a " (deleted)" suffix. dir must be absolute and not "/".
func Under(sysBlock, dir string) ([]Loop, error) {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) == "/" {
		return nil, fmt.Errorf("loopdev: refusing to select loop devices under %q", dir)
	}
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, err
	}
	var loops []Loop
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "loop") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "loop", "backing_file"))
		if err != nil {
			continue // not attached: the kernel has no loop/ directory then
		}
		backing := strings.TrimSuffix(strings.TrimRight(string(b), "\n"), " (deleted)")
		if backing == dir || strings.HasPrefix(backing, dir+"/") {
			loops = append(loops, Loop{Dev: "/dev/" + e.Name(), Backing: backing})
		}
	}
	sort.Slice(loops, func(i, j int) bool { return loops[i].Dev < loops[j].Dev })
	return loops, nil
}

// Detach is LOOP_CLR_FD on dev. On a loop device still open elsewhere the
// kernel only sets autoclear, and detaches it at the last close. A device
// already detached (ENXIO) is not an error.
func Detach(dev string) error {
	f, err := os.Open(dev)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), loopClrFD, 0)
	if errno != 0 && !errors.Is(errno, syscall.ENXIO) {
		return fmt.Errorf("%s: LOOP_CLR_FD: %w", dev, errno)
	}
	return nil
}

// DetachUnder detaches every loop device whose backing file is under dir and
// returns those it detached.
func DetachUnder(dir string) ([]Loop, error) {
	loops, err := Under(SysBlock, dir)
	if err != nil {
		return nil, err
	}
	var done []Loop
	var errs []error
	for _, l := range loops {
		if err := Detach(l.Dev); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, l)
	}
	return done, errors.Join(errs...)
}
