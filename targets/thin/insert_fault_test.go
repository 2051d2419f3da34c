package thin

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

// leafWithSibling finds, in the metadata image, the second leaf of thin
// 0's mapping tree: its first and last keys, its number of entries and room, and its
// left sibling's block.
func leafWithSibling(t *testing.T, img string) (firstKey, lastKey uint64, nr, max int, sibling uint64) {
	t.Helper()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	node := func(loc uint64) btree.Node { return btree.Node(b[loc*4096 : (loc+1)*4096]) }
	top := node(binary.LittleEndian.Uint64(b[320:])) // data_mapping_root
	if !top.IsLeaf() || top.NrEntries() != 1 || top.Key(0) != 0 {
		t.Fatalf("top-level tree: %d entries", top.NrEntries())
	}
	root := node(top.Value64(0))
	if !root.IsInternal() || root.NrEntries() < 2 {
		t.Fatal("thin 0's tree has fewer than two leaves")
	}
	leaf := node(root.Value64(1))
	return leaf.Key(0), leaf.Key(leaf.NrEntries() - 1), leaf.NrEntries(), leaf.MaxEntries(), root.Value64(0)
}

// reopen opens the pool and the thin again, with a cold metadata cache.
func reopen(t *testing.T, h *env) (*dev, *dev) {
	t.Helper()
	pool, text, err := h.create("pool", 2048*128, poolType, "/dev/vda /dev/vdb 128 0")
	if err != nil {
		t.Fatal(text, err)
	}
	thin, text, err := h.create("thin", 1<<21, thinType, "/dev/mapper/pool 0")
	if err != nil {
		t.Fatal(text, err)
	}
	return pool, thin
}

// TestInsertFailure: an insert that needs a metadata block it cannot read
// (a full leaf rebalanced with its left sibling, which no lookup had read)
// fails as 6.1's process_prepared_mapping() fails:
// metadata_operation_failed("dm_thin_insert_block"), the transaction
// aborted, needs_check set, the pool read-only, and the write gets EIO.
func TestInsertFailure(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 2048, 0, "", true)
	// Every other block, so each leaf has unmapped keys inside its range;
	// then the second leaf is filled up with odd keys.
	for b := uint64(0); b < 1400; b += 2 {
		if err := h.write(thin, b*128, fill('i', 65536)); err != nil {
			t.Fatal(b, err)
		}
	}
	h.remove(thin)
	h.remove(pool)
	first, _, nr, max, _ := leafWithSibling(t, h.disk("/dev/vda").image())
	pool, thin = reopen(t, h)
	filled := max - nr
	for i := 0; i < filled; i++ {
		if err := h.write(thin, (first+1+2*uint64(i))*128, fill('i', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	h.remove(thin)
	h.remove(pool)
	_, last, nr, max, sibling := leafWithSibling(t, h.disk("/dev/vda").image())
	if nr != max {
		t.Fatalf("the leaf holds %d of %d", nr, max)
	}
	used := 700 + filled

	// Reopen with a cold cache. A lookup of the target key reads the root
	// and the full leaf; a write far away reads what allocation needs.
	pool, thin = reopen(t, h)
	// An odd key past the ones filled in, still inside the leaf.
	target := last - 1
	if _, err := h.read(thin, target*128, 512); err != nil {
		t.Fatal(err)
	}
	if err := h.write(thin, 1501*128, fill('j', 65536)); err != nil {
		t.Fatal(err)
	}
	h.status(pool)
	h.logs()
	meta := h.disk("/dev/vda").faults()
	rule := meta.Add(dmsim.Fault{Ops: dmsim.FaultRead, Start: sibling * 8, End: sibling*8 + 8})
	if err := h.write(thin, target*128, fill('k', 65536)); err == nil {
		t.Fatal("the write succeeded")
	}
	if rule.Fired() == 0 {
		t.Fatal("the sibling was never read")
	}
	want := []string{
		"<3>device-mapper: thin: 253:0: metadata operation 'dm_thin_insert_block' failed: error = -5",
		"<3>device-mapper: thin: 253:0: aborting current metadata transaction",
		"<6>device-mapper: thin: 253:0: switching pool to read-only mode",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	meta.Clear()
	if s := h.status(pool); s != fmt.Sprintf("0 115/1024 %d/2048 - ro discard_passdown queue_if_no_space needs_check 256 ", used+1) {
		t.Errorf("status %q", s)
	}
}
