package transaction_test

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// TestShadow: a block from the last transaction is copied to a new
// location once, then written in place; a shared block is always copied
// and reports incChildren.
func TestShadow(t *testing.T) {
	dev := block.NewMemDevice(100 * block.Size)
	bm := block.NewManager(dev)
	tm, sm, err := spacemap.CreateMetadata(bm, 0)
	if err != nil {
		t.Fatal(err)
	}
	v := &block.Std{Label: "t", Xor: 5}
	b, err := tm.NewBlock(v)
	if err != nil {
		t.Fatal(err)
	}
	orig := b.Location()
	b.Data()[100] = 7
	tm.Unlock(b)
	// Same transaction: written in place.
	s, inc, err := tm.ShadowBlock(orig, v)
	if err != nil || s.Location() != orig || inc {
		t.Fatalf("shadow of a new block: %d %v %v", s.Location(), inc, err)
	}
	tm.Unlock(s)
	if err := tm.PreCommit(); err != nil {
		t.Fatal(err)
	}
	tm.WipeShadows()
	s, inc, err = tm.ShadowBlock(orig, v)
	if err != nil || s.Location() == orig || inc || s.Data()[100] != 7 {
		t.Fatalf("shadow after commit: %d %v %v", s.Location(), inc, err)
	}
	copyLoc := s.Location()
	tm.Unlock(s)
	if c, _ := sm.GetCount(orig); c != 0 {
		t.Fatalf("original count %d after shadowing", c)
	}
	s, _, _ = tm.ShadowBlock(copyLoc, v)
	if s.Location() != copyLoc {
		t.Fatal("second shadow in a transaction moved the block")
	}
	tm.Unlock(s)
	// Shared: copied, and the caller must inc the children.
	tm.Inc(copyLoc)
	s, inc, err = tm.ShadowBlock(copyLoc, v)
	if err != nil || s.Location() == copyLoc || !inc {
		t.Fatalf("shadow of a shared block: %d %v %v", s.Location(), inc, err)
	}
	tm.Unlock(s)
	if c, _ := sm.GetCount(copyLoc); c != 1 {
		t.Fatalf("shared block count %d after shadowing, want 1", c)
	}
}
