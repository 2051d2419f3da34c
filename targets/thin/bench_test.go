package thin

import (
	"fmt"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	_ "github.com/dmsim/dmsim/targets/zero"
	"github.com/dmsim/dmsim/thinmeta"
)

// benchPool makes a pool on a metadata disk of metaSectors and a data
// device of the zero target (reads zeroes, drops writes, so benchmarks can
// provision more than fits on the host), and thin device 0.
func benchPool(b *testing.B, metaSectors, nblocks uint64) (*env, *dev, *dev) {
	h := boot(b, vd(metaSectors, false))
	if _, _, err := h.create("data", nblocks*128, &dmsim.TargetType{Name: "zero"}, ""); err != nil {
		b.Fatal(err)
	}
	pool, text, err := h.create("pool", nblocks*128, poolType, "/dev/vda /dev/mapper/data 128 0 1 skip_block_zeroing")
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
	const nblocks = 1 << 22                    // 256 GiB of 64 KiB blocks
	h, _, thin := benchPool(b, 1<<20, nblocks) // 512 MiB metadata
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
// plain memory copy of the same size. The machine is shared, so the two
// are timed in alternating rounds of a few hundred operations, and
// x-memcpy compares each one's fastest round: a round that another
// process interrupted is slower, never faster.
func BenchmarkProvisionedIO(b *testing.B) {
	for _, op := range []dmsim.Op{dmsim.OpRead, dmsim.OpWrite} {
		b.Run(op.String(), func(b *testing.B) {
			const nblocks = 256
			// The data device is the zero target, so the figure is the thin
			// target's and the core's cost, not a disk image's.
			h, _, thin := benchPool(b, 8192, nblocks)
			buf := make([]byte, 65536)
			for i := uint64(0); i < nblocks; i++ {
				if err := h.write(thin, i*128, buf); err != nil {
					b.Fatal(err)
				}
			}
			// A program opens the device once and then does its I/O: the
			// lookup of the device by its path is not a bio's cost.
			bdev := h.Bdev(thin.path)
			src := make([]byte, 65536)
			dst := make([]byte, 65536)
			b.SetBytes(65536)
			b.ResetTimer()
			var elapsed time.Duration
			bestIO, bestCopy := time.Duration(1<<62), time.Duration(1<<62)
			for done := 0; done < b.N; {
				n := min(b.N-done, benchRound)
				start := time.Now()
				for i := done; i < done+n; i++ {
					if err := h.IO(op, bdev, uint64(i%nblocks)*128, buf); err != nil {
						b.Fatal(err)
					}
				}
				t := time.Since(start)
				elapsed += t
				b.StopTimer()
				mstart := time.Now()
				for i := done; i < done+n; i++ {
					src[i%65536] = byte(i)
					copy(dst, src)
				}
				m := time.Since(mstart)
				b.StartTimer()
				if n == benchRound {
					bestIO, bestCopy = min(bestIO, t), min(bestCopy, m)
				}
				done += n
			}
			b.ReportMetric(float64(b.N)*65536/elapsed.Seconds()/1e9, "GB/s")
			if bestIO < 1<<62 {
				b.ReportMetric(bestCopy.Seconds()/bestIO.Seconds(), "x-memcpy")
			}
		})
	}
}

// benchRound is how many operations a timed round of an interleaved
// benchmark runs.
const benchRound = 256

// lookupDepthNblocks is how many blocks the lookup benchmarks' origin maps.
const lookupDepthNblocks = 1024

// snapAtDepth is a pool whose thin 0 maps lookupDepthNblocks blocks, with a
// chain of depth snapshots on it; it returns the last snapshot, open.
func snapAtDepth(b *testing.B, depth int) *thinmeta.ThinDevice {
	h, pool, thin := benchPool(b, 1<<16, lookupDepthNblocks)
	buf := make([]byte, 65536)
	for i := uint64(0); i < lookupDepthNblocks; i++ {
		if err := h.write(thin, i*128, buf); err != nil {
			b.Fatal(err)
		}
	}
	for d := 1; d <= depth; d++ {
		if err := h.message(pool, fmt.Sprintf("create_snap %d %d", d, d-1)); err != nil {
			b.Fatal(err)
		}
	}
	td, err := pool.ti().Impl.(*poolC).pool.pmd.OpenThinDevice(uint32(depth))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { td.Close() })
	return td
}

// BenchmarkLookupDepth: the cost of finding a mapping in a snapshot that
// is 1 or 1000 snapshots deep. Each snapshot has its own mapping tree
// (cloned from its origin's root), so a lookup walks one tree whatever the
// depth.
func BenchmarkLookupDepth(b *testing.B) {
	for _, depth := range []int{1, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			td := snapAtDepth(b, depth)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := td.FindBlock(uint64(i%lookupDepthNblocks), true)
				if err != nil || !r.Shared {
					b.Fatal(r, err)
				}
			}
		})
	}
}

// BenchmarkLookupDepthRatio: lookups at snapshot depth 1 and 1000, timed
// in alternating rounds (as in BenchmarkProvisionedIO); x-depth1 is the
// fastest depth-1000 round over the fastest depth-1 round.
func BenchmarkLookupDepthRatio(b *testing.B) {
	const nblocks = lookupDepthNblocks
	open := func(depth int) *thinmeta.ThinDevice { return snapAtDepth(b, depth) }
	shallow, deep := open(1), open(1000)
	round := func(td *thinmeta.ThinDevice, from, n int) time.Duration {
		start := time.Now()
		for i := from; i < from+n; i++ {
			r, err := td.FindBlock(uint64(i%nblocks), true)
			if err != nil || !r.Shared {
				b.Fatal(r, err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	best := [2]time.Duration{1 << 62, 1 << 62}
	for done := 0; done < b.N; {
		n := min(b.N-done, benchRound)
		t1, t2 := round(shallow, done, n), round(deep, done, n)
		if n == benchRound {
			best[0], best[1] = min(best[0], t1), min(best[1], t2)
		}
		done += n
	}
	if best[0] < 1<<62 {
		b.ReportMetric(float64(best[0].Nanoseconds())/benchRound, "ns/lookup-depth1")
		b.ReportMetric(float64(best[1].Nanoseconds())/benchRound, "ns/lookup-depth1000")
		b.ReportMetric(best[1].Seconds()/best[0].Seconds(), "x-depth1")
	}
}
