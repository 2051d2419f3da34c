// Package thinmeta is dmsim's dm-thin-metadata (drivers/md/dm-thin-metadata.c):
// the thin pool's metadata device, built on the persistent-data layers. The
// API mirrors dm-thin-metadata.h function by function, and the on-disk image
// is the kernel's: the real kernel and thin-provisioning-tools accept it.
//
// It is also the one place the on-disk format is read and written outside
// the kernel's own paths: Image (image.go) is the read-only reader the
// thin_* tools and dmsim's checks share, and Restorer (restore.go) writes a
// whole pool as thin_restore does.
package thinmeta

import (
	"encoding/binary"
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

var le = binary.LittleEndian

// On-disk constants, each named after the kernel macro it reproduces.
const (
	// SuperblockMagic is THIN_SUPERBLOCK_MAGIC.
	SuperblockMagic = 27022010
	// SuperblockLocation is THIN_SUPERBLOCK_LOCATION.
	SuperblockLocation = 0
	// SuperblockCsumXor is SUPERBLOCK_CSUM_XOR.
	SuperblockCsumXor = 160774
	// Version is THIN_VERSION, written by format.
	Version = 2
	// MetadataBlockSectors is THIN_METADATA_BLOCK_SIZE (and
	// DM_SM_METADATA_BLOCK_SIZE) in sectors.
	MetadataBlockSectors = block.Size >> 9
	// MetadataMaxBlocks is DM_SM_METADATA_MAX_BLOCKS: 255 bitmaps of
	// 16320 entries. The space map is its home; it is exported here so the
	// thin target and the tools take every thin constant from thinmeta.
	MetadataMaxBlocks = spacemap.MetadataMaxBlocks
	// MetadataMaxSectors is THIN_METADATA_MAX_SECTORS
	// (DM_SM_METADATA_MAX_SECTORS).
	MetadataMaxSectors = MetadataMaxBlocks * MetadataBlockSectors
	// MetadataMaxSectorsWarning is THIN_METADATA_MAX_SECTORS_WARNING: a
	// metadata device above 16 GiB draws a warning.
	MetadataMaxSectorsWarning = 16 * (1024 * 1024 * 1024 >> 9)
	// NeedsCheckFlag is THIN_METADATA_NEEDS_CHECK_FLAG.
	NeedsCheckFlag = 1 << 0
	// FeatureCompatROSupp is THIN_FEATURE_COMPAT_RO_SUPP and
	// FeatureIncompatSupp THIN_FEATURE_INCOMPAT_SUPP: the supported
	// optional feature masks (none).
	FeatureCompatROSupp = 0
	FeatureIncompatSupp = 0
	// MaxDevID is MAX_DEV_ID (dm-thin.c): thin device ids are 24 bits.
	MaxDevID = (1 << 24) - 1
	// DataDevBlockSizeMinSectors and DataDevBlockSizeMaxSectors are
	// DATA_DEV_BLOCK_SIZE_MIN_SECTORS and DATA_DEV_BLOCK_SIZE_MAX_SECTORS
	// (dm-thin.c): a data block is 64 KiB to 1 GiB.
	DataDevBlockSizeMinSectors = 64 * 1024 >> 9
	DataDevBlockSizeMaxSectors = 1024 * 1024 * 1024 >> 9
	// DetailsSize is sizeof(struct disk_device_details).
	DetailsSize = 24
	// smRootSize is SPACE_MAP_ROOT_SIZE.
	smRootSize = 128
)

// Byte offsets of the fields of struct thin_disk_superblock (packed,
// little-endian), in the order they are laid out: each field starts where
// the previous one ends, so the list reads as the on-disk layout
// (docs/metadata-format.md §3).
const (
	sbCsum              = 0                             // u32 crc32c of bytes 4..4095, xor SuperblockCsumXor
	sbFlags             = sbCsum + 4                    // u32 NeedsCheckFlag
	sbBlocknr           = sbFlags + 4                   // u64 this block's own location
	sbUUID              = sbBlocknr + 8                 // [16]byte
	sbMagic             = sbUUID + 16                   // u64 SuperblockMagic
	sbVersion           = sbMagic + 8                   // u32 Version
	sbTime              = sbVersion + 4                 // u32 snapshot time counter
	sbTransID           = sbTime + 4                    // u64 userspace transaction id
	sbHeldRoot          = sbTransID + 8                 // u64 held_root (the tools' metadata_snap)
	sbDataSMRoot        = sbHeldRoot + 8                // [128]byte data space map root
	sbMetadataSMRoot    = sbDataSMRoot + smRootSize     // [128]byte metadata space map root
	sbDataMappingRoot   = sbMetadataSMRoot + smRootSize // u64 top-level mapping tree
	sbDeviceDetailsRoot = sbDataMappingRoot + 8         // u64 device details tree
	sbDataBlockSize     = sbDeviceDetailsRoot + 8       // u32 sectors
	sbMetadataBlockSize = sbDataBlockSize + 4           // u32 sectors
	sbMetadataNrBlocks  = sbMetadataBlockSize + 4       // u64
	sbCompatFlags       = sbMetadataNrBlocks + 8        // u32
	sbCompatROFlags     = sbCompatFlags + 4             // u32
	sbIncompatFlags     = sbCompatROFlags + 4           // u32
	sbSize              = sbIncompatFlags + 4           // sizeof(struct thin_disk_superblock) = 364
	_                   = uint(512 - sbSize)            // it must fit one sector (written atomically)
)

// Superblock is struct thin_disk_superblock.
type Superblock struct {
	Csum              uint32
	Flags             uint32
	Blocknr           uint64
	UUID              [16]byte
	Magic             uint64
	Version           uint32
	Time              uint32
	TransID           uint64
	HeldRoot          uint64
	DataSMRoot        [smRootSize]byte
	MetadataSMRoot    [smRootSize]byte
	DataMappingRoot   uint64
	DeviceDetailsRoot uint64
	DataBlockSize     uint32
	MetadataBlockSize uint32
	MetadataNrBlocks  uint64
	CompatFlags       uint32
	CompatROFlags     uint32
	IncompatFlags     uint32
}

// DecodeSuperblock reads a superblock from a 4 KiB block (at least sbSize
// bytes), field by field.
func DecodeSuperblock(d []byte) Superblock {
	var s Superblock
	s.Csum = le.Uint32(d[sbCsum:])
	s.Flags = le.Uint32(d[sbFlags:])
	s.Blocknr = le.Uint64(d[sbBlocknr:])
	copy(s.UUID[:], d[sbUUID:])
	s.Magic = le.Uint64(d[sbMagic:])
	s.Version = le.Uint32(d[sbVersion:])
	s.Time = le.Uint32(d[sbTime:])
	s.TransID = le.Uint64(d[sbTransID:])
	s.HeldRoot = le.Uint64(d[sbHeldRoot:])
	copy(s.DataSMRoot[:], d[sbDataSMRoot:])
	copy(s.MetadataSMRoot[:], d[sbMetadataSMRoot:])
	s.DataMappingRoot = le.Uint64(d[sbDataMappingRoot:])
	s.DeviceDetailsRoot = le.Uint64(d[sbDeviceDetailsRoot:])
	s.DataBlockSize = le.Uint32(d[sbDataBlockSize:])
	s.MetadataBlockSize = le.Uint32(d[sbMetadataBlockSize:])
	s.MetadataNrBlocks = le.Uint64(d[sbMetadataNrBlocks:])
	s.CompatFlags = le.Uint32(d[sbCompatFlags:])
	s.CompatROFlags = le.Uint32(d[sbCompatROFlags:])
	s.IncompatFlags = le.Uint32(d[sbIncompatFlags:])
	return s
}

// Encode writes the superblock fields into d, field by field, but not the
// checksum: sb_prepare_for_write() computes that when the block is written.
func (s *Superblock) Encode(d []byte) {
	le.PutUint32(d[sbFlags:], s.Flags)
	le.PutUint64(d[sbBlocknr:], s.Blocknr)
	copy(d[sbUUID:], s.UUID[:])
	le.PutUint64(d[sbMagic:], s.Magic)
	le.PutUint32(d[sbVersion:], s.Version)
	le.PutUint32(d[sbTime:], s.Time)
	le.PutUint64(d[sbTransID:], s.TransID)
	le.PutUint64(d[sbHeldRoot:], s.HeldRoot)
	copy(d[sbDataSMRoot:], s.DataSMRoot[:])
	copy(d[sbMetadataSMRoot:], s.MetadataSMRoot[:])
	le.PutUint64(d[sbDataMappingRoot:], s.DataMappingRoot)
	le.PutUint64(d[sbDeviceDetailsRoot:], s.DeviceDetailsRoot)
	le.PutUint32(d[sbDataBlockSize:], s.DataBlockSize)
	le.PutUint32(d[sbMetadataBlockSize:], s.MetadataBlockSize)
	le.PutUint64(d[sbMetadataNrBlocks:], s.MetadataNrBlocks)
	le.PutUint32(d[sbCompatFlags:], s.CompatFlags)
	le.PutUint32(d[sbCompatROFlags:], s.CompatROFlags)
	le.PutUint32(d[sbIncompatFlags:], s.IncompatFlags)
}

// DataSpaceMap and MetadataSpaceMap decode the space-map roots.
func (s *Superblock) DataSpaceMap() spacemap.Root { return spacemap.DecodeRoot(s.DataSMRoot[:]) }
func (s *Superblock) MetadataSpaceMap() spacemap.Root {
	return spacemap.DecodeRoot(s.MetadataSMRoot[:])
}

// DeviceDetails is struct disk_device_details.
type DeviceDetails struct {
	MappedBlocks    uint64
	TransactionID   uint64
	CreationTime    uint32
	SnapshottedTime uint32
}

// DecodeDetails reads the 24-byte on-disk form.
func DecodeDetails(b []byte) DeviceDetails {
	return DeviceDetails{le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:]), le.Uint32(b[20:])}
}

