package thintools

// LOCAL SHIM (read side): a minimal read-only view of a metadata image —
// block reads with the 0.9.0 tools' validators and their error texts, the
// superblock, and btree nodes. It exists only until thinmeta's read-only
// validating walker lands; see the report in thintools/README.md. It does
// not modify anything and implements no btree algorithm beyond reading.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	blockSize = 4096

	superblockXor = 160774
	nodeXor       = 121107
	indexXor      = 160478
	bitmapXor     = 240779

	flagInternal = 1
	flagLeaf     = 2

	nodeHeader     = 32
	entriesPerBmap = 16320
	metaMaxBitmaps = 255
	maxMetaBlocks  = metaMaxBitmaps * entriesPerBmap
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// checksum is dm_bm_checksum over bytes 4..4095 xored with the block type's
// constant.
func checksum(b []byte, xor uint32) uint32 {
	return ^crc32.Checksum(b[4:blockSize], castagnoli) ^ xor
}

// toolError is a message the 0.9.0 tools print as is (a C++ exception's
// what()).
type toolError string

func (e toolError) Error() string { return string(e) }

func errorf(format string, a ...any) error { return toolError(fmt.Sprintf(format, a...)) }

// image is a metadata device opened for reading. Reads go through a small
// cache of 256 KiB chunks: btrees written in bulk are laid out mostly in
// order, so a walk then costs one read per chunk instead of one per block.
type image struct {
	dev       Device
	nrBlocks  uint64
	chunks    map[uint64][]byte
	lru       []uint64
	validated bitset // nodes whose checksum was verified
}

// bitset is a growable set of block numbers.
type bitset []uint64

func (s *bitset) has(b uint64) bool { return b/64 < uint64(len(*s)) && (*s)[b/64]&(1<<(b%64)) != 0 }
func (s *bitset) add(b uint64) {
	for b/64 >= uint64(len(*s)) {
		*s = append(*s, make([]uint64, len(*s)+1)...)
	}
	(*s)[b/64] |= 1 << (b % 64)
}

const (
	chunkBlocks = 64
	maxChunks   = 32
)

func newImage(dev Device) *image {
	return &image{dev: dev, nrBlocks: uint64(dev.Size()) / blockSize, chunks: map[uint64][]byte{}}
}

// raw reads block b without validation. The returned block may share
// memory with the cache: callers must not modify it.
func (im *image) raw(b uint64) ([]byte, error) {
	if b >= im.nrBlocks {
		return nil, errorf("block out of bounds (%d >= %d)", b, im.nrBlocks)
	}
	c := b / chunkBlocks
	chunk, ok := im.chunks[c]
	if !ok {
		n := min(uint64(chunkBlocks), im.nrBlocks-c*chunkBlocks)
		chunk = make([]byte, n*blockSize)
		if got, err := im.dev.ReadAt(chunk, int64(c*chunkBlocks)*blockSize); got < len(chunk) && err != nil {
			// fall back to the single block (a short device)
			chunk = nil
			p := make([]byte, blockSize)
			if _, err := im.dev.ReadAt(p, int64(b)*blockSize); err != nil {
				return nil, errorf("couldn't read block %d", b)
			}
			return p, nil
		}
		if len(im.lru) >= maxChunks {
			delete(im.chunks, im.lru[0])
			im.lru = im.lru[1:]
		}
		im.chunks[c] = chunk
		im.lru = append(im.lru, c)
	}
	o := (b % chunkBlocks) * blockSize
	return chunk[o : o+blockSize : o+blockSize], nil
}

// invalidate drops cached blocks after a write.
func (im *image) invalidate() {
	im.chunks, im.lru, im.validated = map[uint64][]byte{}, nil, nil
}

// node reads and validates a btree node (btree_node_validator).
func (im *image) node(b uint64) (node, error) {
	p, err := im.raw(b)
	if err != nil {
		return nil, err
	}
	if !im.validated.has(b) {
		if le.Uint32(p) != checksum(p, nodeXor) {
			return nil, errorf("bad checksum in btree node (block %d)", b)
		}
		im.validated.add(b)
	}
	if le.Uint64(p[8:]) != b {
		return nil, errorf("bad block nr in btree node (block = %d)", b)
	}
	return node(p), nil
}

// bitmap reads and validates a space-map bitmap block.
func (im *image) bitmap(b uint64) ([]byte, error) {
	p, err := im.raw(b)
	if err != nil {
		return nil, err
	}
	if le.Uint32(p) != checksum(p, bitmapXor) {
		return nil, errorf("bad checksum in space map bitmap (block %d)", b)
	}
	if le.Uint64(p[8:]) != b {
		return nil, errorf("bad block nr in space map bitmap (block %d)", b)
	}
	return p, nil
}

// metaIndex reads and validates the metadata space map's index block.
func (im *image) metaIndex(b uint64) ([]byte, error) {
	p, err := im.raw(b)
	if err != nil {
		return nil, err
	}
	if le.Uint32(p) != checksum(p, indexXor) {
		return nil, errorf("bad checksum in metadata index block (block %d)", b)
	}
	if le.Uint64(p[8:]) != b {
		return nil, errorf("bad block nr in metadata index block (block %d)", b)
	}
	return p, nil
}

