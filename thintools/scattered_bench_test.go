package thintools

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dmsim/dmsim/internal/realtools"
	"github.com/dmsim/dmsim/thinmeta"
)

// scatteredFixture is issue 13's pool of n scattered mappings over 8
// devices: its XML, dmsim's image of it and (with the real tools) the real
// thin_restore's, kept in $DMSIM_BENCH_DIR for reruns.
type scatteredFixture struct {
	dir, xml, img string
	n             uint64
	size          int64
}

var fixtures sync.Map // n -> *scatteredFixture

// benchMappings is $DMSIM_BENCH_SCATTERED, default 10M.
func benchMappings(b *testing.B) uint64 {
	n := uint64(10_000_000)
	if s := os.Getenv("DMSIM_BENCH_SCATTERED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			b.Fatalf("DMSIM_BENCH_SCATTERED: %v", err)
		}
		n = v
	}
	return n
}

func benchDir(b *testing.B) string {
	d := os.Getenv("DMSIM_BENCH_DIR")
	if d == "" {
		d = filepath.Join(os.TempDir(), "dmsim-bench")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		b.Fatal(err)
	}
	return d
}

func getScattered(b *testing.B) *scatteredFixture {
	n := benchMappings(b)
	if f, ok := fixtures.Load(n); ok {
		return f.(*scatteredFixture)
	}
	dir := benchDir(b)
	f := &scatteredFixture{dir: dir, n: n, size: scatteredImageSize(n, 1),
		xml: fmt.Sprintf("scattered-%d.xml", n), img: fmt.Sprintf("scattered-%d.img", n)}
	if _, err := os.Stat(filepath.Join(dir, f.xml)); err != nil {
		makeScatteredXML(b, filepath.Join(dir, f.xml+".tmp"), n, 8, 1)
		if err := os.Rename(filepath.Join(dir, f.xml+".tmp"), filepath.Join(dir, f.xml)); err != nil {
			b.Fatal(err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, f.img)); err != nil || st.Size() != f.size {
		f.restore(b, f.img)
	}
	fixtures.Store(n, f)
	return f
}

// restore restores the fixture's XML onto dir/img with dmsim's
// thin_restore (in this process).
func (f *scatteredFixture) restore(b *testing.B, img string) {
	prepare(b, f, img)
	args := []string{"thin_restore", "-i", filepath.Join(f.dir, f.xml), "-o", filepath.Join(f.dir, img)}
	var stderr bytes.Buffer
	if rc := ThinRestore(context.Background(), args, &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}); rc != 0 {
		b.Fatalf("thin_restore: %s", stderr.String())
	}
}

// runReal runs a real 0.9.0 tool with output discarded and returns its
// peak RSS in MiB and its CPU time (user and system) in seconds.
func runReal(b *testing.B, args []string) (rss, cpu float64, err error) {
	cmd := exec.Command(realtools.Path(b, args[0]), args[1:]...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	rss, err = runPeakRSS(cmd)
	if err != nil {
		return 0, 0, fmt.Errorf("real %s: %v: %s", args[0], err, stderr.String())
	}
	return rss, (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(), nil
}

// cpuSelf is this process's CPU time so far (user and system), seconds.
func cpuSelf() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runPeakRSS runs cmd and returns its peak RSS in MiB: the last VmHWM
// read from /proc while it ran (polled every 5 ms). The child's
// rusage.ru_maxrss would not do: Go starts children with vfork, and
// execve keeps the parent's (this test's) high-water mark in it.
func runPeakRSS(cmd *exec.Cmd) (float64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm float64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return hwm, err
		case <-tick.C:
			if data, err := os.ReadFile(status); err == nil {
				for _, line := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
						hwm = max(hwm, kb/1024)
					}
				}
			}
		}
	}
}

// lastReal is the time of the real tool's last run of each operation, for
// the ratio the dmsim sub-benchmark that follows reports.
var lastReal sync.Map // op -> [2]float64{seconds, CPU seconds}

// realImage says the real thin_restore wrote restore-real.img of the
// fixture of n mappings in this run.
var realImage sync.Map // n -> true