// Encode writes the 24-byte on-disk form.
func (d DeviceDetails) Encode(b []byte) {
	le.PutUint64(b, d.MappedBlocks)
	le.PutUint64(b[8:], d.TransactionID)
	le.PutUint32(b[16:], d.CreationTime)
	le.PutUint32(b[20:], d.SnapshottedTime)
}

// PackBlockTime is pack_block_time(): data block in the top 40 bits, time in
// the low 24.
func PackBlockTime(b uint64, t uint32) uint64 { return b<<24 | uint64(t) }

// UnpackBlockTime is unpack_block_time().
func UnpackBlockTime(v uint64) (uint64, uint32) { return v >> 24, uint32(v & (1<<24 - 1)) }

// sbValidator is sb_validator (sb_check() / sb_prepare_for_write()); failures
// are logged with the kernel's texts when log is set.
type sbValidator struct {
	log func(level int, msg string)
}

func (v *sbValidator) Name() string { return "superblock" }

func (v *sbValidator) PrepareForWrite(d []byte, loc uint64) {
	le.PutUint64(d[sbBlocknr:], loc)
	le.PutUint32(d[sbCsum:], block.Checksum(d[sbFlags:block.Size], SuperblockCsumXor))
}

func (v *sbValidator) fail(loc uint64, errno linuxerr.Errno, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if v.log != nil {
		v.log(LogErr, "device-mapper: thin metadata: "+msg)
	}
	return &block.CheckError{Validator: "superblock", Block: loc, Msg: msg, Errno: errno}
}

func (v *sbValidator) Check(d []byte, loc uint64) error {
	if got := le.Uint64(d[sbBlocknr:]); got != loc {
		return v.fail(loc, linuxerr.ENOTBLK, "sb_check failed: blocknr %d: wanted %d", got, loc)
	}
	if m := le.Uint64(d[sbMagic:]); m != SuperblockMagic {
		return v.fail(loc, linuxerr.EILSEQ, "sb_check failed: magic %d: wanted %d", m, uint64(SuperblockMagic))
	}
	csum := block.Checksum(d[sbFlags:block.Size], SuperblockCsumXor)
	if got := le.Uint32(d[sbCsum:]); got != csum {
		return v.fail(loc, linuxerr.EILSEQ, "sb_check failed: csum %d: wanted %d", csum, got)
	}
	return nil
}
