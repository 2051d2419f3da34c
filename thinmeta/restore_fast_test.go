package thinmeta

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// restoreOp is one call of a restore: a device begins (dev), a mapping
// (vblock, data, time), or the device ends (end).
type restoreOp struct {
	begin, end         bool
	dev                uint64
	vblock, data       uint64
	time               uint32
	creation, snapTime uint32
}

// runRestore plays ops onto a fresh device of size blocks, through the
// Restorer's cursor and RestoreInc or (general) through btree.Insert and
// IncBlocks, and returns the image and the first error.
func runRestore(ops []restoreOp, nrData uint64, size int64, general bool) ([]byte, error) {
	dev := block.NewMemDevice(size * block.Size)
	r, err := NewRestorer(dev)
	if err != nil {
		return dev.Bytes(), err
	}
	r.general = general
	err = func() error {
		if err := r.BeginSuperblock(PoolHeader{Version: 2, Time: 9, TransID: 4, DataBlockSize: 128, NrDataBlocks: nrData}); err != nil {
			return err
		}
		for _, o := range ops {
			var err error
			switch {
			case o.begin:
				err = r.BeginDevice(o.dev, DeviceDetails{TransactionID: 1, CreationTime: o.creation, SnapshottedTime: o.snapTime})
			case o.end:
				err = r.EndDevice()
			default:
				err = r.Map(o.vblock, o.data, o.time)
			}
			if err != nil {
				return err
			}
		}
		return r.Commit()
	}()
	if err != nil {
		r.Close()
	}
	return bytes.Clone(dev.Bytes()), err
}

// TestRestoreFastPath: the Restorer's cursor and the data space map's
// RestoreInc write the same image, byte for byte, as the general
// btree.Insert and IncBlocks they stand in for, on random pools: sorted
// and unsorted mappings, ranges, overwrites, many devices, data blocks
// shared up to the overflow btree, snapshot-like times, data devices
// whose space map index fills one btree leaf exactly or spans several,
// and a metadata device too small (both fail alike, leaving the same
// bytes).
func TestRestoreFastPath(t *testing.T) {
	const leafBitmaps = 168 // index entries in a full index btree leaf
	for _, c := range []struct {
		name      string
		seed      int64
		devs, per int
		nrData    uint64
		size      int64 // metadata blocks
		gen       func(rng *rand.Rand, dev, i, per int, nrData uint64) (vblock, data uint64)
		shuffle   bool // unsorted mappings within a device
		reuse     int  // 1 in reuse mappings repeats an earlier mapping's data block
		overwrite int  // 1 in overwrite mappings repeats an earlier vblock
	}{
		{name: "sorted scattered", seed: 1, devs: 4, per: 3000, nrData: 50_021, size: 2048, gen: scattered},
		{name: "full internal nodes", seed: 12, devs: 8, per: 32_200, nrData: 100_000, size: 8192, gen: triples},
		{name: "unsorted", seed: 2, devs: 3, per: 2000, nrData: 40_000, size: 2048, gen: scattered, shuffle: true},
		{name: "ranges", seed: 3, devs: 2, per: 5000, nrData: 30_000, size: 2048, gen: ranges},
		{name: "many devices", seed: 4, devs: 300, per: 40, nrData: 20_000, size: 2048, gen: scattered},
		{name: "shared data blocks", seed: 5, devs: 6, per: 1500, nrData: 3000, size: 2048, gen: scattered, reuse: 2},
		{name: "snapshots", seed: 6, devs: 8, per: 1200, nrData: 4000, size: 2048, gen: ranges, reuse: 3, overwrite: 10},
		{name: "overwrites, unsorted", seed: 7, devs: 3, per: 1500, nrData: 10_000, size: 2048, gen: scattered, shuffle: true, overwrite: 4},
		{name: "index leaf full", seed: 8, devs: 2, per: 3000, nrData: leafBitmaps * spacemap.EntriesPerBlock, size: 4096, gen: scattered},
		{name: "index leaf full, one more", seed: 9, devs: 2, per: 3000, nrData: leafBitmaps*spacemap.EntriesPerBlock + 1, size: 4096, gen: scattered},
		{name: "index of three leaves", seed: 10, devs: 3, per: 4000, nrData: 3 * leafBitmaps * spacemap.EntriesPerBlock, size: 8192, gen: scattered, reuse: 50},
		{name: "out of space", seed: 11, devs: 3, per: 20_000, nrData: 100_000, size: 160, gen: scattered},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(c.seed))
			var ops []restoreOp
			var used []uint64
			for _, d := range rng.Perm(c.devs) {
				dev := uint64(d*7 + 1)
				ops = append(ops, restoreOp{begin: true, dev: dev, creation: uint32(rng.Intn(5)), snapTime: uint32(rng.Intn(9))})
				var maps []restoreOp
				for i := 0; i < c.per; i++ {
					vb, db := c.gen(rng, d, i, c.per, c.nrData)
					if c.reuse > 0 && len(used) > 0 && rng.Intn(c.reuse) == 0 {
						db = used[rng.Intn(len(used))]
					}
					if c.overwrite > 0 && len(maps) > 0 && rng.Intn(c.overwrite) == 0 {
						vb = maps[rng.Intn(len(maps))].vblock
					}
					used = append(used, db)
					maps = append(maps, restoreOp{vblock: vb, data: db, time: uint32(rng.Intn(3)) * 5})
				}
				if c.shuffle {
					rng.Shuffle(len(maps), func(i, j int) { maps[i], maps[j] = maps[j], maps[i] })
				}
				ops = append(append(ops, maps...), restoreOp{end: true})
			}
			fast, errFast := runRestore(ops, c.nrData, c.size, false)
			gen, errGen := runRestore(ops, c.nrData, c.size, true)
			if fmt.Sprint(errFast) != fmt.Sprint(errGen) {
				t.Fatalf("the fast path fails with %v, the general path with %v", errFast, errGen)
			}
			if c.name == "out of space" && errGen == nil {
				t.Fatal("the restore fits: the case tests nothing")
			}
			if i := firstDiff(fast, gen); i >= 0 {
				t.Fatalf("the fast path's image differs from the general path's, first at block %d", i/block.Size)
			}
		})
	}
}

// scattered is the benchmark's pattern: ascending virtual blocks, data
// blocks spread over the whole data device.
func scattered(rng *rand.Rand, dev, i, per int, nrData uint64) (uint64, uint64) {
	return uint64(2*i + rng.Intn(2)), uint64(dev*per+i) * 7919 % nrData
}

// triples: each data block three times, so that the overflow btree grows
// (allocating metadata blocks) while the mapping trees do.
func triples(rng *rand.Rand, dev, i, per int, nrData uint64) (uint64, uint64) {
	return uint64(i), uint64(dev*per+i) / 3 % nrData
}

// ranges: runs of consecutive virtual and data blocks, as a range_mapping
// restores them.
func ranges(rng *rand.Rand, dev, i, per int, nrData uint64) (uint64, uint64) {
	return uint64(i + i/50*20), (uint64(dev*per+i) + uint64(i/50)*300) % nrData
}

func firstDiff(a, b []byte) int {
	if len(a) != len(b) {
		return 0
	}
	for i := 0; i < len(a); i += block.Size {
		if !bytes.Equal(a[i:i+block.Size], b[i:i+block.Size]) {
			return i
		}
	}
	return -1
}
