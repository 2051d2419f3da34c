// Package preload is the LD_PRELOAD bridge of dmsim's front end: a small C
// library (csrc/dmsim-preload.c, built with the host's C compiler) that
// makes a dynamically linked program, such as the real /usr/sbin/dmsetup
// or lvm, use dmsim for device-mapper. It sends the program's ioctls on
// /dev/mapper/control (struct dm_ioctl buffers, dm-ioctl.h 4.47.0) and its
// calls on /dev/mapper, /proc/devices, /proc/misc and the block parts of
// /sys over the daemon's socket (frontend/wire's Bridge frames), where
// frontend.BridgeServer answers them from dmsim's kernel (dmsim's
// CtlIoctl, the byte interface of dm-ioctl.c). docs/bridge.md says how to
// use it.
//
// The package's tests run every dmsetup line of every golden scenario
// twice, through dmsim's dmsetup and through the real one over the bridge,
// and compare the transcripts.
package preload

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Source is the library's C source.
//
//go:embed csrc/dmsim-preload.c
var Source []byte

// SocketEnv names the environment variable that points the library at a
// socket other than the shims' fixed /run/dmsim/dmsim.sock.
const SocketEnv = "DMSIM_BRIDGE_SOCKET"

// NodesEnv names the environment variable that makes the nodes under
// /dev/mapper dmsim's own (its kernel's mknod'ed nodes), not the host's: for
// programs that run inside dmsim's machine, such as the differential test's
// real dmsetup with DM_DISABLE_UDEV=1. Under `dmsim exec` leave it unset:
// /dev/mapper/NAME are then the daemon's links to loop devices.
const NodesEnv = "DMSIM_BRIDGE_NODES"

// Build compiles the library to out with cc (the C compiler on PATH, or
// $CC).
func Build(out string) error {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	dir, err := os.MkdirTemp("", "dmsim-preload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "dmsim-preload.c")
	if err := os.WriteFile(src, Source, 0o644); err != nil {
		return err
	}
	if abs, err := filepath.Abs(out); err == nil {
		out = abs
	}
	cmd := exec.Command(cc, "-O2", "-Wall", "-shared", "-fPIC", "-o", out, src, "-ldl", "-lpthread")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", cc, err, b)
	}
	return nil
}
