package thinmeta

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// sbSample has a different value in every field, each with distinct bytes,
// so a field written at the wrong offset or with the wrong width shows.
func sbSample() Superblock {
	s := Superblock{
		Flags:             0x04030201,
		Blocknr:           0x1817161514131211,
		Magic:             SuperblockMagic,
		Version:           0x24232221,
		Time:              0x28272625,
		TransID:           0x3837363534333231,
		HeldRoot:          0x4847464544434241,
		DataMappingRoot:   0x5857565554535251,
		DeviceDetailsRoot: 0x6867666564636261,
		DataBlockSize:     0x74737271,
		MetadataBlockSize: 0x78777675,
		MetadataNrBlocks:  0x8887868584838281,
		CompatFlags:       0x94939291,
		CompatROFlags:     0x98979695,
		IncompatFlags:     0x9c9b9a99,
	}
	for i := range s.UUID {
		s.UUID[i] = 0xa0 + byte(i)
	}
	for i := range s.DataSMRoot {
		s.DataSMRoot[i] = byte(i)
		s.MetadataSMRoot[i] = 0x80 + byte(i)
	}
	return s
}

func le32(v uint32) []byte  { return binary.LittleEndian.AppendUint32(nil, v) }
func le64b(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// TestSuperblockLayout writes a superblock and reads the bytes back at the
// offsets of struct thin_disk_superblock as the kernel lays it out (packed,
// little-endian, 364 bytes), then checks that decoding gives the same
// superblock back.
func TestSuperblockLayout(t *testing.T) {
	s := sbSample()
	d := make([]byte, block.Size)
	s.Encode(d)
	if !bytes.Equal(d[0:4], make([]byte, 4)) {
		t.Fatalf("Encode wrote the checksum field: % x", d[0:4])
	}
	// sb_prepare_for_write(): blocknr, then the checksum over bytes 4..4095.
	(&sbValidator{}).PrepareForWrite(d, s.Blocknr)
	if err := (&sbValidator{}).Check(d, s.Blocknr); err != nil {
		t.Fatalf("sb_check: %v", err)
	}
	csum := block.Checksum(d[4:block.Size], 160774)

	tests := []struct {
		field string
		off   int // the kernel's offset, written out
		named int // our named offset
		want  []byte
	}{
		{"csum", 0, sbCsum, le32(csum)},
		{"flags", 4, sbFlags, le32(s.Flags)},
		{"blocknr", 8, sbBlocknr, le64b(s.Blocknr)},
		{"uuid", 16, sbUUID, s.UUID[:]},
		{"magic", 32, sbMagic, []byte{0xba, 0x52, 0x9c, 0x01, 0, 0, 0, 0}},
		{"version", 40, sbVersion, le32(s.Version)},
		{"time", 44, sbTime, le32(s.Time)},
		{"trans_id", 48, sbTransID, le64b(s.TransID)},
		{"metadata_snap (held_root)", 56, sbHeldRoot, le64b(s.HeldRoot)},
		{"data_space_map_root", 64, sbDataSMRoot, s.DataSMRoot[:]},
		{"metadata_space_map_root", 192, sbMetadataSMRoot, s.MetadataSMRoot[:]},
		{"data_mapping_root", 320, sbDataMappingRoot, le64b(s.DataMappingRoot)},
		{"device_details_root", 328, sbDeviceDetailsRoot, le64b(s.DeviceDetailsRoot)},
		{"data_block_size", 336, sbDataBlockSize, le32(s.DataBlockSize)},
		{"metadata_block_size", 340, sbMetadataBlockSize, le32(s.MetadataBlockSize)},
		{"metadata_nr_blocks", 344, sbMetadataNrBlocks, le64b(s.MetadataNrBlocks)},
		{"compat_flags", 352, sbCompatFlags, le32(s.CompatFlags)},
		{"compat_ro_flags", 356, sbCompatROFlags, le32(s.CompatROFlags)},
		{"incompat_flags", 360, sbIncompatFlags, le32(s.IncompatFlags)},
	}
	end := 0
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if tt.named != tt.off {
				t.Errorf("named offset %d, kernel offset %d", tt.named, tt.off)
			}
			if got := d[tt.off : tt.off+len(tt.want)]; !bytes.Equal(got, tt.want) {
				t.Errorf("bytes at %d: % x, want % x", tt.off, got, tt.want)
			}
		})
		// The struct is packed: every field starts where the last ended.
		if tt.off != end {
			t.Errorf("%s starts at %d, the previous field ends at %d", tt.field, tt.off, end)
		}
		end = tt.off + len(tt.want)
	}
	if end != 364 || sbSize != 364 {
		t.Errorf("superblock ends at %d, sbSize %d: want 364", end, sbSize)
	}
	if !bytes.Equal(d[end:], make([]byte, block.Size-end)) {
		t.Errorf("bytes past the superblock are not zero")
	}

	want := s
	want.Csum = csum
	if got := DecodeSuperblock(d); got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

// TestSuperblockRoundTrip: Encode then DecodeSuperblock gives back every
// field, for superblocks from empty to every bit set.
func TestSuperblockRoundTrip(t *testing.T) {
	ones := DecodeSuperblock(bytes.Repeat([]byte{0xff}, block.Size))
	formatted := Superblock{Magic: SuperblockMagic, Version: Version, DataMappingRoot: 7,
		DeviceDetailsRoot: 6, DataBlockSize: 128, MetadataBlockSize: MetadataBlockSectors, MetadataNrBlocks: 1024}
	tests := []struct {
		name string
		s    Superblock
	}{
		{"zero", Superblock{}},
		{"formatted", formatted},
		{"sample", sbSample()},
		{"all ones", ones},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := make([]byte, block.Size)
			le.PutUint32(d[sbCsum:], tt.s.Csum)
			tt.s.Encode(d)
			if got := DecodeSuperblock(d); got != tt.s {
				t.Errorf("got %+v\nwant %+v", got, tt.s)
			}
		})
	}
}

// FuzzDecodeSuperblock: any block decodes without panicking, and encoding
// the result rebuilds the superblock's 364 bytes exactly (and nothing past
// them); sb_check() never panics either.
func FuzzDecodeSuperblock(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, block.Size))
	dev := block.NewMemDevice(64 * block.Size)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		f.Fatal(err)
	}
	pmd.Close()
	f.Add(dev.Bytes()[:block.Size])
	f.Fuzz(func(t *testing.T, in []byte) {
		d := make([]byte, block.Size)
		copy(d, in)
		(&sbValidator{}).Check(d, SuperblockLocation)
		s := DecodeSuperblock(d)
		e := make([]byte, block.Size)
		le.PutUint32(e[sbCsum:], s.Csum)
		s.Encode(e)
		if !bytes.Equal(e[:sbSize], d[:sbSize]) {
			t.Fatalf("re-encoded superblock differs:\n got % x\nwant % x", e[:sbSize], d[:sbSize])
		}
		if !bytes.Equal(e[sbSize:], make([]byte, block.Size-sbSize)) {
			t.Fatal("Encode wrote past the superblock")
		}
		if again := DecodeSuperblock(e); again != s {
			t.Fatalf("decode(encode(s)) = %+v, want %+v", again, s)
		}
	})
}
