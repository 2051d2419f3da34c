package thinmeta

import (
	"bytes"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

// formatForTest formats a pool's metadata on a memory device of size
// bytes (64 KiB data blocks) and returns it with a fail-on-error helper.
func formatForTest(t *testing.T, size int64) (*block.MemDevice, *PoolMetadata, func(error)) {
	t.Helper()
	dev := block.NewMemDevice(size)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dev, pmd, func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReserveRefusedLeavesNoTrace: a reserve_metadata_snap refused
// because a snapshot is held changes nothing: after a commit the image is
// byte-identical and the next allocation takes the block it would have
// taken without the refused reserve (Linux 6.1's images of
// scripts/meta-place-64m.sh; shadowing first moved every later block by
// three: the bitmap copy, the superblock copy and the index).
func TestReserveRefusedLeavesNoTrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refused int // reserves refused before the next change
	}{
		{"none refused", 0},
		{"one refused", 1},
		{"three refused", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, pmd, must := formatForTest(t, 4<<20)
			must(pmd.CreateThin(0))
			must(pmd.CommitMetadata())
			must(pmd.ReserveMetadataSnap())
			must(pmd.CommitMetadata())
			before := bytes.Clone(dev.Bytes())
			free := pmd.metaSM.NrFree()
			for i := 0; i < tc.refused; i++ {
				if err := pmd.ReserveMetadataSnap(); err != linuxerr.EBUSY {
					t.Fatalf("second reserve: %v, want EBUSY", err)
				}
			}
			if got := pmd.metaSM.NrFree(); got != free {
				t.Fatalf("free metadata blocks %d after refused reserves, want %d", got, free)
			}
			must(pmd.CommitMetadata())
			if !bytes.Equal(dev.Bytes(), before) {
				t.Fatal("the refused reserves changed the committed metadata")
			}
			// The next change allocates from where the cursor stood: the
			// new device's empty leaf goes to the first block after the
			// reserve's index block.
			sb, err := NewImage(dev).Superblock(SuperblockLocation)
			must(err)
			next := sb.MetadataSpaceMap().BitmapRoot + 1
			must(pmd.CreateThin(1))
			must(pmd.CommitMetadata())
			im := NewImage(dev)
			l, err := im.Layout()
			must(err)
			if l[next] != "dev 1 mapping leaf" {
				t.Fatalf("block %d holds %q, want dev 1's mapping leaf", next, l[next])
			}
		})
	}
}

// TestLayoutAndDiff: the roles Layout gives the blocks of a pool with a
// held snapshot, and what DiffImages reports between two commits.
func TestLayoutAndDiff(t *testing.T) {
	dev, pmd, must := formatForTest(t, 1<<20)
	must(pmd.ResizeDataDev(100))
	must(pmd.CreateThin(3))
	td, err := pmd.OpenThinDevice(3)
	must(err)
	b, err := pmd.AllocDataBlock()
	must(err)
	must(td.InsertBlock(0, b))
	must(pmd.CommitMetadata())
	must(pmd.ReserveMetadataSnap())
	must(pmd.CommitMetadata())
	first := block.NewMemDevice(1 << 20)
	first.WriteAt(dev.Bytes(), 0)
	l, err := NewImage(dev).Layout()
	must(err)
	count := map[string]int{}
	for _, r := range l {
		count[r]++
	}
	for _, tc := range []struct {
		role string
		n    int
	}{
		{"superblock", 1},
		{"held superblock", 1},
		{"dev 3 mapping leaf", 1}, // under the shared top leaf: walked once
		{"mapping top leaf + held mapping top leaf", 1},
		{"details leaf + held details leaf", 1},
		{"metadata sm index", 1},
		{"metadata sm bitmap 0", 1},
		{"data sm bitmap 0", 1},
		{"data sm index leaf", 1},
	} {
		if count[tc.role] != tc.n {
			t.Errorf("%d blocks are %q, want %d (layout %q)", count[tc.role], tc.role, tc.n, l[:24])
		}
	}
	// One more mapping: the shared leaf is shadowed, the live superblock
	// is rewritten in place, nothing else moves.
	b, err = pmd.AllocDataBlock()
	must(err)
	must(td.InsertBlock(1, b))
	must(pmd.CommitMetadata())
	diffs, err := DiffImages(NewImage(first), NewImage(dev))
	must(err)
	if len(diffs) == 0 || diffs[0].Block != 0 || !diffs[0].SameAs {
		t.Fatalf("diffs %+v: want the superblock first, same role", diffs)
	}
	roles := map[string]bool{}
	for _, d := range diffs[1:] {
		if d.A != "stale zero" {
			t.Errorf("block %d was %q before the commit: only new blocks may be written", d.Block, d.A)
		}
		roles[d.B] = true
	}
	for _, want := range []string{"dev 3 mapping leaf", "mapping top leaf", "metadata sm bitmap 0", "data sm bitmap 0", "metadata sm index"} {
		if !roles[want] {
			t.Errorf("no new block is %q (diffs %+v)", want, diffs)
		}
	}
	if d, err := NewImage(dev).DescribeBlock(0); err != nil || !bytes.Contains([]byte(d), []byte("superblock trans_id 0")) {
		t.Errorf("DescribeBlock(0) = %q, %v", d, err)
	}
}
