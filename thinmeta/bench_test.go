package thinmeta

import (
	"bufio"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// benchPool makes a pool on a sparse temporary image file of metaBytes.
func benchPool(b *testing.B, metaBytes int64, nrData uint64) (*PoolMetadata, *block.FileDevice) {
	return benchPoolOpts(b, metaBytes, nrData, Options{})
}

func benchPoolOpts(b *testing.B, metaBytes int64, nrData uint64, opts Options) (*PoolMetadata, *block.FileDevice) {
	p := filepath.Join(b.TempDir(), "meta.img")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(metaBytes); err != nil {
		b.Fatal(err)
	}
	dev := &block.FileDevice{F: f}
	return benchPoolOn(b, dev, nrData, opts), dev
}

// benchPoolOn formats a pool on dev with nrData data blocks and commits it.
func benchPoolOn(b *testing.B, dev block.Device, nrData uint64, opts Options) *PoolMetadata {
	pmd, err := Open(dev, 128, true, opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := pmd.ResizeDataDev(nrData); err != nil {
		b.Fatal(err)
	}
	if err := pmd.CommitMetadata(); err != nil {
		b.Fatal(err)
	}
	return pmd
}

// flatDevice is a metadata device in one byte slice: a read or a write is
// a copy and a flush does nothing. BenchmarkPoolScale runs on it to
// measure the metadata work without the host's system calls.
type flatDevice []byte

func (d flatDevice) ReadAt(p []byte, off int64) (int, error)  { return copy(p, d[off:]), nil }
func (d flatDevice) WriteAt(p []byte, off int64) (int, error) { return copy(d[off:], p), nil }
func (d flatDevice) Flush() error                             { return nil }
func (d flatDevice) Size() int64                              { return int64(len(d)) }

// provision maps vblock to a new data block, like the thin target.
func provision(b *testing.B, td *ThinDevice, vb uint64) {
	db, err := td.pmd.AllocDataBlock()
	if err != nil {
		b.Fatal(err)
	}
	if err := td.InsertBlock(vb, db); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInsert: dm_pool_alloc_data_block() + dm_thin_insert_block() of
// random virtual blocks, committing every 10000 (like a busy pool's
// periodic commit).
func BenchmarkInsert(b *testing.B) {
	pmd, _ := benchPool(b, 1<<30, uint64(b.N)+1000)
	pmd.CreateThin(0)
	td, _ := pmd.OpenThinDevice(0)
	rng := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		provision(b, td, uint64(rng.Int63n(1<<32)))
		if i%10000 == 9999 {
			pmd.CommitMetadata()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}

// BenchmarkLookup: dm_thin_find_block() on a device with 1M mappings.
func BenchmarkLookup(b *testing.B) {
	const n = 1 << 20
	pmd, _ := benchPool(b, 1<<30, n)
	pmd.CreateThin(0)
	td, _ := pmd.OpenThinDevice(0)
	for vb := uint64(0); vb < n; vb++ {
		provision(b, td, vb)
		if vb%100000 == 99999 {
			pmd.CommitMetadata()
		}
	}
	pmd.CommitMetadata()
	rng := rand.New(rand.NewSource(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := td.FindBlock(uint64(rng.Int63n(n)), true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkCommit: a commit after 1000 random provisions (shadowing,
// space map commits, the index block, flush and the FUA superblock write
// to a file).
func BenchmarkCommit(b *testing.B) {
	pmd, _ := benchPool(b, 1<<30, uint64(b.N)*1000+1000)
	pmd.CreateThin(0)
	td, _ := pmd.OpenThinDevice(0)
	rng := rand.New(rand.NewSource(3))
	var commit time.Duration
	for i := 0; i < b.N; i++ {
		for j := 0; j < 1000; j++ {
			provision(b, td, uint64(rng.Int63n(1<<32)))
		}
		t0 := time.Now()
		if err := pmd.CommitMetadata(); err != nil {
			b.Fatal(err)
		}
		commit += time.Since(t0)
	}
	b.ReportMetric(float64(commit.Microseconds())/float64(b.N), "us/commit")
}

func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(s.Text())[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// cpuSeconds is this process's CPU time so far (user and system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkPoolScale builds one thin device with DMSIM_BENCH_MAPPINGS
// mappings (default 1,000,000; 10,000,000 for the full-size run, 235 MiB
// of metadata; 100,000,000 for `just bench-100m`), committing every
// 100,000, then closes and checks the image with the walker. It reports
// the peak RSS of the process.
func BenchmarkPoolScale(b *testing.B) {
	n := uint64(1_000_000)
	if s := os.Getenv("DMSIM_BENCH_MAPPINGS"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	// DMSIM_BENCH_CACHE_MIB shrinks the block cache: 10M mappings with 16
	// MiB miss it as 100M mappings do with the default 160 MiB (0.009
	// reads an insert). A partial proxy: at 10M the allocator never wraps
	// around the metadata device, so shadows land on consecutive blocks
	// and go out 12 to a write (0.003 writes an insert); at 100M they fill
	// the holes freed by earlier shadows, 3 to a write (0.036).
	// DMSIM_BENCH_DEVICE=memory keeps the metadata in memory (flatDevice)
	// instead of a file: the same build without the host's writes, reads
	// and flushes, to tell their cost from the metadata's own. Its peak
	// RSS counts the whole device.
	memory := false
	switch d := os.Getenv("DMSIM_BENCH_DEVICE"); d {
	case "", "file":
	case "memory":
		memory = true
	default:
		b.Fatalf("DMSIM_BENCH_DEVICE=%q: want file or memory", d)
	}
	var cache int64
	if s := os.Getenv("DMSIM_BENCH_CACHE_MIB"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatal(err)
		}
		cache = int64(v * (1 << 20))
	}
	for i := 0; i < b.N; i++ {
		// 10M mappings take 235 MiB of metadata: room for 32 bytes each
		metaBytes := max(1<<30+256<<20, int64(n)*32)
		var dev block.Device
		var pmd *PoolMetadata
		closeDev := func() error { return nil }
		if memory {
			d := make(flatDevice, metaBytes)
			// every page touched first: the build's writes are then
			// copies, not the host's first-touch page faults
			for p := 0; p < len(d); p += os.Getpagesize() {
				d[p] = 0
			}
			dev = d
			pmd = benchPoolOn(b, dev, n+n/10, Options{CacheBytes: cache})
		} else {
			var fdev *block.FileDevice
			pmd, fdev = benchPoolOpts(b, metaBytes, n+n/10, Options{CacheBytes: cache})
			dev, closeDev = fdev, fdev.Close
		}
		pmd.CreateThin(0)
		td, _ := pmd.OpenThinDevice(0)
		t0, cpu0 := time.Now(), cpuSeconds()
		// Mostly sequential with some scattered writes, like a filling
		// filesystem.
		rng := rand.New(rand.NewSource(4))
		for j := uint64(0); j < n; j++ {
			vb := j
			if j%8 == 7 {
				vb = n + uint64(rng.Int63n(1<<34))
			}
			provision(b, td, vb)
			if j%100000 == 99999 {
				if err := pmd.CommitMetadata(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := pmd.CommitMetadata(); err != nil {
			b.Fatal(err)
		}
		build, buildCPU := time.Since(t0), cpuSeconds()-cpu0
		reads, writes, evicted := pmd.bm.Reads, pmd.bm.Writes, pmd.bm.EvictWrites
		b.ReportMetric(float64(pmd.bm.WriteCalls)/float64(n), "write-calls/insert")
		used, _ := pmd.UsedMetadataBlocks()
		td.Close()
		if err := pmd.Close(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if rep := NewImage(dev).Check(); !rep.OK() {
			b.Fatalf("check: %+v", rep.Problems)
		}
		check := time.Since(t1)
		runtime.GC()
		b.ReportMetric(float64(n)/build.Seconds(), "inserts/s")
		// CPU time per insert: the steadier figure on a shared machine,
		// and the one to compare between sizes
		b.ReportMetric(buildCPU/float64(n)*1e6, "cpu-us/insert")
		// block reads and writes of the build: cache misses and write-backs
		b.ReportMetric(float64(reads)/float64(n), "reads/insert")
		b.ReportMetric(float64(writes)/float64(n), "writes/insert")
		// of those, dirty blocks written to make room before their commit
		// (written again at the commit if dirtied again)
		b.ReportMetric(float64(evicted)/float64(n), "evict-writes/insert")
		b.ReportMetric(check.Seconds(), "check-s")
		b.ReportMetric(float64(used)*4096/(1<<20), "metadata-MiB")
		b.ReportMetric(peakRSS(), "peak-RSS-MiB")
		closeDev()
	}
}
