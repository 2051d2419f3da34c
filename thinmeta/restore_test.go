package thinmeta

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
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

// TestRestorer restores pools through the Restorer and reads them back:
// the content, dmsim's own check (which sees 0.9.0's nr_allocated "one
// too high" when no device is empty), the kernel's view of the used
// metadata, and the errors it returns.
func TestRestorer(t *testing.T) {
	restore := func(dev *block.MemDevice, m *model) error {
		r, err := NewRestorer(dev)
		if err != nil {
			return err
		}
		if err := r.BeginSuperblock(PoolHeader{Version: m.version, Time: m.time, TransID: m.trans, DataBlockSize: m.blockSize, NrDataBlocks: m.nrData}); err != nil {
			return err
		}
		ids := make([]uint64, 0, len(m.devs))
		for id := range m.devs {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] }) // any order
		for _, id := range ids {
			d := m.devs[id]
			if err := r.BeginDevice(id, DeviceDetails{999, d.details.TransactionID, d.details.CreationTime, d.details.SnapshottedTime}); err != nil {
				return err
			}
			for vb, mp := range d.maps {
				if err := r.Map(vb, mp.block, mp.time); err != nil {
					return err
				}
			}
			if err := r.EndDevice(); err != nil {
				return err
			}
		}
		return r.Commit()
	}
	for _, withEmpty := range []bool{false, true} {
		rng := rand.New(rand.NewSource(5))
		m := &model{time: 2, trans: 3, version: 2, blockSize: 128, nrData: 5000, devs: map[uint64]*modelDev{}}
		for id := uint64(1); id <= 140; id++ {
			d := &modelDev{details: DeviceDetails{0, id, 1, 2}, maps: map[uint64]mapping{}}
			n := 1 + rng.Intn(20)
			if id%50 == 0 {
				n = 600 // internal nodes
			}
			if withEmpty && id%7 == 0 {
				n = 0
			}
			for i := 0; i < n; i++ {
				d.maps[uint64(rng.Intn(5000))] = mapping{uint64(rng.Intn(300)), uint32(rng.Intn(3))} // shared data blocks
			}
			d.details.MappedBlocks = uint64(len(d.maps))
			m.devs[id] = d
		}
		dev := block.NewMemDevice(8 << 20)
		if err := restore(dev, m); err != nil {
			t.Fatal(err)
		}
		if got := imageModel(t, dev, false).xml(); got != m.xml() {
			t.Fatalf("restored image reads back as\n%s\nwant\n%s", got, m.xml())
		}
		im := NewImage(dev)
		sb, _ := im.Superblock(SuperblockLocation)
		root := sb.MetadataSpaceMap()
		rep := im.Check()
		want := []Problem{{false, fmt.Sprintf("metadata space map nr_allocated is %d, counted %d", root.NrAllocated, root.NrAllocated-1)}}
		if withEmpty {
			want = nil
		}
		if fmt.Sprint(rep.Problems) != fmt.Sprint(want) {
			t.Fatalf("empty devices %v: check found %v, want %v", withEmpty, rep.Problems, want)
		}
		pmd, err := Open(dev, 128, false, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if used, _ := pmd.UsedMetadataBlocks(); used != root.NrAllocated+pmd.MetadataReserve() {
			t.Fatalf("the kernel sees %d used metadata blocks, want nr_allocated %d + reserve %d", used, root.NrAllocated, pmd.MetadataReserve())
		}
		pmd.Close()
	}
	// Errors: the device fills up, a device comes twice.
	m := &model{version: 2, blockSize: 128, nrData: 1 << 20, devs: map[uint64]*modelDev{1: {maps: map[uint64]mapping{}}}}
	for vb := uint64(0); vb < 20000; vb++ {
		m.devs[1].maps[vb] = mapping{vb, 0}
	}
	if err := restore(block.NewMemDevice(64*block.Size), m); !errors.Is(err, linuxerr.ENOSPC) {
		t.Fatalf("restore onto a small device: %v, want ENOSPC", err)
	}
	r, err := NewRestorer(block.NewMemDevice(64 * block.Size))
	if err != nil {
		t.Fatal(err)
	}
	r.BeginSuperblock(PoolHeader{NrDataBlocks: 10})
	r.BeginDevice(4, DeviceDetails{})
	r.EndDevice()
	if err := r.BeginDevice(4, DeviceDetails{}); err != linuxerr.EEXIST {
		t.Fatalf("device 4 again: %v, want EEXIST", err)
	}
}

// TestCheckFindsDamage: dmsim's own check is not blind.
func TestCheckFindsDamage(t *testing.T) {
	base, _ := fuzzBase(t)
	sb := DecodeSuperblock(base)
	im := NewImage(memImage(base))
	// fuzzBase maps data block 1999 without allocating it.
	if rep := im.Check(); len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Msg, "block 1999, expected 1, but got 0") {
		t.Fatalf("base image: %v", rep.Problems)
	}
	meta, err := im.ReadSpaceMap(sb.MetadataSpaceMap(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	free := meta.Covered() - 1
	for meta.Count(free) != 0 {
		free--
	}
	for _, c := range []struct {
		name   string
		damage func(img []byte)
		want   string
	}{
		{"leaked block", func(img []byte) {
			bm := img[meta.Entries[0].Blocknr*block.Size:][:block.Size]
			spacemap.BitmapSet(bm, free, 1)
			le.PutUint32(bm, block.Checksum(bm[4:], spacemap.BitmapCsumXor))
		}, fmt.Sprintf("metadata reference counts differ for block %d, expected 0, but got 1", free)},
		{"bad node", func(img []byte) { img[sb.DeviceDetailsRoot*block.Size+100] ^= 1 }, "device details tree: btree node"},
		{"mapped_blocks", func(img []byte) {
			n := btree.Node(img[sb.DeviceDetailsRoot*block.Size:][:block.Size])
			le.PutUint64(n.Value(0), 12345)
			le.PutUint32(n, block.Checksum(n[4:], btree.CsumXor))
		}, "thin device 1 has 201 mappings but mapped_blocks is 12345"},
	} {
		img := append([]byte(nil), base...)
		c.damage(img)
		rep := NewImage(memImage(img)).Check()
		found := false
		for _, p := range rep.Problems {
			found = found || strings.Contains(p.Msg, c.want)
		}
		if !found {
			t.Errorf("%s: problems %v, want %q", c.name, rep.Problems, c.want)
		}
	}
}

func memImage(img []byte) *block.MemDevice {
	dev := block.NewMemDevice(int64(len(img)))
	dev.WriteAt(img, 0)
	return dev
}
