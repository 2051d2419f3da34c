package thinsync

import (
	"bytes"
	"io"
	"testing"
)

// memFile is a File over a byte slice, for the undo log's decoder.
type memFile struct{ b []byte }

func (m *memFile) Read(p []byte) (int, error)  { return 0, io.EOF }
func (m *memFile) Write(p []byte) (int, error) { return m.WriteAt(p, int64(len(m.b))) }
func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}
func (m *memFile) Close() error                 { return nil }
func (m *memFile) Sync() error                  { return nil }
func (m *memFile) Size() (int64, error)         { return int64(len(m.b)), nil }
func (m *memFile) Discard(off, len int64) error { return nil }

// TestScanUndo: the log's whole entries of one generation, in order; a
// torn entry, a damaged one or another generation's ends it.
func TestScanUndo(t *testing.T) {
	log := func(gen uint32, offs ...uint64) []byte {
		b := make([]byte, undoLog)
		for _, o := range offs {
			b = append(b, encodeUndo(gen, o, bytes.Repeat([]byte{byte(o)}, 512))...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want int
	}{
		{"empty", log(1), 0},
		{"three", log(1, 0, 512, 4096), 3},
		{"torn last", log(1, 0, 512, 4096)[:undoLog+2*(undoHdr+512)+100], 2},
		{"another generation", log(2, 0, 512), 0},
		{"damaged data", func() []byte { b := log(1, 0, 512); b[undoLog+undoHdr+5] ^= 1; return b }(), 0},
		{"damaged header", func() []byte { b := log(1, 0, 512); b[undoLog+undoHdr+512+9] ^= 1; return b }(), 1},
		{"stale entries after a new one", append(log(1, 0), encodeUndo(2, 512, make([]byte, 512))...), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, end := scanUndo(&memFile{tc.b}, 1, 4096)
			if len(es) != tc.want {
				t.Fatalf("%d entries, want %d", len(es), tc.want)
			}
			if want := uint64(undoLog + tc.want*(undoHdr+512)); end != want {
				t.Errorf("next entry at %d, want %d", end, want)
			}
		})
	}
}

// FuzzScanUndo: any log decodes without a panic, and within its bounds.
func FuzzScanUndo(f *testing.F) {
	f.Add(encodeUndo(1, 0, make([]byte, 512)))
	f.Add([]byte("THNU"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, end := scanUndo(&memFile{append(make([]byte, undoLog), b...)}, 1, 1<<20)
		if end > uint64(undoLog+len(b)) {
			t.Fatalf("end %d past the log", end)
		}
		for _, e := range es {
			if e.pos+undoHdr+e.n > end {
				t.Fatalf("entry %+v past the end %d", e, end)
			}
		}
	})
}
