package thinmeta

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// TestCacheLeavesNoTrace: the block cache decides what is read and when
// dirty blocks go out, never what is written. A pool built with a cache far
// smaller than its metadata, on a host file (evictions in mid-transaction,
// shadowed originals dropped first, writes in runs), leaves the same image
// as one built in memory with a cache that holds everything, and the real
// thin_check accepts it.
func TestCacheLeavesNoTrace(t *testing.T) {
	const metaBytes = 32 << 20
	n := uint64(120_000)
	if testing.Short() {
		n = 30_000
	}
	build := func(dev block.Device, cache int64) (reads, writes, calls uint64) {
		t.Helper()
		pmd, err := Open(dev, 128, true, Options{CacheBytes: cache})
		if err != nil {
			t.Fatal(err)
		}
		if err := pmd.ResizeDataDev(2 * n); err != nil {
			t.Fatal(err)
		}
		if err := pmd.CreateThin(0); err != nil {
			t.Fatal(err)
		}
		td, err := pmd.OpenThinDevice(0)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(5))
		for j := uint64(0); j < n; j++ {
			vb := j
			if j%8 == 7 {
				vb = n + uint64(rng.Int63n(1<<30))
			}
			db, err := pmd.AllocDataBlock()
			if err != nil {
				t.Fatal(err)
			}
			if err := td.InsertBlock(vb, db); err != nil {
				t.Fatal(err)
			}
			if j%5000 == 4999 {
				if err := pmd.CommitMetadata(); err != nil {
					t.Fatal(err)
				}
			}
		}
		td.Close()
		if err := pmd.Close(); err != nil {
			t.Fatal(err)
		}
		return pmd.bm.Reads, pmd.bm.Writes, pmd.bm.WriteCalls
	}
	mem := block.NewMemDevice(metaBytes)
	build(mem, 64<<20)

	p := filepath.Join(t.TempDir(), "meta.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(metaBytes); err != nil {
		t.Fatal(err)
	}
	reads, writes, calls := build(&block.FileDevice{F: f}, 16*block.Size)
	// the small cache must have been put to work: blocks read again after
	// their eviction, and writes in runs
	if reads < 20 || calls >= writes {
		t.Fatalf("small cache: %d reads, %d blocks written in %d writes", reads, writes, calls)
	}
	if testing.Verbose() {
		t.Logf("small cache: %d reads, %d blocks written in %d writes", reads, writes, calls)
	}
	img, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, mem.Bytes()) {
		diff := 0
		for i := 0; i < len(img); i += block.Size {
			if !bytes.Equal(img[i:i+block.Size], mem.Bytes()[i:i+block.Size]) {
				diff++
			}
		}
		t.Fatalf("the small cache's image differs from the big cache's in %d blocks", diff)
	}
	if rep := NewImage(mem).Check(); !rep.OK() {
		t.Fatalf("check: %+v", rep.Problems)
	}
	realCheck(t, p)
}

// TestUnreadOriginalsLeaveNoTrace: a shadow that hands the freed original's
// cache buffer to its copy (btree.Info.UnreadOriginals, set for the mapping
// and details trees) leaves the same image as one that copies, with a
// cache small enough that originals are also read back from the device
// first.
func TestUnreadOriginalsLeaveNoTrace(t *testing.T) {
	const metaBytes = 16 << 20
	n := uint64(40_000)
	if testing.Short() {
		n = 10_000
	}
	var imgs [2][]byte
	for k, unread := range []bool{false, true} {
		dev := block.NewMemDevice(metaBytes)
		pmd, err := Open(dev, 128, true, Options{CacheBytes: 32 * block.Size})
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range []*btree.Info{&pmd.info, &pmd.tlInfo, &pmd.blInfo, &pmd.detailsInfo} {
			if !info.UnreadOriginals {
				t.Fatal("a thin tree without UnreadOriginals")
			}
			info.UnreadOriginals = unread
		}
		if err := pmd.ResizeDataDev(2 * n); err != nil {
			t.Fatal(err)
		}
		var tds []*ThinDevice
		for id := range uint32(3) {
			if err := pmd.CreateThin(id); err != nil {
				t.Fatal(err)
			}
			td, err := pmd.OpenThinDevice(id)
			if err != nil {
				t.Fatal(err)
			}
			tds = append(tds, td)
		}
		rng := rand.New(rand.NewSource(6))
		for j := uint64(0); j < n; j++ {
			td := tds[j%3]
			db, err := pmd.AllocDataBlock()
			if err != nil {
				t.Fatal(err)
			}
			if err := td.InsertBlock(uint64(rng.Int63n(1<<24)), db); err != nil {
				t.Fatal(err)
			}
			if j%3000 == 2999 {
				if err := pmd.CommitMetadata(); err != nil {
					t.Fatal(err)
				}
			}
		}
		commitAndClose(t, pmd, tds...)
		if rep := NewImage(dev).Check(); !rep.OK() {
			t.Fatalf("check: %+v", rep.Problems)
		}
		imgs[k] = dev.Bytes()
	}
	if !bytes.Equal(imgs[0], imgs[1]) {
		t.Fatal("the images differ")
	}
}

// commitAndClose closes a pool as the thin-pool target does when it is
// suspended: commit, close the devices, close the pool.
// dm_pool_metadata_close() drops closed devices before its own commit, so
// their changes since the last commit would be lost without the first.
func commitAndClose(t *testing.T, pmd *PoolMetadata, tds ...*ThinDevice) {
	t.Helper()
	if err := pmd.CommitMetadata(); err != nil {
		t.Fatal(err)
	}
	for _, td := range tds {
		td.Close()
	}
	if err := pmd.Close(); err != nil {
		t.Fatal(err)
	}
}
