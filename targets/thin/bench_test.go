package thin

import (
	"fmt"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
)

// nullDisk reads zeroes and drops writes: a data device for benchmarks
// that provision more than fits in memory.
type nullDisk struct {
	name    string
	dev     dmsim.DevT
	sectors uint64
}

func (d *nullDisk) Name() string    { return d.name }
func (d *nullDisk) Dev() dmsim.DevT { return d.dev }
func (d *nullDisk) Size() uint64    { return d.sectors }
func (d *nullDisk) ReadOnly() bool  { return false }
func (d *nullDisk) Limits() dmsim.QueueLimits {
	l := dmsim.DefaultQueueLimits()
	l.MaxDiscardSectors = 1 << 22
	return l
}
func (d *nullDisk) Submit(bio *dmsim.Bio) {
	if bio.Op == dmsim.OpRead {
		clear(bio.Data)
	}
	bio.Endio(nil)
}

// benchPool makes a pool on a metadata memDisk of metaSectors and the
// given data device, and thin device 0.
func benchPool(b *testing.B, metaSectors uint64, data dmsim.BlockDevice, nblocks uint64) (*harness, *testMD, *testMD) {
	h := newHarness(b)
	h.disk(metaSectors, true)
	h.addDisk("/dev/vdb", data)
	pool, text, err := h.create("pool", nblocks*128, poolType, "/dev/vda /dev/vdb 128 0 1 skip_block_zeroing")
	if err != nil {
		b.Fatal(text, err)
	}
	if err := h.message(pool, "create_thin 0"); err != nil {
		b.Fatal(err)
	}
	thin, text, err := h.create("thin", nblocks*128, thinType, "/dev/mapper/pool 0")
	if err != nil {
		b.Fatal(text, err)
	}
	return h, pool, thin
}

// BenchmarkProvision: whole-block (64 KiB) writes to unprovisioned blocks,
// each allocating a data block and inserting a mapping.
func BenchmarkProvision(b *testing.B) {
	const nblocks = 1 << 22 // 256 GiB of 64 KiB blocks
	data := &nullDisk{name: "vdb", dev: dmsim.DevT{Major: 254, Minor: 16}, sectors: nblocks * 128}
	h, _, thin := benchPool(b, 1<<20, data, nblocks) // 512 MiB metadata
	buf := make([]byte, 65536)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := h.write(thin, uint64(i%nblocks)*128, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "blocks/s")
}

// BenchmarkProvisionedIO: reads and writes of 64 KiB to provisioned,
// unshared blocks (the map-time fast path), as GB/s and as a ratio to a
// plain memory copy of the same size.
func BenchmarkProvisionedIO(b *testing.B) {
	for _, op := range []dmsim.Op{dmsim.OpRead, dmsim.OpWrite} {
		b.Run(op.String(), func(b *testing.B) {
			const nblocks = 256
			h := newHarness(b)
			h.disk(8192, true)
			h.disk(nblocks*128, true)
			pool, _, err := h.create("pool", nblocks*128, poolType, "/dev/vda /dev/vdb 128 0")
			if err != nil {
				b.Fatal(err)
			}
			if err := h.message(pool, "create_thin 0"); err != nil {
				b.Fatal(err)
			}
			thin, _, err := h.create("thin", nblocks*128, thinType, "/dev/mapper/pool 0")
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 65536)
			for i := uint64(0); i < nblocks; i++ {
				if err := h.write(thin, i*128, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(65536)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := h.io(op, thin, uint64(i%nblocks)*128, buf); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			src := make([]byte, 65536)
			dst := make([]byte, 65536)
			mstart := time.Now()
			for i := 0; i < b.N; i++ {
				src[i%65536] = byte(i)
				copy(dst, src)
			}
			memcpy := time.Since(mstart)
			gbps := float64(b.N) * 65536 / elapsed.Seconds() / 1e9
			b.ReportMetric(gbps, "GB/s")
			b.ReportMetric(memcpy.Seconds()/elapsed.Seconds(), "x-memcpy")
		})
	}
}

// BenchmarkLookupDepth: the cost of finding a mapping in a snapshot that
// is 1 or 1000 snapshots deep. Each snapshot has its own mapping tree
// (cloned from its origin's root), so a lookup walks one tree whatever the
// depth.
func BenchmarkLookupDepth(b *testing.B) {
	for _, depth := range []int{1, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			const nblocks = 1024
			data := &nullDisk{name: "vdb", dev: dmsim.DevT{Major: 254, Minor: 16}, sectors: nblocks * 128}
			h, pool, thin := benchPool(b, 1<<16, data, nblocks)
			buf := make([]byte, 65536)
			for i := uint64(0); i < nblocks; i++ {
				if err := h.write(thin, i*128, buf); err != nil {
					b.Fatal(err)
				}
			}
			for d := 1; d <= depth; d++ {
				if err := h.message(pool, fmt.Sprintf("create_snap %d %d", d, d-1)); err != nil {
					b.Fatal(err)
				}
			}
			p := pool.ti.Impl.(*poolC).pool
			td, err := p.pmd.OpenThinDevice(uint64(depth))
			if err != nil {
				b.Fatal(err)
			}
			defer td.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := td.FindBlock(uint64(i%nblocks), true)
				if err != nil || !r.Shared {
					b.Fatal(r, err)
				}
			}
		})
	}
}
