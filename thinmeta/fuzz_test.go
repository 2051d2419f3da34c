package thinmeta

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// fuzzBase builds a small valid image with devices, mappings, a snapshot,
// a held metadata snapshot and counts above 2, and records each block's
// type so the fuzzer can re-checksum what it corrupts.
func fuzzBase(tb testing.TB) ([]byte, map[uint64]block.Validator) {
	dev := block.NewMemDevice(48 * block.Size)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	pmd.ResizeDataDev(2000)
	pmd.CreateThin(1)
	td, _ := pmd.OpenThinDevice(1)
	for vb := uint64(0); vb < 300; vb += 1 + vb%3 {
		b, _ := pmd.AllocDataBlock()
		td.InsertBlock(vb, b)
	}
	pmd.CommitMetadata()
	pmd.CreateSnap(2, 1)
	pmd.CreateSnap(3, 1)
	pmd.CreateThin(4)
	pmd.CommitMetadata()
	pmd.ReserveMetadataSnap()
	td.InsertBlock(5000, 1999)
	pmd.CommitMetadata()
	td.Close()
	if err := pmd.Close(); err != nil {
		tb.Fatal(err)
	}
	img := dev.Bytes()
	// Every block in use is a btree node but for the superblocks, the
	// metadata index block and the bitmaps.
	types := map[uint64]block.Validator{}
	im := NewImage(dev)
	sb, err := im.Superblock(SuperblockLocation)
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := im.RecountMetadata(&sb, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for b, c := range rc.Expected {
		if c != 0 {
			types[uint64(b)] = btree.Validator
		}
	}
	types[0], types[sb.HeldRoot] = nil, nil
	types[sb.MetadataSpaceMap().BitmapRoot] = spacemap.IndexValidator
	for i, r := range []spacemap.Root{sb.MetadataSpaceMap(), sb.DataSpaceMap()} {
		s, err := im.ReadSpaceMap(r, i == 0, nil)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ie := range s.Entries {
			types[ie.Blocknr] = spacemap.BitmapValidator
		}
	}
	return img, types
}

// FuzzMetadataReader corrupts a valid image (XOR patches, optionally with
// checksums recomputed so the damage reaches the structure checks) and
// runs the read-only walker and the kernel-side open and queries on it:
// every outcome must be a result or a clear error, never a panic or hang.
func FuzzMetadataReader(f *testing.F) {
	base, types := fuzzBase(f)
	f.Add(uint32(0), []byte{0xff}, false)
	f.Add(uint32(16), []byte{1, 2, 3}, true)
	f.Add(uint32(4096*3+20), []byte{0x7f, 0xff}, true)
	f.Add(uint32(4096*5+40), []byte{0, 0, 0, 0x10}, true)
	f.Add(uint32(344), []byte{0xff, 0xff, 0xff, 0xff}, true)
	f.Add(uint32(64), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, true)
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, fix bool) {
		img := append([]byte(nil), base...)
		o := int(off % uint32(len(img)))
		touched := map[uint64]bool{}
		for i, p := range patch {
			if o+i >= len(img) {
				break
			}
			img[o+i] ^= p
			touched[uint64((o+i)/block.Size)] = true
		}
		if fix {
			for b := range touched {
				d := img[b*block.Size : (b+1)*block.Size]
				v, ok := types[b]
				switch {
				case !ok:
				case v == nil:
					binary.LittleEndian.PutUint32(d, block.Checksum(d[4:], SuperblockCsumXor))
				default:
					binary.LittleEndian.PutUint32(d, block.Checksum(d[4:], v.(*block.Std).Xor))
				}
			}
		}
		dev := block.NewMemDevice(int64(len(img)))
		dev.WriteAt(img, 0)
		im := NewImage(dev)
		for _, p := range im.Check().Problems {
			if p.Msg == "" {
				t.Fatal("empty problem")
			}
		}
		if sb, err := im.Superblock(SuperblockLocation); err == nil && sb.HeldRoot != 0 {
			if snap, err := im.Superblock(sb.HeldRoot); err == nil {
				im.ReadTree(snap.DeviceDetailsRoot, DetailsSize, nil, nil)
			}
		}
		pmd, err := Open(dev, 128, false, Options{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, id := range []uint32{1, 2, 3, 4, 9} {
			td, err := pmd.OpenThinDevice(id)
			if err != nil {
				continue
			}
			td.FindBlock(3, true)
			td.FindMappedRange(0, 400)
			td.HighestMappedBlock()
			td.InsertBlock(7, 1500)
			td.RemoveRange(10, 20)
			td.Close()
		}
		if b, err := pmd.AllocDataBlock(); err == nil {
			pmd.BlockIsShared(b)
		}
		pmd.CreateSnap(10, 1)
		pmd.DeleteThinDevice(2)
		pmd.ReleaseMetadataSnap()
		pmd.CommitMetadata()
		pmd.Close()
	})
}

// FuzzLayout corrupts a valid image as FuzzMetadataReader does and asks
// for its layout, each block's description and a diff against the
// original: a result or an error, never a panic or a hang.
func FuzzLayout(f *testing.F) {
	base, types := fuzzBase(f)
	f.Add(uint32(0), []byte{0xff}, false)
	f.Add(uint32(4096*3+20), []byte{0x7f, 0xff}, true)
	f.Add(uint32(4096*5+40), []byte{0, 0, 0, 0x10}, true)
	f.Add(uint32(4096*7+32), []byte{7, 0, 0, 0, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, fix bool) {
		img := append([]byte(nil), base...)
		o := int(off % uint32(len(img)))
		for i, p := range patch {
			if o+i >= len(img) {
				break
			}
			img[o+i] ^= p
			b := uint64((o + i) / block.Size)
			d := img[b*block.Size : (b+1)*block.Size]
			if v, ok := types[b]; fix && ok {
				xor := uint32(SuperblockCsumXor)
				if v != nil {
					xor = v.(*block.Std).Xor
				}
				binary.LittleEndian.PutUint32(d, block.Checksum(d[4:], xor))
			}
		}
		dev := block.NewMemDevice(int64(len(img)))
		dev.WriteAt(img, 0)
		im := NewImage(dev)
		if l, err := im.Layout(); err == nil && len(l) != int(im.NrBlocks) {
			t.Fatalf("layout of %d blocks for %d", len(l), im.NrBlocks)
		}
		for b := uint64(0); b < im.NrBlocks; b++ {
			if d, err := im.DescribeBlock(b); err == nil && d == "" {
				t.Fatalf("block %d: empty description", b)
			}
		}
		orig := block.NewMemDevice(int64(len(base)))
		orig.WriteAt(base, 0)
		if diffs, err := DiffImages(NewImage(orig), NewImage(dev)); err == nil && len(diffs) == 0 && !bytes.Equal(img, base) {
			t.Fatal("no differing block reported for a changed image")
		}
	})
}
