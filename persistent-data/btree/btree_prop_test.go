package btree_test

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/persistent-data/transaction"
	"github.com/dmsim/dmsim/thinmeta"
)

type env struct {
	dev  *block.MemDevice
	bm   *block.Manager
	tm   *transaction.Manager
	msm  *spacemap.Metadata
	data *spacemap.Disk
	info btree.Info
}

func newEnv(t testing.TB, blocks int64, valueSize int) *env {
	e := &env{dev: block.NewMemDevice(blocks * block.Size)}
	e.bm = block.NewManager(e.dev, block.WithCacheBytes(256*block.Size))
	var err error
	if e.tm, e.msm, err = spacemap.CreateMetadata(e.bm, 0); err != nil {
		t.Fatal(err)
	}
	if e.data, err = spacemap.CreateDisk(e.tm, 1<<20); err != nil {
		t.Fatal(err)
	}
	// A superblock so the image walker can open the device.
	sb, err := e.bm.WriteLockZero(0, &block.Std{Label: "superblock", Xor: thinmeta.SuperblockCsumXor})
	if err != nil {
		t.Fatal(err)
	}
	e.bm.Unlock(sb)
	data := e.data
	// Values are data block numbers counted in the data space map, so
	// sharing and inc_children are checked too.
	e.info = btree.Info{TM: e.tm, Levels: 1, VT: btree.ValueType{
		Size: valueSize,
		Inc: func(v []byte, n int) {
			for i := 0; i < n; i++ {
				b := binary.LittleEndian.Uint64(v[i*valueSize:])
				data.IncBlocks(b, b+1)
			}
		},
		Dec: func(v []byte, n int) {
			for i := 0; i < n; i++ {
				b := binary.LittleEndian.Uint64(v[i*valueSize:])
				data.DecBlocks(b, b+1)
			}
		},
		Equal: func(a, b []byte) bool { return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) },
	}}
	return e
}

func (e *env) commit(t testing.TB) {
	if err := e.data.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := e.tm.PreCommit(); err != nil {
		t.Fatal(err)
	}
	e.tm.WipeShadows()
}

func val(size int, v uint64) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, v)
	return b
}

