package dmsim

import (
	"path/filepath"
	"testing"
)

func TestPageCache(t *testing.T) {
	k, err := NewKernel(Config{Disks: []DiskSpec{{Path: filepath.Join(t.TempDir(), "a"), Size: 1 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	dev := DevT{VirtioMajor, 0}
	page := []byte("page")
	k.CachePage(dev, 1, page) // nobody has it open: not kept
	if _, ok := k.CachedPage(dev, 1); ok {
		t.Fatal("a page cached on a closed device")
	}
	_, rel1, err := k.OpenBdev("/dev/vda", FModeRead)
	if err != nil {
		t.Fatal(err)
	}
	_, rel2, err := k.OpenBdev("/dev/vda", FModeRead)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func()
		pg   int64
		want string // "" : not cached
	}{
		{"cache", func() { k.CachePage(dev, 1, page); k.CachePage(dev, 2, page); k.CachePage(dev, 3, page) }, 1, "page"},
		{"update", func() { k.UpdateCachedPage(dev, 1, 1, []byte("EE")) }, 1, "pEEe"},
		{"update an uncached page", func() { k.UpdateCachedPage(dev, 9, 0, []byte("x")) }, 9, ""},
		{"invalidate a range", func() { k.InvalidatePages(dev, 2, 3) }, 2, ""},
		{"the rest stays", func() {}, 3, "page"},
		{"a full cache takes no new page", func() {
			for pg := int64(100); pg < 100+maxCachedPages; pg++ {
				k.CachePage(dev, pg, page)
			}
		}, 100 + maxCachedPages - 2, ""}, // pages 1 and 3 are in already
		{"but keeps updating its pages", func() { k.CachePage(dev, 3, []byte("new")) }, 3, "new"},
		{"one close of two keeps it", rel1, 3, "new"},
		{"the last close drops it", rel2, 3, ""},
	}
	for _, s := range steps {
		s.do()
		got, ok := k.CachedPage(dev, s.pg)
		if (s.want == "") == ok || ok && string(got) != s.want {
			t.Errorf("%s: page %d = %q, %v; want %q", s.name, s.pg, got, ok, s.want)
		}
	}
}
