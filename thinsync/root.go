package thinsync

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
)

// Manifest holds the SHA-256 of every non-zero granule of an image.
type Manifest struct {
	Size    uint64
	Granule uint64
	Hashes  map[uint64][32]byte
}

// NewManifest returns an empty manifest (an all-zero image).
func NewManifest(size, granule uint64) *Manifest {
	return &Manifest{Size: size, Granule: granule, Hashes: map[uint64][32]byte{}}
}

// Granules is the number of granules, the last one possibly partial.
func (m *Manifest) Granules() uint64 { return (m.Size + m.Granule - 1) / m.Granule }

// Span is the byte range of granule i, clipped to the image.
func (m *Manifest) Span(i uint64) (off, n uint64) {
	off = i * m.Granule
	return off, min(m.Granule, m.Size-off)
}

// Set records granule i's content.
func (m *Manifest) Set(i uint64, data []byte) {
	if isZero(data) {
		delete(m.Hashes, i)
		return
	}
	m.Hashes[i] = sha256.Sum256(data)
}

// Root is SHA-256 over "thinsync-root-v1", the size, the granule, then the
// index and hash of every non-zero granule in order.
func (m *Manifest) Root() [32]byte {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte("thinsync-root-v1"))
	binary.LittleEndian.PutUint64(b[:], m.Size)
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], m.Granule)
	h.Write(b[:])
	idx := make([]uint64, 0, len(m.Hashes))
	for i := range m.Hashes {
		if i < m.Granules() {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, c int) bool { return idx[a] < idx[c] })
	for _, i := range idx {
		binary.LittleEndian.PutUint64(b[:], i)
		h.Write(b[:])
		s := m.Hashes[i]
		h.Write(s[:])
	}
	var r [32]byte
	h.Sum(r[:0])
	return r
}

// Hex is the root in hex.
func Hex(r [32]byte) string { return hex.EncodeToString(r[:]) }

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
