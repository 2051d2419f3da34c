package thinmeta

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/internal/realtools"
	"github.com/dmsim/dmsim/persistent-data/block"
)

// runTool runs a real thin-provisioning-tools binary and returns stdout,
// stderr and the exit code. A missing tool skips the test, except on CI
// (see realtools).
func runTool(t testing.TB, name string, args ...string) (string, string, int) {
	t.Helper()
	return realtools.Run(t, name, args...)
}

// writeImage saves a MemDevice to a temporary image file.
func writeImage(t testing.TB, dev *block.MemDevice) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "meta.img")
	if err := os.WriteFile(p, dev.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// realCheck runs thin_check on the image and fails the test on any error.
func realCheck(t testing.TB, img string, extra ...string) {
	t.Helper()
	out, errs, code := runTool(t, "thin_check", append(extra, img)...)
	if code != 0 {
		t.Fatalf("thin_check %v %s: exit %d\n%s%s", extra, img, code, out, errs)
	}
}

// mapping and model describe pool content independently of any image.
type mapping struct {
	block uint64
	time  uint32
}

type modelDev struct {
	details DeviceDetails
	maps    map[uint64]mapping
}

type model struct {
	time, flags, version uint32
	trans                uint64
	blockSize            uint32
	nrData               uint64
	devs                 map[uint64]*modelDev
}

// xml renders the model as thin_dump 0.9.0 prints it.
func (m *model) xml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<superblock uuid=\"\" time=\"%d\" transaction=\"%d\" flags=\"%d\" version=\"%d\" data_block_size=\"%d\" nr_data_blocks=\"%d\">\n",
		m.time, m.trans, m.flags, m.version, m.blockSize, m.nrData)
	ids := make([]uint64, 0, len(m.devs))
	for id := range m.devs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		d := m.devs[id]
		fmt.Fprintf(&b, "  <device dev_id=\"%d\" mapped_blocks=\"%d\" transaction=\"%d\" creation_time=\"%d\" snap_time=\"%d\">\n",
			id, d.details.MappedBlocks, d.details.TransactionID, d.details.CreationTime, d.details.SnapshottedTime)
		vbs := make([]uint64, 0, len(d.maps))
		for vb := range d.maps {
			vbs = append(vbs, vb)
		}
		sort.Slice(vbs, func(i, j int) bool { return vbs[i] < vbs[j] })
		for i := 0; i < len(vbs); {
			j := i + 1
			for j < len(vbs) && vbs[j] == vbs[j-1]+1 && d.maps[vbs[j]].block == d.maps[vbs[j-1]].block+1 && d.maps[vbs[j]].time == d.maps[vbs[i]].time {
				j++
			}
			mp := d.maps[vbs[i]]
			if j-i == 1 {
				fmt.Fprintf(&b, "    <single_mapping origin_block=\"%d\" data_block=\"%d\" time=\"%d\"/>\n", vbs[i], mp.block, mp.time)
			} else {
				fmt.Fprintf(&b, "    <range_mapping origin_begin=\"%d\" data_begin=\"%d\" length=\"%d\" time=\"%d\"/>\n", vbs[i], mp.block, j-i, mp.time)
			}
			i = j
		}
		b.WriteString("  </device>\n")
	}
	b.WriteString("</superblock>\n")
	return b.String()
}

// imageModel reads an image back into a model with the walker.
func imageModel(t testing.TB, dev block.Device, snap bool) *model {
	t.Helper()
	im := NewImage(dev)
	sb, err := im.Superblock(SuperblockLocation)
	if err != nil {
		t.Fatal(err)
	}
	if snap {
		if sb, err = im.Superblock(sb.HeldRoot); err != nil {
			t.Fatal(err)
		}
	}
	m := &model{time: sb.Time, flags: sb.Flags, version: sb.Version, trans: sb.TransID, blockSize: sb.DataBlockSize, devs: map[uint64]*modelDev{}}
	if !snap {
		m.nrData = sb.DataSpaceMap().NrBlocks
	}
	if err := im.ReadTree(sb.DeviceDetailsRoot, DetailsSize, nil, func(id uint64, v []byte) error {
		m.devs[id] = &modelDev{details: DecodeDetails(v), maps: map[uint64]mapping{}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := im.ReadTree(sb.DataMappingRoot, 8, nil, func(id uint64, v []byte) error {
		d := m.devs[id]
		if d == nil {
			return fmt.Errorf("device %d has mappings but no details", id)
		}
		return im.ReadTree(le.Uint64(v), 8, nil, func(vb uint64, v []byte) error {
			b, tm := UnpackBlockTime(le.Uint64(v))
			d.maps[vb] = mapping{b, tm}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// selfCheck runs the walker's Check and fails on any problem.
func selfCheck(t testing.TB, dev block.Device) {
	t.Helper()
	rep := NewImage(dev).Check()
	for _, p := range rep.Problems {
		t.Errorf("check: %s", p.Msg)
	}
	if !rep.OK() {
		t.FailNow()
	}
}
