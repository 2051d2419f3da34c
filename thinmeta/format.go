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

// On-disk constants.
const (
	SuperblockMagic    = 27022010
	SuperblockLocation = 0
	SuperblockCsumXor  = 160774
	// Version is THIN_VERSION, written by format.
	Version = 2
	// MetadataBlockSectors is THIN_METADATA_BLOCK_SIZE in sectors.
	MetadataBlockSectors = 8
	// MetadataMaxSectors is THIN_METADATA_MAX_SECTORS.
	MetadataMaxSectors = spacemap.MetadataMaxBlocks * MetadataBlockSectors
	// MetadataMaxSectorsWarning is THIN_METADATA_MAX_SECTORS_WARNING.
	MetadataMaxSectorsWarning = 16 * (1024 * 1024 * 1024 >> 9)
	// NeedsCheckFlag is THIN_METADATA_NEEDS_CHECK_FLAG.
	NeedsCheckFlag = 1 << 0
	// FeatureCompatROSupp and FeatureIncompatSupp are the supported
	// optional feature masks (none).
	FeatureCompatROSupp = 0
	FeatureIncompatSupp = 0
	// MaxDevID is the largest thin device id (24 bits).
	MaxDevID = (1 << 24) - 1
	// DetailsSize is sizeof(struct disk_device_details).
	DetailsSize = 24
	smRootSize  = 128
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

// DecodeSuperblock reads a superblock from a 4 KiB block.
func DecodeSuperblock(d []byte) Superblock {
	var s Superblock
	s.Csum = le.Uint32(d[0:])
	s.Flags = le.Uint32(d[4:])
	s.Blocknr = le.Uint64(d[8:])
	copy(s.UUID[:], d[16:32])
	s.Magic = le.Uint64(d[32:])
	s.Version = le.Uint32(d[40:])
	s.Time = le.Uint32(d[44:])
	s.TransID = le.Uint64(d[48:])
	s.HeldRoot = le.Uint64(d[56:])
	copy(s.DataSMRoot[:], d[64:192])
	copy(s.MetadataSMRoot[:], d[192:320])
	s.DataMappingRoot = le.Uint64(d[320:])
	s.DeviceDetailsRoot = le.Uint64(d[328:])
	s.DataBlockSize = le.Uint32(d[336:])
	s.MetadataBlockSize = le.Uint32(d[340:])
	s.MetadataNrBlocks = le.Uint64(d[344:])
	s.CompatFlags = le.Uint32(d[352:])
	s.CompatROFlags = le.Uint32(d[356:])
	s.IncompatFlags = le.Uint32(d[360:])
	return s
}

// Encode writes the superblock fields (not the checksum) into d.
func (s *Superblock) Encode(d []byte) {
	le.PutUint32(d[4:], s.Flags)
	le.PutUint64(d[8:], s.Blocknr)
	copy(d[16:32], s.UUID[:])
	le.PutUint64(d[32:], s.Magic)
	le.PutUint32(d[40:], s.Version)
	le.PutUint32(d[44:], s.Time)
	le.PutUint64(d[48:], s.TransID)
	le.PutUint64(d[56:], s.HeldRoot)
	copy(d[64:192], s.DataSMRoot[:])
	copy(d[192:320], s.MetadataSMRoot[:])
	le.PutUint64(d[320:], s.DataMappingRoot)
	le.PutUint64(d[328:], s.DeviceDetailsRoot)
	le.PutUint32(d[336:], s.DataBlockSize)
	le.PutUint32(d[340:], s.MetadataBlockSize)
	le.PutUint64(d[344:], s.MetadataNrBlocks)
	le.PutUint32(d[352:], s.CompatFlags)
	le.PutUint32(d[356:], s.CompatROFlags)
	le.PutUint32(d[360:], s.IncompatFlags)
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

// PackBlockTime is pack_block_time: data block in the top 40 bits, time in
// the low 24.
func PackBlockTime(b uint64, t uint32) uint64 { return b<<24 | uint64(t) }

// UnpackBlockTime is unpack_block_time.
func UnpackBlockTime(v uint64) (uint64, uint32) { return v >> 24, uint32(v & (1<<24 - 1)) }

// sbValidator is sb_validator (sb_check / sb_prepare_for_write); failures
// are logged with the kernel's texts when log is set.
type sbValidator struct {
	log func(level int, msg string)
}

func (v *sbValidator) Name() string { return "superblock" }

func (v *sbValidator) PrepareForWrite(d []byte, loc uint64) {
	le.PutUint64(d[8:], loc)
	le.PutUint32(d[0:], block.Checksum(d[4:block.Size], SuperblockCsumXor))
}

func (v *sbValidator) fail(loc uint64, errno linuxerr.Errno, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if v.log != nil {
		v.log(LogErr, "device-mapper: thin metadata: "+msg)
	}
	return &block.CheckError{Validator: "superblock", Block: loc, Msg: msg, Errno: errno}
}

func (v *sbValidator) Check(d []byte, loc uint64) error {
	if got := le.Uint64(d[8:]); got != loc {
		return v.fail(loc, linuxerr.ENOTBLK, "sb_check failed: blocknr %d: wanted %d", got, loc)
	}
	if m := le.Uint64(d[32:]); m != SuperblockMagic {
		return v.fail(loc, linuxerr.EILSEQ, "sb_check failed: magic %d: wanted %d", m, uint64(SuperblockMagic))
	}
	csum := block.Checksum(d[4:block.Size], SuperblockCsumXor)
	if got := le.Uint32(d[0:]); got != csum {
		return v.fail(loc, linuxerr.EILSEQ, "sb_check failed: csum %d: wanted %d", csum, got)
	}
	return nil
}
