package thinmeta

import (
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestRandomPool drives the thin metadata API with random operations like
// a pool would (provision, break sharing, discard ranges, snapshots,
// deletes, metadata snapshots, aborts) against a model, then checks the
// image with the walker, the real thin_check and the real thin_dump.
func TestRandomPool(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewSource(seed))
		dev := block.NewMemDevice(16 << 20)
		pmd, err := Open(dev, 128, true, Options{})
		if err != nil {
			t.Fatal(err)
		}
		const nrData = 20000
		if err := pmd.ResizeDataDev(nrData); err != nil {
			t.Fatal(err)
		}
		m := &model{version: 2, blockSize: 128, nrData: nrData, devs: map[uint64]*modelDev{}}
		committed := m.clone()
		tds := map[uint64]*ThinDevice{}
		open := func(id uint64) *ThinDevice {
			if tds[id] == nil {
				td, err := pmd.OpenThinDevice(uint32(id))
				if err != nil {
					t.Fatal(err)
				}
				tds[id] = td
			}
			return tds[id]
		}
		ids := func() []uint64 {
			var out []uint64
			for id := range m.devs {
				out = append(out, id)
			}
			return out
		}
		for op := 0; op < 3000; op++ {
			if n := pmd.bm.Locked(); n != 0 {
				t.Fatalf("op %d: %d blocks left locked", op, n)
			}
			switch r := rng.Intn(1000); {
			case r < 20:
				id := uint64(rng.Intn(300))
				err := pmd.CreateThin(uint32(id))
				if _, ok := m.devs[id]; ok != (err == linuxerr.EEXIST) {
					t.Fatalf("create_thin %d: %v", id, err)
				}
				if err == nil {
					m.devs[id] = &modelDev{details: DeviceDetails{0, m.trans, m.time, m.time}, maps: map[uint64]mapping{}}
				}
				pmd.CommitMetadata()
				committed = m.clone()
			case r < 35 && len(m.devs) > 0:
				all := ids()
				origin := all[rng.Intn(len(all))]
				id := uint64(rng.Intn(300))
				if _, ok := m.devs[id]; ok {
					continue
				}
				if err := pmd.CreateSnap(uint32(id), uint32(origin)); err != nil {
					t.Fatal(err)
				}
				m.time++
				o := m.devs[origin]
				o.details.SnapshottedTime = m.time
				nd := &modelDev{details: DeviceDetails{o.details.MappedBlocks, m.trans, m.time, m.time}, maps: map[uint64]mapping{}}
				for k, v := range o.maps {
					nd.maps[k] = v
				}
				m.devs[id] = nd
				pmd.CommitMetadata()
				committed = m.clone()
			case r < 42 && len(m.devs) > 0:
				all := ids()
				id := all[rng.Intn(len(all))]
				if td := tds[id]; td != nil {
					td.Close()
					delete(tds, id)
				}
				if err := pmd.DeleteThinDevice(uint32(id)); err != nil {
					t.Fatal(err)
				}
				delete(m.devs, id)
				pmd.CommitMetadata()
				committed = m.clone()
			case r < 800 && len(m.devs) > 0:
				// Provision or overwrite a shared block.
				all := ids()
				id := all[rng.Intn(len(all))]
				td := open(id)
				vb := uint64(rng.Intn(2000))
				if rng.Intn(4) == 0 {
					vb = uint64(rng.Intn(1 << 30))
				}
				res, err := td.FindBlock(vb, true)
				d := m.devs[id]
				mp, had := d.maps[vb]
				if had != (err == nil) || (had && (res.Block != mp.block || res.Shared != (d.details.SnapshottedTime > mp.time))) {
					t.Fatalf("find_block %d/%d: %+v %v, model %+v %v", id, vb, res, err, mp, had)
				}
				if had && !res.Shared {
					continue
				}
				b, err := pmd.AllocDataBlock()
				if err == linuxerr.ENOSPC {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := td.InsertBlock(vb, b); err != nil {
					t.Fatal(err)
				}
				if !had {
					d.details.MappedBlocks++
				}
				d.maps[vb] = mapping{b, m.time}
			case r < 900 && len(m.devs) > 0:
				all := ids()
				id := all[rng.Intn(len(all))]
				td := open(id)
				begin := uint64(rng.Intn(2000))
				end := begin + uint64(rng.Intn(200))
				if err := td.RemoveRange(begin, end); err != nil {
					t.Fatal(err)
				}
				d := m.devs[id]
				for vb := range d.maps {
					if vb >= begin && vb < end {
						delete(d.maps, vb)
						d.details.MappedBlocks--
					}
				}
			case r < 905:
				// pool_message() commits after a successful message.
				if err := pmd.ReserveMetadataSnap(); err == nil {
					pmd.CommitMetadata()
				} else if err != linuxerr.EBUSY {
					t.Fatal(err)
				}
				committed = m.clone()
			case r < 910:
				if pmd.ReleaseMetadataSnap() == nil {
					pmd.CommitMetadata()
					committed = m.clone()
				}
			case r < 915:
				// Abort: back to the last commit. As in the kernel, the
				// in-core details of open devices are kept, so close
				// them first to drop them.
				for id, td := range tds {
					td.Close()
					delete(tds, id)
				}
				if err := pmd.AbortMetadata(); err != nil {
					t.Fatal(err)
				}
				// The in-core details of changed devices survive an
				// abort too (the next commit would write them), so, like
				// a pool after an abort, go read-only and reopen.
				pmd.SetReadOnly()
				if err := pmd.Close(); err != nil {
					t.Fatal(err)
				}
				if pmd, err = Open(dev, 128, false, Options{}); err != nil {
					t.Fatal(err)
				}
				m = committed.clone()
			case r < 935:
				trans := m.trans + 1
				if err := pmd.SetMetadataTransactionID(m.trans, trans); err != nil {
					t.Fatal(err)
				}
				m.trans = trans
			default:
				if err := pmd.CommitMetadata(); err != nil {
					t.Fatal(err)
				}
				committed = m.clone()
			}
		}
		commitAndClose(t, pmd, slices.Collect(maps.Values(tds))...)
		selfCheck(t, dev)
		got := imageModel(t, dev, false)
		want := m.xml()
		if got.xml() != want {
			t.Fatalf("seed %d: image differs from the model:\n%s\nwant\n%s", seed, got.xml(), want)
		}
		img := writeImage(t, dev)
		realCheck(t, img)
		out, errs, code := runTool(t, "thin_dump", img)
		if code != 0 || out != want {
			os.WriteFile(filepath.Join(os.TempDir(), "dmsim-want.xml"), []byte(want), 0o644)
			t.Fatalf("seed %d: thin_dump exit %d %s: differs from the model", seed, code, errs)
		}
	}
}

func (m *model) clone() *model {
	c := *m
	c.devs = map[uint64]*modelDev{}
	for id, d := range m.devs {
		nd := &modelDev{details: d.details, maps: map[uint64]mapping{}}
		for k, v := range d.maps {
			nd.maps[k] = v
		}
		c.devs[id] = nd
	}
	return &c
}
