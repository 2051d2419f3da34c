package thinsync

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"sort"

	"github.com/klauspost/compress/zstd"
)

// Manifest files: one zstd frame holding "THNMANI1", size u64, granule
// u64, count u64, then index u64 and SHA-256 of every non-zero granule in
// order, then the root (a self-check).
const manifestMagic = "THNMANI1"

// MarshalBinary renders the manifest file.
func (m *Manifest) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(manifestMagic)
	idx := make([]uint64, 0, len(m.Hashes))
	for i := range m.Hashes {
		if i < m.Granules() {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, c int) bool { return idx[a] < idx[c] })
	for _, v := range []uint64{m.Size, m.Granule, uint64(len(idx))} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	for _, i := range idx {
		binary.Write(&b, binary.LittleEndian, i)
		h := m.Hashes[i]
		b.Write(h[:])
	}
	r := m.Root()
	b.Write(r[:])
	return zstdEncoder(zstd.SpeedFastest).EncodeAll(b.Bytes(), nil), nil
}

// ParseManifest reads a manifest file and checks it.
func ParseManifest(z []byte) (*Manifest, error) {
	b, err := zstdDecoder().DecodeAll(z, nil)
	if err != nil || len(b) < 8+24+32 || string(b[:8]) != manifestMagic {
		return nil, fmt.Errorf("not a manifest")
	}
	m := &Manifest{Size: le64(b[8:]), Granule: le64(b[16:]), Hashes: map[uint64][32]byte{}}
	n := le64(b[24:])
	if m.Granule == 0 || n > uint64(len(b))/40 || uint64(len(b)) != 32+n*40+32 {
		return nil, fmt.Errorf("manifest: bad length")
	}
	p := b[32:]
	for i := uint64(0); i < n; i++ {
		var h [32]byte
		copy(h[:], p[8:40])
		m.Hashes[le64(p)] = h
		p = p[40:]
	}
	if r := m.Root(); !bytes.Equal(r[:], p) {
		return nil, fmt.Errorf("manifest: root does not match its granules")
	}
	return m, nil
}

// Resized is a copy of m for an image of size bytes: granules past the
// end are dropped (the caller re-reads any granule whose span changed).
func (m *Manifest) Resized(size uint64) *Manifest {
	c := NewManifest(size, m.Granule)
	for i, h := range m.Hashes {
		if i < c.Granules() {
			c.Hashes[i] = h
		}
	}
	return c
}

func manifestPath(dir, pool string, id uint64) string {
	return path.Join(dir, fmt.Sprintf("%s-%d.manifest", pool, id))
}

// loadManifest reads DIR/POOL-ID.manifest; nil when there is none or it
// does not fit (size unless 0, granule).
func (t *tool) loadManifest(dir, pool string, id, size, granule uint64) *Manifest {
	if dir == "" {
		return nil
	}
	f, err := t.sys.Open(manifestPath(dir, pool, id), ORead)
	if err != nil {
		return nil
	}
	defer f.Close()
	z, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	m, err := ParseManifest(z)
	if err != nil || size != 0 && m.Size != size || m.Granule != granule {
		return nil
	}
	return m
}

func (t *tool) saveManifest(dir, pool string, id uint64, m *Manifest) error {
	if dir == "" {
		return nil
	}
	b, _ := m.MarshalBinary()
	name := manifestPath(dir, pool, id)
	f, err := t.sys.Open(name, OWrite|OCreate|OTrunc)
	if err != nil {
		return fail(ExitError, "manifest: %s", errText(err))
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return fail(ExitError, "manifest %s: %s", name, errText(err))
	}
	return nil
}
