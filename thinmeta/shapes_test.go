package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestLargeShapes covers the structures small pools never reach: a details
// tree with internal nodes (>126 devices), a data space map index tree with
// an internal node (>168 bitmaps), a subtree shared three ways (metadata
// overflow tree) and data blocks shared three ways (data overflow tree),
// all checked by the real thin_check and thin_dump.
func TestLargeShapes(t *testing.T) {
	dev := block.NewMemDevice(32 << 20)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const nrData = 170 * 16320
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(pmd.ResizeDataDev(nrData))
	must(pmd.CommitMetadata())
	m := &model{version: 2, blockSize: 128, nrData: nrData, devs: map[uint64]*modelDev{}}
	for id := uint64(0); id < 200; id++ {
		must(pmd.CreateThin(uint32(id)))
		m.devs[id] = &modelDev{details: DeviceDetails{}, maps: map[uint64]mapping{}}
	}
	must(pmd.CommitMetadata())
	td, _ := pmd.OpenThinDevice(7)
	d := m.devs[7]
	for vb := uint64(0); vb < 600; vb++ {
		b, err := pmd.AllocDataBlock()
		must(err)
		must(td.InsertBlock(vb*3, b))
		d.maps[vb*3] = mapping{b, 0}
	}
	d.details.MappedBlocks = 600
	must(pmd.CommitMetadata())
	for _, id := range []uint32{1000, 1001, 1002} {
		must(pmd.CreateSnap(id, 7))
		must(pmd.CommitMetadata())
	}
	m.time = 3
	d.details.SnapshottedTime = 3
	for i, id := range []uint64{1000, 1001, 1002} {
		nd := &modelDev{details: DeviceDetails{600, 0, uint32(i + 1), uint32(i + 1)}, maps: map[uint64]mapping{}}
		for k, v := range d.maps {
			nd.maps[k] = v
		}
		m.devs[id] = nd
	}
	// Data blocks far into the data device, in the last bitmaps.
	b, _ := pmd.AllocDataBlock()
	must(td.InsertBlock(5, b))
	d.maps[5] = mapping{b, 3}
	d.details.MappedBlocks++
	must(pmd.CommitMetadata())
	td.Close()
	for id := uint32(0); id < 200; id += 3 {
		if id == 7 {
			continue
		}
		must(pmd.DeleteThinDevice(id))
		delete(m.devs, uint64(id))
	}
	must(pmd.CommitMetadata())
	must(pmd.Close())
	selfCheck(t, dev)
	img := writeImage(t, dev)
	realCheck(t, img)
	out, errs, code := runTool(t, "thin_dump", img)
	if code != 0 || out != m.xml() {
		t.Fatalf("thin_dump: exit %d %s: differs from the model", code, errs)
	}
}
