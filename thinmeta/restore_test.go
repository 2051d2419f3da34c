package thinmeta

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestOpenThinRestoreImage: an image written by the real thin_restore
// (0.9.0, which writes superblock version 1) opens in dmsim with the same
// content, accepts changes, and still passes thin_check.
func TestOpenThinRestoreImage(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	m := &model{time: 4, trans: 9, version: 1, blockSize: 128, nrData: 40000, devs: map[uint64]*modelDev{}}
	next := uint64(0)
	for _, id := range []uint64{1, 2, 7, 300} {
		d := &modelDev{details: DeviceDetails{0, id, uint32(id % 4), 4}, maps: map[uint64]mapping{}}
		n := 50 + rng.Intn(700)
		vb := uint64(0)
		for i := 0; i < n; i++ {
			vb += uint64(1 + rng.Intn(3))
			d.maps[vb] = mapping{next, uint32(rng.Intn(4))}
			next++
		}
		d.details.MappedBlocks = uint64(len(d.maps))
		m.devs[id] = d
	}
	xml := m.xml()
	// thin_restore needs version in the XML only to override its default 1.
	dir := t.TempDir()
	xp := filepath.Join(dir, "in.xml")
	os.WriteFile(xp, []byte(xml), 0o644)
	img := filepath.Join(dir, "meta.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runTool(t, "thin_restore", "-i", xp, "-o", img); code != 0 {
		t.Fatalf("thin_restore: %d %s %s", code, out, errs)
	}
	data, _ := os.ReadFile(img)
	dev := block.NewMemDevice(int64(len(data)))
	dev.WriteAt(data, 0)
	if got := imageModel(t, dev, false).xml(); got != xml {
		t.Fatalf("walker reads the restored image as\n%s\nwant\n%s", got, xml)
	}
	pmd, err := Open(dev, 128, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, d := range m.devs {
		td, err := pmd.OpenThinDevice(uint32(id))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := td.MappedCount(); n != d.details.MappedBlocks {
			t.Fatalf("dev %d mapped %d", id, n)
		}
		for vb, mp := range d.maps {
			r, err := td.FindBlock(vb, true)
			if err != nil || r.Block != mp.block || r.Shared != (mp.time < 4) {
				t.Fatalf("dev %d block %d: %+v %v, want %+v", id, vb, r, err, mp)
			}
		}
		// Change it: provision one more block, unmap a range.
		b, err := pmd.AllocDataBlock()
		if err != nil {
			t.Fatal(err)
		}
		if b != next {
			t.Fatalf("allocated data block %d, want %d (first free)", b, next)
		}
		next++
		if err := td.InsertBlock(1<<20, b); err != nil {
			t.Fatal(err)
		}
		d.maps[1<<20] = mapping{b, 4}
		if err := td.RemoveRange(10, 60); err != nil {
			t.Fatal(err)
		}
		for vb := range d.maps {
			if vb >= 10 && vb < 60 {
				delete(d.maps, vb)
			}
		}
		d.details.MappedBlocks = uint64(len(d.maps))
		if err := pmd.CommitMetadata(); err != nil {
			t.Fatal(err)
		}
		td.Close()
	}
	if err := pmd.Close(); err != nil {
		t.Fatal(err)
	}
	if got := imageModel(t, dev, false).xml(); got != m.xml() {
		t.Fatalf("after changes:\n%s\nwant\n%s", got, m.xml())
	}
	img2 := writeImage(t, dev)
	realCheck(t, img2)
	out, _, code := runTool(t, "thin_dump", img2)
	if code != 0 || out != m.xml() {
		t.Fatalf("thin_dump after changes differs (exit %d)", code)
	}
}