// node is a btree node block.
type node []byte

func (n node) flags() uint32     { return le.Uint32(n[4:]) }
func (n node) blocknr() uint64   { return le.Uint64(n[8:]) }
func (n node) nrEntries() uint32 { return le.Uint32(n[16:]) }
func (n node) maxEntries() uint32 {
	return le.Uint32(n[20:])
}
func (n node) valueSize() uint32 { return le.Uint32(n[24:]) }

// key and value assume the header was checked so that they lie inside the
// block.
func (n node) key(i int) uint64 { return le.Uint64(n[nodeHeader+8*i:]) }
func (n node) value(i int) []byte {
	o := nodeHeader + 8*int(n.maxEntries()) + i*int(n.valueSize())
	return n[o : o+int(n.valueSize())]
}
func (n node) value64(i int) uint64 { return le.Uint64(n.value(i)) }

// smRoot is a disk_sm_root.
type smRoot struct {
	nrBlocks, nrAllocated, bitmapRoot, refCountRoot uint64
}

func parseSMRoot(p []byte) smRoot {
	return smRoot{le.Uint64(p), le.Uint64(p[8:]), le.Uint64(p[16:]), le.Uint64(p[24:])}
}

// superblock is the thin pool superblock.
type superblock struct {
	csum, flags                uint32
	blocknr                    uint64
	uuid                       [16]byte
	magic                      uint64
	version, time              uint32
	transID                    uint64
	metadataSnap               uint64
	dataSM, metaSM             [128]byte
	mappingRoot                uint64
	detailsRoot                uint64
	dataBlockSize              uint32
	metaBlockSize              uint32
	metaNrBlocks               uint64
	compat, compatRO, incompat uint32
}

func parseSuperblock(p []byte) *superblock {
	sb := &superblock{
		csum:          le.Uint32(p),
		flags:         le.Uint32(p[4:]),
		blocknr:       le.Uint64(p[8:]),
		magic:         le.Uint64(p[32:]),
		version:       le.Uint32(p[40:]),
		time:          le.Uint32(p[44:]),
		transID:       le.Uint64(p[48:]),
		metadataSnap:  le.Uint64(p[56:]),
		mappingRoot:   le.Uint64(p[320:]),
		detailsRoot:   le.Uint64(p[328:]),
		dataBlockSize: le.Uint32(p[336:]),
		metaBlockSize: le.Uint32(p[340:]),
		metaNrBlocks:  le.Uint64(p[344:]),
		compat:        le.Uint32(p[352:]),
		compatRO:      le.Uint32(p[356:]),
		incompat:      le.Uint32(p[360:]),
	}
	copy(sb.uuid[:], p[16:32])
	copy(sb.dataSM[:], p[64:192])
	copy(sb.metaSM[:], p[192:320])
	return sb
}

// superblockAt reads and checksums a superblock (the live one at 0, or a
// metadata snapshot copy). 0.9.0 checks nothing else.
func (im *image) superblockAt(b uint64) (*superblock, error) {
	p, err := im.raw(b)
	if err != nil {
		return nil, err
	}
	if want := checksum(p, superblockXor); le.Uint32(p) != want {
		return nil, errorf("bad checksum in superblock, wanted %d", want)
	}
	return parseSuperblock(p), nil
}

// openMetadata is the 0.9.0 metadata constructor: the live superblock, or
// with snap the metadata snapshot (snapLoc, when given, must match the one
// the live superblock records).
func (im *image) openMetadata(snap bool, snapLoc *uint64) (*superblock, error) {
	if im.nrBlocks < 1 {
		return nil, toolError("Metadata is not large enough for superblock.")
	}
	sb, err := im.superblockAt(0)
	if err != nil {
		return nil, err
	}
	if !snap {
		return sb, nil
	}
	if sb.metadataSnap == 0 {
		return nil, toolError("no current metadata snap")
	}
	if snapLoc != nil && *snapLoc != sb.metadataSnap {
		return nil, toolError("metadata snapshot does not match that in superblock")
	}
	return im.superblockAt(sb.metadataSnap)
}

// dataNrBlocks is the data space map's size as the tools report it: 0
// unless the superblock is the live one (blocknr 0).
func (sb *superblock) dataNrBlocks() uint64 {
	if sb.blocknr != 0 {
		return 0
	}
	return parseSMRoot(sb.dataSM[:]).nrBlocks
}

// deviceDetails is a disk_device_details.
type deviceDetails struct {
	mappedBlocks  uint64
	transactionID uint64
	creationTime  uint32
	snapTime      uint32
}

func parseDetails(v []byte) deviceDetails {
	return deviceDetails{le.Uint64(v), le.Uint64(v[8:]), le.Uint32(v[16:]), le.Uint32(v[20:])}
}
