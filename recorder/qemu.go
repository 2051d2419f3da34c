package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dmsim/dmsim/scenario"
)

// KernelCmdline is the guest kernel command line. quiet only keeps the console (ttyS0) short;
// the kernel log that `dmesg -r -c` reads is not affected. Under TCG on a busy host the guest's
// clocks jump, so everything that would log about real-time hiccups is switched off: the
// clocksource watchdog ("Long readout interval, skipping watchdog check"; tsc=reliable), the
// lockup detectors (nowatchdog) and RCU stall warnings.
const KernelCmdline = "console=ttyS0 printk.time=0 panic=-1 rdinit=/init quiet tsc=reliable nowatchdog rcupdate.rcu_cpu_stall_suppress=1"

// vmDisk is one disk attached to a boot.
type vmDisk struct {
	Name    string
	Path    string
	Format  string // raw, or qcow2 for disks bigger than the host file system's files (newDiskImage)
	Discard bool
	Cache   string // qemu's cache mode; writeback when empty
	// Log, if set, is the file qemu's blklogwrites driver writes the disk's bio log to, in the
	// dm-log-writes format (package biolog): every write, discard and flush the guest's kernel
	// sends the disk, in the order qemu receives them.
	Log string
}

// driveSpec is the -drive option of disk i at boot n: a raw or qcow2 image, or, with a bio log,
// blklogwrites over the image (after the first boot it appends to the log).
func driveSpec(i, n int, d vmDisk) string {
	cache := d.Cache
	if cache == "" {
		cache = "writeback"
	}
	if d.Log == "" {
		return fmt.Sprintf("if=none,id=d%d,file=%s,format=%s,cache=%s", i, d.Path, d.Format, cache)
	}
	// The image under the log: a raw file, or a qcow2 node over the file.
	image := "file.driver=file,file.filename=" + d.Path
	if d.Format == "qcow2" {
		image = "file.driver=qcow2,file.file.driver=file,file.file.filename=" + d.Path
	}
	logFile := "log.driver=file,log.filename=" + d.Log
	if cache == "unsafe" {
		// Unsafe on the logger itself would drop the guest's flushes before it logs them:
		// only its children skip the host's syncs.
		cache = "writeback"
		image += ",file.cache.no-flush=on"
		logFile += ",log.cache.no-flush=on"
	}
	s := fmt.Sprintf("if=none,id=d%d,driver=blklogwrites,%s,%s,log-super-update-interval=1,cache=%s",
		i, image, logFile, cache)
	if n > 1 {
		// The log keeps its sector size; qemu refuses to be told it again.
		return s + ",log-append=on"
	}
	return s + ",log-sector-size=512"
}

// bootVM boots the image once with the given initrd and disks and returns what the guest sent on
// its second serial port. The console log is written to dir/console-N.log.
func bootVM(ctx context.Context, img *Image, accel, icount, dir string, n int, initrd []byte, disks []vmDisk, timeout time.Duration) ([]byte, error) {
	initrdPath := filepath.Join(dir, fmt.Sprintf("initrd-%d", n))
	base, err := os.ReadFile(img.Initramfs)
	if err != nil {
		return nil, err
	}
	// The kernel looks for a cpio archive at 4-byte aligned offsets only.
	for len(base)%4 != 0 {
		base = append(base, 0)
	}
	if err := os.WriteFile(initrdPath, append(base, initrd...), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(initrdPath)
	console := filepath.Join(dir, fmt.Sprintf("console-%d.log", n))
	stream := filepath.Join(dir, fmt.Sprintf("stream-%d.bin", n))
	os.Remove(stream)
	args := []string{
		"-machine", "pc,accel=" + accel, "-m", "512", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", img.Kernel, "-initrd", initrdPath, "-append", KernelCmdline,
		"-serial", "file:" + console, "-serial", "file:" + stream,
	}
	if icount != "" {
		args = append(args, "-icount", icount)
	}
	for i, d := range disks {
		drive := driveSpec(i, n, d)
		dev := fmt.Sprintf("virtio-blk-pci,drive=d%d,serial=%s", i, d.Name)
		if d.Discard {
			drive += ",discard=unmap"
		} else {
			dev += ",discard=off"
		}
		args = append(args, "-drive", drive, "-device", dev)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("boot %d: %w after %v (console log: %s)", n, ctx.Err(), timeout, console)
	}
	out, rerr := os.ReadFile(stream)
	if err != nil {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w: qemu: %s", err, s)
		}
		return out, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if s := strings.TrimSpace(stderr.String()); s != "" && !bytes.Contains(out, []byte("@@DMSIM END\n")) {
		return out, fmt.Errorf("qemu: %s", s)
	}
	return out, nil
}

// DetectAccel returns "kvm" if a KVM guest boots and finishes a trivial script within
// probeTimeout, otherwise "tcg". Nested KVM hangs on some machines, so the answer is probed once
// and cached in cacheDir (keyed by the image).
func DetectAccel(ctx context.Context, img *Image, cacheDir string, probeTimeout time.Duration, logf func(string, ...any)) string {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "tcg"
	}
	// Whether nested KVM works is a property of the host, not of the image.
	qemuKey := ""
	if p, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		if st, err := os.Stat(p); err == nil {
			qemuKey = fmt.Sprintf("-%d-%d", st.Size(), st.ModTime().Unix())
		}
	}
	cache := filepath.Join(cacheDir, "accel-"+img.KVer+qemuKey)
	if b, err := os.ReadFile(cache); err == nil {
		if a := strings.TrimSpace(string(b)); a == "kvm" || a == "tcg" {
			return a
		}
	}
	logf("probing KVM (at most %v)", probeTimeout)
	dir, err := os.MkdirTemp("", "dmsim-probe-")
	if err != nil {
		return "tcg"
	}
	defer os.RemoveAll(dir)
	s := &scenario.Script{Name: "probe"}
	out, err := bootVM(ctx, img, "kvm", "", dir, 1, segment(s, 1, nil), nil, probeTimeout)
	accel := "tcg"
	if err == nil && bytes.HasSuffix(out, []byte("@@DMSIM END\n")) {
		accel = "kvm"
	} else if errors.Is(err, context.Canceled) {
		return "tcg" // interrupted: do not cache
	}
	logf("KVM probe: using %s", accel)
	os.WriteFile(cache, []byte(accel+"\n"), 0o644)
	return accel
}
