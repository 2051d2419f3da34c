package dmsim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/biolog"
)

// TestWriteBioLog: a disk's bio log, written in the dm-log-writes format,
// reads back as the same bios (reads dropped, a PREFLUSH write split into a
// flush and the write), and replays to the disk's image.
func TestWriteBioLog(t *testing.T) {
	a, b := bytes.Repeat([]byte{'a'}, 1024), bytes.Repeat([]byte{'b'}, 512)
	recs := []BioRecord{
		{Op: OpWrite, Sector: 8, Sectors: 2, data: a},
		{Op: OpRead, Sector: 8, Sectors: 2},
		{Op: OpFlush},
		{Op: OpWrite, Flags: ReqPreflush | ReqFUA, Sector: 0, Sectors: 1, data: b},
		{Op: OpDiscard, Sector: 9, Sectors: 1},
	}
	p := filepath.Join(t.TempDir(), "vda.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBioLog(f, recs); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	s, entries, err := biolog.Read(f, st.Size())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range entries {
		got = append(got, entries[i].String())
	}
	if want := "W8+2 F F W0+1 FUA D9+1"; strings.Join(got, " ") != want || s.NrEntries != 5 {
		t.Errorf("log %q (%d entries), want %q", strings.Join(got, " "), s.NrEntries, want)
	}
	img := &memImage{}
	if err := biolog.Replay(img, SectorSize, entries, len(entries)); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 10*512)
	copy(want, b)
	copy(want[8*512:], a[:512])
	if !bytes.Equal(img.b, want) {
		t.Error("replayed image differs")
	}
}

type memImage struct{ b []byte }

func (m *memImage) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}
