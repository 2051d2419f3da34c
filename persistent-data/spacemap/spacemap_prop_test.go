package spacemap_test

import (
	"math/rand"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/thinmeta"
)

// TestDiskRandom drives the data space map with random range inc/dec,
// set_count, allocations and commits, against a simple count model. Counts
// go well above 2 (overflow tree) and ranges cross bitmap boundaries.
func TestDiskRandom(t *testing.T) {
	const nrData = 3*spacemap.EntriesPerBlock + 777
	dev := block.NewMemDevice(4096 * block.Size)
	bm := block.NewManager(dev, block.WithCacheBytes(128*block.Size))
	tm, msm, err := spacemap.CreateMetadata(bm, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := bm.WriteLockZero(0, &block.Std{Label: "superblock", Xor: thinmeta.SuperblockCsumXor})
	bm.Unlock(sb)
	d, err := spacemap.CreateDisk(tm, nrData/2)
	if err != nil {
		t.Fatal(err)
	}
	size := uint64(nrData / 2)
	model := map[uint64]uint32{}
	committed := map[uint64]uint32{}
	commit := func() {
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := tm.PreCommit(); err != nil {
			t.Fatal(err)
		}
		tm.WipeShadows()
		committed = map[uint64]uint32{}
		for b, c := range model {
			committed[b] = c
		}
	}
	commit()
	rng := rand.New(rand.NewSource(7))
	// Hot spots make high counts likely.
	pick := func() uint64 {
		if rng.Intn(3) == 0 {
			return uint64(rng.Intn(40)) + spacemap.EntriesPerBlock - 20
		}
		return uint64(rng.Int63n(int64(size)))
	}
	for op := 0; op < 30000; op++ {
		switch r := rng.Intn(100); {
		case r < 35:
			b := pick()
			e := b + uint64(rng.Intn(40)) + 1
			if e > size {
				e = size
			}
			if err := d.IncBlocks(b, e); err != nil {
				t.Fatal(err)
			}
			for x := b; x < e; x++ {
				model[x]++
			}
		case r < 65:
			b := pick()
			e := b
			for e < size && e-b < 40 && model[e] > 0 {
				e++
			}
			if e == b {
				continue
			}
			if err := d.DecBlocks(b, e); err != nil {
				t.Fatal(err)
			}
			for x := b; x < e; x++ {
				if model[x]--; model[x] == 0 {
					delete(model, x)
				}
			}
		case r < 70:
			b := pick()
			c := uint32(rng.Intn(6))
			if err := d.SetCount(b, c); err != nil {
				t.Fatal(err)
			}
			if c == 0 {
				delete(model, b)
			} else {
				model[b] = c
			}
		case r < 90:
			b, err := d.NewBlock()
			if err == linuxerr.ENOSPC {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if model[b] != 0 || committed[b] != 0 {
				t.Fatalf("allocated block %d in use (now %d, committed %d)", b, model[b], committed[b])
			}
			model[b] = 1
		case r < 92 && size < nrData:
			if err := d.Extend(nrData - size); err != nil {
				t.Fatal(err)
			}
			size = nrData
		case r < 95:
			commit()
		default:
			b := pick()
			c, err := d.GetCount(b)
			if err != nil || c != model[b] {
				t.Fatalf("count of %d: %d %v, want %d", b, c, err, model[b])
			}
		}
	}
	commit()
	if d.NrFree() != d.NrBlocks()-uint64(len(model)) {
		t.Fatalf("nr_free %d, want %d", d.NrFree(), d.NrBlocks()-uint64(len(model)))
	}
	// Read everything back from disk, and account the metadata blocks.
	im := thinmeta.NewImage(dev)
	expected := map[uint64]uint32{0: 1}
	seen := func(b uint64) bool { expected[b]++; return expected[b] == 1 }
	n := 0
	if err := spaceMapCounts(im, d.Root(), false, seen, func(b uint64, c uint32) error {
		if c != model[b] {
			t.Fatalf("on disk count of %d is %d, want %d", b, c, model[b])
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(model) || uint64(n) != d.Root().NrAllocated {
		t.Fatalf("%d blocks in use on disk, model %d, nr_allocated %d", n, len(model), d.Root().NrAllocated)
	}
	actual := map[uint64]uint32{}
	if err := spaceMapCounts(im, msm.Root(), true, seen, func(b uint64, c uint32) error {
		actual[b] = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(actual) != len(expected) {
		t.Fatalf("metadata: %d blocks counted, %d expected", len(actual), len(expected))
	}
	for b, c := range expected {
		if actual[b] != c {
			t.Fatalf("metadata block %d: %d, want %d", b, actual[b], c)
		}
	}
}

// TestMetadataExtend grows a metadata space map across bitmap boundaries
// and checks its own accounting after each step.
func TestMetadataExtend(t *testing.T) {
	dev := block.NewMemDevice(1000 * block.Size)
	bm := block.NewManager(dev)
	tm, msm, err := spacemap.CreateMetadata(bm, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := bm.WriteLockZero(0, &block.Std{Label: "superblock", Xor: thinmeta.SuperblockCsumXor})
	bm.Unlock(sb)
	if got := msm.NrAllocated(); got != 4 {
		t.Fatalf("fresh metadata space map uses %d blocks, want 4 (superblock, index, overflow root, bitmap)", got)
	}
	for _, size := range []uint64{5000, 16320, 16400, 40000, 70000} {
		dev.Resize(int64(size) * block.Size)
		if err := msm.Extend(size - msm.NrBlocks()); err != nil {
			t.Fatal(err)
		}
		if err := msm.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := bm.Flush(); err != nil {
			t.Fatal(err)
		}
		tm.WipeShadows()
		im := thinmeta.NewImage(dev)
		expected := map[uint64]uint32{0: 1}
		seen := func(b uint64) bool { expected[b]++; return expected[b] == 1 }
		actual := map[uint64]uint32{}
		if err := spaceMapCounts(im, msm.Root(), true, seen, func(b uint64, c uint32) error {
			actual[b] = c
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(actual) != len(expected) || uint64(len(actual)) != msm.NrAllocated() {
			t.Fatalf("size %d: %d counted, %d expected, nr_allocated %d", size, len(actual), len(expected), msm.NrAllocated())
		}
		for b, c := range expected {
			if actual[b] != c {
				t.Fatalf("size %d: block %d count %d want %d", size, b, actual[b], c)
			}
		}
		bitmaps := (size + spacemap.EntriesPerBlock - 1) / spacemap.EntriesPerBlock
		if want := 3 + bitmaps; msm.NrAllocated() != want {
			t.Fatalf("size %d: %d blocks in use, want %d", size, msm.NrAllocated(), want)
		}
	}
	if err := msm.Extend(spacemap.MetadataMaxBlocks); err == nil {
		t.Fatal("extending past 255 bitmaps succeeded")
	}
}

// spaceMapCounts reads a space map back from the image, telling seen of
// its own blocks, and calls fn for every block with a non-zero count.
func spaceMapCounts(im *thinmeta.Image, r spacemap.Root, metadata bool, seen func(uint64) bool, fn func(b uint64, c uint32) error) error {
	s, err := im.ReadSpaceMap(r, metadata, seen)
	if err != nil {
		return err
	}
	s.EachUsed(func(b uint64, c uint32) {
		if err == nil {
			err = fn(b, c)
		}
	})
	return err
}
