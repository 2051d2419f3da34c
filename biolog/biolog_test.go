package biolog

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// memLog is an in-memory log device (io.WriterAt and io.ReaderAt).
type memLog struct{ b []byte }

func (m *memLog) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memLog) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func fill(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

func sampleEntries(ss int) []Entry {
	return []Entry{
		{Flags: FlagMark, Mark: "start"},
		{Sector: 8, NrSectors: 2, Data: fill('a', 2*ss)},
		{Sector: 0, NrSectors: 1, Flags: FlagFUA, Data: fill('b', ss)},
		{Sector: 64, NrSectors: 16, Flags: FlagDiscard},
		{Flags: FlagFlush},
		{Sector: 3, NrSectors: 1, Flags: FlagMetadata, Data: fill('c', ss)},
		{Flags: FlagMark, Mark: "dm-log-writes-end"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ss := range []uint32{512, 4096} {
		var m memLog
		w, err := NewWriter(&m, ss)
		if err != nil {
			t.Fatal(err)
		}
		in := sampleEntries(int(ss))
		for i := range in {
			if err := w.Append(&in[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteSuper(); err != nil {
			t.Fatal(err)
		}
		s, out, err := Read(&m, int64(len(m.b))+int64(ss))
		if err != nil {
			t.Fatal(err)
		}
		if s.NrEntries != uint64(len(in)) || s.SectorSize != ss {
			t.Fatalf("super %+v", s)
		}
		for i := range in {
			a, b := in[i], out[i]
			if a.LogSector != b.LogSector || a.Sector != b.Sector || a.NrSectors != b.NrSectors ||
				a.Flags != b.Flags || a.Mark != b.Mark || !bytes.Equal(a.Data, b.Data) {
				t.Errorf("ss %d entry %d: %+v, want %+v", ss, i, b, a)
			}
		}
		// Entries follow each other: header, data; discards and marks take
		// one sector.
		per := uint64(ss / 512)
		want := []uint64{1, 2, 5, 7, 8, 9, 11}
		for i := range out {
			if out[i].LogSector != want[i]*per {
				t.Errorf("ss %d entry %d at %d, want %d", ss, i, out[i].LogSector, want[i]*per)
			}
		}
		if got := FindMark(out, "dm-log-writes-end"); got != 6 {
			t.Errorf("FindMark %d", got)
		}
		var img memLog
		if err := Replay(&img, ss, out, 3); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.b[:ss], fill('b', int(ss))) || !bytes.Equal(img.b[8*ss:10*ss], fill('a', 2*int(ss))) {
			t.Errorf("ss %d: replay", ss)
		}
	}
}

// TestReadErrors: every malformed log is an error that says what is wrong.
func TestReadErrors(t *testing.T) {
	good := func() *memLog {
		var m memLog
		w, _ := NewWriter(&m, 512)
		in := sampleEntries(512)
		for i := range in {
			w.Append(&in[i])
		}
		w.WriteSuper()
		return &m
	}
	put64 := func(m *memLog, off int, v uint64) { binary.LittleEndian.PutUint64(m.b[off:], v) }
	tests := []struct {
		name  string
		patch func(m *memLog)
		size  int64 // 0: the log's length
		err   string
	}{
		{"empty", func(m *memLog) { m.b = nil }, 0, "empty log"},
		{"short", func(m *memLog) { m.b = m.b[:10] }, 0, "reading the superblock"},
		{"magic", func(m *memLog) { m.b[0] ^= 1 }, 0, "bad magic"},
		{"version", func(m *memLog) { put64(m, 8, 2) }, 0, "unsupported log version 2"},
		{"sector size", func(m *memLog) { binary.LittleEndian.PutUint32(m.b[24:], 1000) }, 0, "invalid sector size 1000"},
		{"too many entries", func(m *memLog) { put64(m, 16, 1<<62) }, 0, "past the end of the log"},
		{"truncated data", nil, 3 * 512, "entry 1 (W8+2): its data runs past the end"},
		{"huge write", func(m *memLog) { put64(m, 2*512+8, 1<<60) }, 0, "out of bounds"},
		{"long mark", func(m *memLog) { put64(m, 512+24, 480) }, 0, "mark of 480 bytes"},
		{"data_len on a write", func(m *memLog) { put64(m, 2*512+24, 1) }, 0, "data_len 1 on an entry that is not a mark"},
		{"all-zero entry", func(m *memLog) { clear(m.b[512:1024]) }, 0, "entry 0: empty entry"},
	}
	for _, tt := range tests {
		m := good()
		if tt.patch != nil {
			tt.patch(m)
		}
		size := tt.size
		if size == 0 {
			size = int64(len(m.b))
		}
		_, _, err := Read(m, size)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(&memLog{}, 700); err == nil {
		t.Error("sector size 700 accepted")
	}
	w, _ := NewWriter(&memLog{}, 512)
	for _, e := range []Entry{
		{Sector: 0, NrSectors: 2, Data: fill('a', 512)},
		{Flags: FlagMark, Mark: strings.Repeat("x", 480)},
		{Flags: FlagFlush, Mark: "x"},
	} {
		if err := w.Append(&e); err == nil {
			t.Errorf("%s accepted", e.String())
		}
	}
	if w.Entries() != 0 || w.NextSector() != 1 {
		t.Errorf("failed appends moved the log: %d %d", w.Entries(), w.NextSector())
	}
}

// TestDurableImages lists, for small logs, the images their flushes make
// durable: the crash model's flush boundaries.
func TestDurableImages(t *testing.T) {
	a, b, c := fill('a', 512), fill('b', 512), fill('c', 512)
	W := func(s uint64, d []byte) Entry { return Entry{Sector: s, NrSectors: uint64(len(d) / 512), Data: d} }
	F := Entry{Flags: FlagFlush}
	fuaW := func(s uint64, d []byte) Entry { e := W(s, d); e.Flags = FlagFUA; return e }
	D := func(s, n uint64) Entry { return Entry{Sector: s, NrSectors: n, Flags: FlagDiscard} }
	M := Entry{Flags: FlagMark, Mark: "m"}
	tests := []struct {
		name string
		log  []Entry
		want string // per image: entry index, "e" for the end image, sectors
	}{
		{"W a, W b, F, W c", []Entry{W(0, a), W(1, b), F, W(2, c)}, "2:2 3e:3"},
		{"empty flushes add nothing", []Entry{F, W(0, a), F, F, M, F}, "2:1"},
		{"FUA ends its epoch", []Entry{W(0, a), fuaW(1, b), W(2, c), F}, "1:2 3:3"},
		{"rewriting the same data adds nothing", []Entry{W(0, a), F, W(0, a), F}, "1:1"},
		{"discard zeroes", []Entry{W(0, append(a, b...)), F, D(1, 1), F, D(0, 1<<40), F}, "1:2 3:1 5:0"},
		{"merged and split writes agree", []Entry{W(0, a), W(1, b), F}, "2:2"},
		{"no flush at all", []Entry{W(0, a)}, "0e:1"},
	}
	for _, tt := range tests {
		var parts []string
		for _, im := range DurableImages(512, tt.log) {
			s := itoa(im.Entry)
			if im.End {
				s += "e"
			}
			parts = append(parts, s+":"+itoa(im.Sectors))
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// Merged writes give the images of split ones.
	one := DurableImages(512, []Entry{W(0, append(append([]byte{}, a...), b...)), F})
	two := DurableImages(512, []Entry{W(0, a), W(1, b), F})
	if one[0].Fingerprint != two[0].Fingerprint {
		t.Error("merged and split writes differ")
	}
	// Different content, different fingerprint.
	if x := DurableImages(512, []Entry{W(0, b), W(1, a), F}); x[0].Fingerprint == two[0].Fingerprint {
		t.Error("swapped content, same fingerprint")
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

// FuzzRead: no input makes the decoder panic, hang or allocate more than
// the log holds; what it accepts, the writer writes back identically.
func FuzzRead(f *testing.F) {
	var m memLog
	w, _ := NewWriter(&m, 512)
	in := sampleEntries(512)
	for i := range in {
		w.Append(&in[i])
	}
	w.WriteSuper()
	f.Add(m.b)
	f.Add(m.b[:600])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, entries, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var out memLog
		w, err := NewWriter(&out, s.SectorSize)
		if err != nil {
			t.Fatalf("accepted sector size %d", s.SectorSize)
		}
		for i := range entries {
			e := entries[i]
			if err := w.Append(&e); err != nil {
				t.Fatalf("entry %d accepted by Read, refused by Append: %v", i, err)
			}
			if e.LogSector != entries[i].LogSector {
				t.Fatalf("entry %d at %d, written at %d", i, entries[i].LogSector, e.LogSector)
			}
		}
		DurableImages(s.SectorSize, entries)
	})
}
