package frontend

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmsim/dmsim/frontend/fuseblk"
	"github.com/dmsim/dmsim/internal/hostcaps"
	"github.com/dmsim/dmsim/script"
	"golang.org/x/sys/unix"
)

// startBench runs a daemon for a benchmark; blockDevices asks for FUSE and
// loop devices (root).
func startBench(b *testing.B, blockDevices bool, disks []script.Disk) (*Daemon, string) {
	b.Helper()
	state := b.TempDir()
	if blockDevices {
		// The disk images on tmpfs, as the plain loop device's file.
		state = tmpfs(b)
	}
	mapper := filepath.Join(state, "mapper")
	d, err := Start(b.Context(), Config{StateDir: state, Disks: disks, Socket: filepath.Join(state, socketFile),
		MapperDir: mapper, NoBlockDevices: !blockDevices, Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d, mapper
}

func mustShim(b *testing.B, d *Daemon, argv ...string) {
	if r := shimRun(d, "", argv...); r.status != 0 {
		b.Fatalf("%v: %+v", argv, r)
	}
}

// BenchmarkShimRoundTrip is one `dmsetup version` through a shim: connect,
// request, run, answer.
func BenchmarkShimRoundTrip(b *testing.B) {
	d, _ := startBench(b, false, testDisks)
	for b.Loop() {
		mustShim(b, d, "dmsetup", "version")
	}
}

// BenchmarkMessages1000 is 1,000 sequential `dmsetup message` calls to a
// thin pool (set_transaction_id, each a metadata commit), as a thin test
// suite's lots-of-thins makes them.
func BenchmarkMessages1000(b *testing.B) {
	d, _ := startBench(b, false, testDisks)
	mustShim(b, d, "dmsetup", "create", "pool", "--table", "0 131072 thin-pool /dev/vda /dev/vdb 128 0")
	id := 0
	for b.Loop() {
		for range 1000 {
			mustShim(b, d, "dmsetup", "message", "pool", "0", fmt.Sprintf("set_transaction_id %d %d", id, id+1))
			id++
		}
	}
}

// tmpfs is a new tmpfs, unmounted at the end.
func tmpfs(b *testing.B) string {
	dir := b.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=3g"); err != nil {
		b.Skipf("tmpfs: %v", err)
	}
	b.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// benchTarget is a block device to measure: a thin of dmsim through its
// loop device, or a loop device on a plain file on tmpfs.
type benchTarget struct {
	name  string
	setup func(b *testing.B) string // returns the device path
}

var ioTargets = []benchTarget{
	{"dmsim-thin", func(b *testing.B) string {
		d, mapper := startBench(b, true, []script.Disk{{Name: "meta", Size: 64 << 20}, {Name: "data", Size: 2 << 30}})
		mustShim(b, d, "dmsetup", "create", "pool", "--table", "0 4194304 thin-pool /dev/vda /dev/vdb 128 0 1 skip_block_zeroing")
		mustShim(b, d, "dmsetup", "message", "pool", "0", "create_thin 0")
		mustShim(b, d, "dmsetup", "create", "thin", "--table", "0 2097152 thin /dev/mapper/pool 0")
		return filepath.Join(mapper, "thin")
	}},
	{"loop-on-tmpfs", func(b *testing.B) string {
		f := filepath.Join(tmpfs(b), "plain")
		os.WriteFile(f, nil, 0o644)
		os.Truncate(f, 1<<30)
		out, err := exec.Command("losetup", "--find", "--show", f).Output()
		if err != nil {
			b.Fatal(err)
		}
		dev := string(out[:len(out)-1])
		b.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
		return dev
	}},
}

// BenchmarkDirectIO: sequential 1 MiB O_DIRECT writes, then reads, of 256
// MiB through /dev/mapper/THIN (the daemon's disk images on tmpfs) and
// through a loop device on a tmpfs file, alternating between the two every
// 16 MiB (which goes first swapping each time) so that both see the same
// load from the rest of the machine; both devices are written once before
// (the thin's blocks provisioned). It reports each side's MB/s and CPU time
// per MiB: cpu is this process's (the daemon runs in it) plus the kernel
// workers' (where a loop device does its I/O), self this process's alone;
// ratio is the thin's speed over the plain loop device's, cpu-ratio the
// plain loop device's CPU time over the thin's.
func BenchmarkDirectIO(b *testing.B) {
	directIO(b, ioTargets, func(b *testing.B, r ioResult) {
		b.ReportMetric(r.wall[1].Seconds()/r.wall[0].Seconds(), "ratio")
		b.ReportMetric(r.cpu[1].Seconds()/r.cpu[0].Seconds(), "cpu-ratio")
	})
}

// BenchmarkFUSECeiling is BenchmarkDirectIO with a third side between
// the two: plain-fuse, a file of our FUSE file system (fuseblk, mounted as
// the daemon mounts it) whose device only reads and writes a tmpfs file,
// behind a loop device as the daemon attaches one. It is what the FUSE and
// loop path costs with no device-mapper behind it, the ceiling of the
// thin's speed: fuse-ratio is plain-fuse's speed over the plain loop
// device's, thin-vs-fuse the thin's over plain-fuse's, ratio the thin's
// over the plain loop device's.
func BenchmarkFUSECeiling(b *testing.B) {
	targets := []benchTarget{ioTargets[0], {"plain-fuse", plainFUSE}, ioTargets[1]}
	directIO(b, targets, func(b *testing.B, r ioResult) {
		b.ReportMetric(r.wall[2].Seconds()/r.wall[1].Seconds(), "fuse-ratio")
		b.ReportMetric(r.wall[1].Seconds()/r.wall[0].Seconds(), "thin-vs-fuse")
		b.ReportMetric(r.wall[2].Seconds()/r.wall[0].Seconds(), "ratio")
	})
}

// ioResult is what directIO measured of each target: wall time, CPU time
// (this process and the kernel workers) and this process's CPU time.
type ioResult struct{ wall, cpu, self []time.Duration }

// directIO runs BenchmarkDirectIO's writes and reads on targets,
// alternating between them every 16 MiB, reports each target's MB/s and
// CPU time per MiB, and then calls ratios.
func directIO(b *testing.B, targets []benchTarget, ratios func(*testing.B, ioResult)) {
	hostcaps.RequireLoop(b)
	const total, slice = 256 << 20, 16 << 20
	buf := alignedBuf(1 << 20)
	for i := range buf {
		buf[i] = byte(i)
	}
	// pass does [off, off+n) of the device in 1 MiB requests.
	pass := func(b *testing.B, f *os.File, write bool, off, n int64) {
		for end := off + n; off < end; off += 1 << 20 {
			var err error
			if write {
				_, err = f.WriteAt(buf, off)
			} else {
				_, err = f.ReadAt(buf, off)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, op := range []string{"write", "read"} {
		b.Run(op, func(b *testing.B) {
			files := make([]*os.File, len(targets))
			for i, tg := range targets {
				f, err := os.OpenFile(tg.setup(b), os.O_RDWR|syscall.O_DIRECT, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				pass(b, f, true, 0, total)
				files[i] = f
			}
			clock := newCPUClock(b)
			r := ioResult{make([]time.Duration, len(files)), make([]time.Duration, len(files)), make([]time.Duration, len(files))}
			iters, turn := 0, 0
			for b.Loop() {
				for off := int64(0); off < total; off += slice {
					for j := range files {
						i := (j + turn) % len(files)
						s0, c0, t0 := selfCPU(), clock.now(), time.Now()
						pass(b, files[i], op == "write", off, slice)
						r.wall[i] += time.Since(t0)
						r.cpu[i] += clock.now() - c0
						r.self[i] += selfCPU() - s0
					}
					turn++
				}
				iters++
			}
			mib := float64(iters) * total / (1 << 20)
			for i, tg := range targets {
				b.ReportMetric(mib*(1<<20)/1e6/r.wall[i].Seconds(), tg.name+"-MB/s")
				b.ReportMetric(float64(r.cpu[i].Microseconds())/mib, tg.name+"-cpu-us/MiB")
				b.ReportMetric(float64(r.self[i].Microseconds())/mib, tg.name+"-self-us/MiB")
			}
			ratios(b, r)
		})
	}
}

// plainFUSE sets up BenchmarkFUSECeiling's middle side: a fuseblk
// file of 1 GiB on a tmpfs file, with a loop device attached by
// attachLoop. It returns the loop device.
func plainFUSE(b *testing.B) string {
	img, err := os.Create(filepath.Join(tmpfs(b), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { img.Close() })
	if err := img.Truncate(1 << 30); err != nil {
		b.Fatal(err)
	}
	fsys, err := fuseblk.Mount(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fsys.Unmount() })
	if err := fsys.Add("plain", fileDevice{img, 1 << 30}); err != nil {
		b.Fatal(err)
	}
	loop, _, err := attachLoop(filepath.Join(fsys.Dir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { detachLoop(loop) })
	return loop
}

// fileDevice is a fuseblk.Device on a file of size bytes, with nothing in
// between.
type fileDevice struct {
	f    *os.File
	size int64
}

func (d fileDevice) Size() int64                              { return d.size }
func (d fileDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d fileDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d fileDevice) Flush() error                             { return d.f.Sync() }
func (d fileDevice) Discard(off, n int64) error {
	return unix.Fallocate(int(d.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
func (d fileDevice) WriteZeroes(off, n int64) error { return d.Discard(off, n) }

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}

// cpuClock reads the CPU time of this process and of the kernel's workers
// (kworker threads, where loop devices do their I/O), the workers'
// /proc/PID/schedstat files opened once. A worker that has exited keeps
// the last time read from it (its file then fails to read), so the clock
// never goes backwards.
type cpuClock struct {
	workers []*os.File
	last    []time.Duration
}

func newCPUClock(b *testing.B) *cpuClock {
	c := &cpuClock{}
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range comms {
		name, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(name), "kworker") {
			continue
		}
		if f, err := os.Open(filepath.Join(filepath.Dir(p), "schedstat")); err == nil {
			c.workers = append(c.workers, f)
		}
	}
	c.last = make([]time.Duration, len(c.workers))
	b.Cleanup(func() {
		for _, f := range c.workers {
			f.Close()
		}
	})
	return c
}

func (c *cpuClock) now() time.Duration {
	t := selfCPU()
	var buf [64]byte
	for i, f := range c.workers {
		n, _ := f.ReadAt(buf[:], 0)
		var ns int64
		if _, err := fmt.Sscan(string(buf[:n]), &ns); err == nil && time.Duration(ns) > c.last[i] {
			c.last[i] = time.Duration(ns)
		}
		t += c.last[i]
	}
	return t
}

// BenchmarkMkfsExt4 is mkfs.ext4 of a 1 GiB device, the same two ways.
func BenchmarkMkfsExt4(b *testing.B) {
	hostcaps.RequireLoop(b, "mkfs.ext4")
	for _, tg := range ioTargets {
		b.Run(tg.name, func(b *testing.B) {
			dev := tg.setup(b)
			for b.Loop() {
				if out, err := exec.Command("mkfs.ext4", "-q", "-F", dev).CombinedOutput(); err != nil {
					b.Fatalf("mkfs.ext4: %v: %s", err, out)
				}
			}
		})
	}
}