// verify compares every tree with its model, checks the node invariants
// and recomputes every metadata and data reference count.
func (e *env) verify(t *testing.T, roots []uint64, models []map[uint64]uint64) {
	t.Helper()
	e.commit(t)
	if n := e.bm.Locked(); n != 0 {
		t.Fatalf("%d blocks still locked", n)
	}
	im := thinmeta.NewImage(e.dev)
	expected := map[uint64]uint32{0: 1}
	seen := func(b uint64) bool { expected[b]++; return expected[b] == 1 }
	dataRefs := map[uint64]uint32{}
	for i, root := range roots {
		var keys []uint64
		err := im.ReadTree(root, e.info.VT.Size, nil, func(k uint64, v []byte) error {
			keys = append(keys, k)
			if models[i][k] != binary.LittleEndian.Uint64(v) {
				t.Fatalf("tree %d key %d: value %d, want %d", i, k, binary.LittleEndian.Uint64(v), models[i][k])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("tree %d: %v", i, err)
		}
		if len(keys) != len(models[i]) {
			t.Fatalf("tree %d has %d keys, model %d", i, len(keys), len(models[i]))
		}
		// Count nodes; data refs once per distinct leaf.
		im.ReadTree(root, e.info.VT.Size, seen, func(k uint64, v []byte) error {
			dataRefs[binary.LittleEndian.Uint64(v)]++
			return nil
		})
	}
	actual := map[uint64]uint32{}
	if err := spaceMapCounts(im, e.data.Root(), false, seen, func(b uint64, c uint32) error {
		if c != dataRefs[b] {
			t.Fatalf("data block %d count %d, want %d", b, c, dataRefs[b])
		}
		delete(dataRefs, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(dataRefs) != 0 {
		t.Fatalf("data blocks not counted: %v", dataRefs)
	}
	if err := spaceMapCounts(im, e.msm.Root(), true, seen, func(b uint64, c uint32) error {
		actual[b] = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for b, c := range expected {
		if actual[b] != c {
			t.Fatalf("metadata block %d: count %d, expected %d", b, actual[b], c)
		}
	}
	for b, c := range actual {
		if expected[b] != c {
			t.Fatalf("metadata block %d: count %d, expected %d (leak)", b, c, expected[b])
		}
	}
	if uint64(len(actual)) != e.msm.NrAllocated() {
		t.Fatalf("nr_allocated %d, counted %d", e.msm.NrAllocated(), len(actual))
	}
}

// TestBtreeRandom runs long random operation sequences (insert, overwrite,
// remove, range removal, clone, delete) against a map model.
func TestBtreeRandom(t *testing.T) {
	for _, tc := range []struct {
		seed      int64
		valueSize int
		keySpace  uint64
		ops       int
	}{
		{1, 8, 3000, 20000},
		{2, 24, 1000, 15000},
		{3, 4 + 4, 500, 15000},
		{4, 16, 100000, 20000},
	} {
		rng := rand.New(rand.NewSource(tc.seed))
		e := newEnv(t, 8192, tc.valueSize)
		root, err := btree.Empty(&e.info)
		if err != nil {
			t.Fatal(err)
		}
		roots := []uint64{root}
		models := []map[uint64]uint64{{}}
		for op := 0; op < tc.ops; op++ {
			i := rng.Intn(len(roots))
			k := uint64(rng.Int63n(int64(tc.keySpace)))
			switch r := rng.Intn(100); {
			case r < 55:
				v := uint64(rng.Intn(5000))
				e.data.IncBlocks(v, v+1)
				nr, inserted, err := btree.Insert(&e.info, roots[i], []uint64{k}, val(tc.valueSize, v))
				if err != nil {
					t.Fatal(err)
				}
				old, had := models[i][k]
				if had && old == v {
					// An equal overwrite keeps the old reference.
					e.data.DecBlocks(v, v+1)
				}
				if inserted == had {
					t.Fatalf("insert %d: inserted=%v had=%v", k, inserted, had)
				}
				roots[i] = nr
				models[i][k] = v
			case r < 85:
				nr, err := btree.Remove(&e.info, roots[i], []uint64{k})
				_, had := models[i][k]
				if had != (err == nil) || (err != nil && err != linuxerr.ENODATA) {
					t.Fatalf("remove %d: %v had=%v", k, err, had)
				}
				// The path is shadowed either way.
				roots[i] = nr
				delete(models[i], k)
			case r < 93:
				// Range removal the way __remove_range() drives it:
				// lookup_next(), then remove_leaves(), until past end.
				end := k + uint64(rng.Intn(300))
				begin, total := k, 0
				dst := make([]byte, tc.valueSize)
				for begin < end {
					nk, err := btree.LookupNext(&e.info, roots[i], []uint64{begin}, dst)
					if err == linuxerr.ENODATA {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if nk >= end {
						break
					}
					keys := []uint64{nk}
					nr, n, err := btree.RemoveLeaves(&e.info, roots[i], keys, end)
					if err != nil {
						t.Fatal(err)
					}
					roots[i] = nr
					begin = keys[0]
					total += n
				}
				want := 0
				for mk := range models[i] {
					if mk >= k && mk < end {
						delete(models[i], mk)
						want++
					}
				}
				if total != want {
					t.Fatalf("range removal [%d,%d): removed %d, want %d", k, end, total, want)
				}
			case r < 96 && len(roots) < 4:
				// Clone: share the whole tree (like create_snap()).
				e.tm.Inc(roots[i])
				roots = append(roots, roots[i])
				m := map[uint64]uint64{}
				for a, b := range models[i] {
					m[a] = b
				}
				models = append(models, m)
			case r < 98 && len(roots) > 1:
				if err := btree.Del(&e.info, roots[i]); err != nil {
					t.Fatal(err)
				}
				roots = append(roots[:i], roots[i+1:]...)
				models = append(models[:i], models[i+1:]...)
			default:
				var dst = make([]byte, tc.valueSize)
				err := btree.Lookup(&e.info, roots[i], []uint64{k}, dst)
				v, had := models[i][k]
				if had != (err == nil) || (had && binary.LittleEndian.Uint64(dst) != v) {
					t.Fatalf("lookup %d: %v %d, model %v %d", k, err, binary.LittleEndian.Uint64(dst), had, v)
				}
			}
			if rng.Intn(200) == 0 {
				e.commit(t)
			}
			if op%2500 == 2499 {
				e.verify(t, roots, models)
			}
		}
		e.verify(t, roots, models)
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
