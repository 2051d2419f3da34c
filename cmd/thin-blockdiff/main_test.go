package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/thinmeta"
)

// TestRun: identical images exit 0, an image one commit further on exits
// 1, in both output modes.
func TestRun(t *testing.T) {
	dev := block.NewMemDevice(1 << 20)
	pmd, err := thinmeta.Open(dev, 128, true, thinmeta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	save := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, dev.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := pmd.CommitMetadata(); err != nil {
		t.Fatal(err)
	}
	a := save("a.img")
	if err := pmd.CreateThin(1); err != nil {
		t.Fatal(err)
	}
	if err := pmd.CommitMetadata(); err != nil {
		t.Fatal(err)
	}
	b := save("b.img")
	for _, tc := range []struct {
		x, y   string
		layout bool
		want   int
	}{
		{a, a, false, 0},
		{a, a, true, 0},
		{a, b, false, 1},
		{a, b, true, 1},
	} {
		x, err := open(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := open(tc.y)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(x, y, tc.layout, true); got != tc.want {
			t.Errorf("run(%s, %s, layout %v) = %d, want %d", filepath.Base(tc.x), filepath.Base(tc.y), tc.layout, got, tc.want)
		}
	}
	if _, err := open(filepath.Join(dir, "missing.img")); err == nil {
		t.Error("a missing image opened")
	}
}
