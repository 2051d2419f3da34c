package thintools

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/thinmeta"
)

// makeBigImage writes a 1 GiB metadata image holding about 0.85 GiB of
// btrees: 8 thin devices with 27.6M mappings between them, restored as
// thin_restore does (half-full leaves).
func makeBigImage(b *testing.B, path string) {
	const size = 1 << 30
	const perDev = 3_450_000
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	dev, err := OSFS{}.OpenDevice(path, true, false)
	if err != nil {
		b.Fatal(err)
	}
	defer closeDev(dev)
	r, err := thinmeta.NewRestorer(blockDevice{dev})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.BeginSuperblock(thinmeta.PoolHeader{Time: 1, TransID: 1, Version: 2, DataBlockSize: 128, NrDataBlocks: 8 * perDev}); err != nil {
		b.Fatal(err)
	}
	for d := uint64(0); d < 8; d++ {
		if err := r.BeginDevice(d, thinmeta.DeviceDetails{}); err != nil {
			b.Fatal(err)
		}
		for i := uint64(0); i < perDev; i++ {
			if err := r.Map(i, d*perDev+i, uint32(i&3)); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.EndDevice(); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkThinCheck1GiB times dmsim's thin_check on a 1 GiB metadata
// image and, when the real thin_check 0.9.0 is installed, runs it once on
// the same image and reports how many times faster dmsim is
// (real-s/ours-s). Run it with
//
//	go test ./thintools -run XXX -bench ThinCheck1GiB -benchtime 3x
//
// The image is built under $DMSIM_BENCH_DIR (default: a temporary
// directory) and kept there for reruns.
func BenchmarkThinCheck1GiB(b *testing.B) {
	dir := os.Getenv("DMSIM_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	img := filepath.Join(dir, "thin-check-1g.img")
	if st, err := os.Stat(img); err != nil || st.Size() != 1<<30 {
		makeBigImage(b, img)
	}
	args := []string{"thin_check", img}
	env := &Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuSelf()
	for i := 0; i < b.N; i++ {
		if rc := ThinCheck(context.Background(), args, env); rc != 0 {
			b.Fatalf("thin_check failed on the benchmark image")
		}
	}
	ours := time.Since(start).Seconds() / float64(b.N)
	cpu := (cpuSelf() - cpu0) / float64(b.N)
	b.StopTimer()
	b.ReportMetric(ours, "s/GiB")
	// CPU time: steadier than elapsed time on a shared machine
	b.ReportMetric(cpu, "cpu-s/GiB")
	if _, err := exec.LookPath("thin_check"); err == nil {
		t0 := time.Now()
		_, realCPU, err := runReal(b, []string{"thin_check", img})
		if err != nil {
			b.Fatalf("real thin_check: %v", err)
		}
		real := time.Since(t0).Seconds()
		b.ReportMetric(real, "real-s/GiB")
		b.ReportMetric(realCPU, "real-cpu-s/GiB")
		b.ReportMetric(real/ours, "x-faster-than-0.9.0")
		b.ReportMetric(realCPU/cpu, "x-less-cpu-than-0.9.0")
		b.ReportMetric(1.75/ours, "x-faster-than-rust-1.x-published")
	}
}