// BenchmarkScattered runs thin_check, thin_dump and thin_restore on issue
// 13's pool of 10M scattered single mappings over 8 devices, each first
// with the real 0.9.0 (sub-benchmark real-0.9.0, when installed) and then
// with dmsim's (dmsim), which reports x-faster-than-0.9.0 (elapsed time)
// and x-less-cpu-than-0.9.0 (CPU time: steadier on a shared machine)
// against the real run just before it. thin_restore's dmsim run also reports the peak RSS
// of a restore in a child process, and fails if its image differs from the
// real thin_restore's. Run it with
//
//	go test ./thintools -run XXX -bench Scattered -benchtime 1x -count 3 -timeout 60m
//
// $DMSIM_BENCH_SCATTERED sets the number of mappings; the XML and images
// are kept in $DMSIM_BENCH_DIR (default $TMPDIR/dmsim-bench).
func BenchmarkScattered(b *testing.B) {
	f := getScattered(b)
	img := filepath.Join(f.dir, f.img)
	for _, op := range []struct {
		name string
		args []string
		cmd  Command
	}{
		{"check", []string{"thin_check", img}, ThinCheck},
		{"dump", []string{"thin_dump", img}, ThinDump},
		{"restore", []string{"thin_restore", "-i", filepath.Join(f.dir, f.xml), "-o", filepath.Join(f.dir, "restore-ours.img")}, ThinRestore},
	} {
		b.Run(op.name+"/real-0.9.0", func(b *testing.B) {
			if _, err := realtools.Lookup(op.args[0]); err != nil {
				b.Skip(err)
			}
			var rss, cpu float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				args := op.args
				if op.name == "restore" {
					b.StopTimer()
					prepare(b, f, "restore-real.img")
					b.StartTimer()
					args = []string{"thin_restore", "-i", filepath.Join(f.dir, f.xml), "-o", filepath.Join(f.dir, "restore-real.img")}
				}
				r, c, err := runReal(b, args)
				if err != nil {
					b.Fatal(err)
				}
				rss, cpu = max(rss, r), cpu+c
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			lastReal.Store(op.name, [2]float64{s, cpu / float64(b.N)})
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
			if op.name == "restore" {
				realImage.Store(f.n, true)
			}
			b.ReportMetric(rss, "peak-RSS-MiB")
		})
		b.Run(op.name+"/dmsim", func(b *testing.B) {
			env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
			var cpu float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if op.name == "restore" {
					b.StopTimer()
					prepare(b, f, "restore-ours.img")
					b.StartTimer()
				}
				c0 := cpuSelf()
				if rc := op.cmd(context.Background(), op.args, env); rc != 0 {
					b.Fatalf("%s failed", op.args[0])
				}
				cpu += cpuSelf() - c0
			}
			ours := b.Elapsed().Seconds() / float64(b.N)
			cpu /= float64(b.N)
			b.ReportMetric(cpu, "cpu-s/op")
			if op.name == "check" {
				b.ReportMetric(ours/(float64(metadataBytes(b, img))/1e9), "s/GB-metadata")
			}
			if r, ok := lastReal.Load(op.name); ok {
				real := r.([2]float64)
				b.ReportMetric(real[0]/ours, "x-faster-than-0.9.0")
				b.ReportMetric(real[1]/cpu, "x-less-cpu-than-0.9.0")
			}
			if op.name == "restore" {
				b.StopTimer()
				b.ReportMetric(childRestoreRSS(b, f), "peak-RSS-MiB")
				if _, ok := realImage.Load(f.n); ok {
					if d := diffImages(b, filepath.Join(f.dir, "restore-real.img"), filepath.Join(f.dir, "restore-ours.img")); d != "" {
						b.Error(d)
					}
				}
			}
		})
	}
}

// prepare makes dir/img a zeroed file of the fixture's size (callers stop
// the timer).
func prepare(b *testing.B, f *scatteredFixture, img string) {
	b.Helper()
	p := filepath.Join(f.dir, img)
	os.Remove(p)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Truncate(p, f.size); err != nil {
		b.Fatal(err)
	}
}

// diffImages compares two images block by block, streaming.
func diffImages(b *testing.B, x, y string) string {
	fx, err := os.Open(x)
	if err != nil {
		b.Fatal(err)
	}
	defer fx.Close()
	fy, err := os.Open(y)
	if err != nil {
		b.Fatal(err)
	}
	defer fy.Close()
	bx, by := make([]byte, 1<<20), make([]byte, 1<<20)
	nd, first := 0, int64(-1)
	for off := int64(0); ; off += int64(len(bx)) {
		nx, _ := io.ReadFull(fx, bx)
		ny, _ := io.ReadFull(fy, by)
		if nx != ny {
			return fmt.Sprintf("%s and %s differ in size", x, y)
		}
		for i := 0; i < nx; i += blockSize {
			if !bytes.Equal(bx[i:i+blockSize], by[i:i+blockSize]) {
				if first < 0 {
					first = (off + int64(i)) / blockSize
				}
				nd++
			}
		}
		if nx < len(bx) {
			break
		}
	}
	if nd > 0 {
		return fmt.Sprintf("dmsim's thin_restore image differs from the real one in %d blocks, the first at block %d", nd, first)
	}
	return ""
}

// childRestoreRSS runs dmsim's thin_restore of the fixture in a child
// process (this test binary, TestRestoreChild) and returns its peak RSS.
func childRestoreRSS(b *testing.B, f *scatteredFixture) float64 {
	prepare(b, f, "restore-child.img")
	defer os.Remove(filepath.Join(f.dir, "restore-child.img"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestRestoreChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DMSIM_RESTORE_CHILD_IN="+filepath.Join(f.dir, f.xml), "DMSIM_RESTORE_CHILD_OUT="+filepath.Join(f.dir, "restore-child.img"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	rss, err := runPeakRSS(cmd)
	if err != nil {
		b.Fatalf("child thin_restore: %v\n%s", err, out.String())
	}
	return rss
}

// TestRestoreChild is childRestoreRSS's child: it does nothing unless
// DMSIM_RESTORE_CHILD_IN and _OUT name the XML and the image.
func TestRestoreChild(t *testing.T) {
	in, out := os.Getenv("DMSIM_RESTORE_CHILD_IN"), os.Getenv("DMSIM_RESTORE_CHILD_OUT")
	if in == "" || out == "" {
		t.Skip("only as BenchmarkScattered's child")
	}
	var stderr bytes.Buffer
	if rc := ThinRestore(context.Background(), []string{"thin_restore", "-i", in, "-o", out}, &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}); rc != 0 {
		t.Fatalf("thin_restore: %s", stderr.String())
	}
}

// metadataBytes is the metadata in use in an image: its metadata space
// map's nr_allocated blocks.
func metadataBytes(b *testing.B, img string) uint64 {
	fd, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	defer fd.Close()
	buf := make([]byte, blockSize)
	if _, err := fd.ReadAt(buf, 0); err != nil {
		b.Fatal(err)
	}
	sb := thinmeta.DecodeSuperblock(buf)
	return sb.MetadataSpaceMap().NrAllocated * blockSize
}
