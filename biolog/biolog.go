// Package biolog is the on-disk format of dm-log-writes (Linux 6.1,
// drivers/md/dm-log-writes.c, target version 1.1.0), which qemu's
// blklogwrites driver writes too: one format for the logs the real kernel's
// disks produce under the recorder, the logs the log-writes target writes
// inside dmsim, and the bio logs dmsim's disks keep (dmsim.WriteBioLog).
//
// The layout, little-endian, in units of the log's sector size (the data
// device's logical block size; 512 for every disk dmsim and the recorder
// have):
//
//	sector 0      struct log_write_super: magic u64, version u64,
//	              nr_entries u64, sectorsize u32, zero padding
//	then, for each entry:
//	  1 sector    struct log_write_entry: sector u64, nr_sectors u64,
//	              flags u64, data_len u64, then (marks only) data_len bytes
//	              of text, zero padding
//	  nr_sectors  the data written (none for discards, flushes and marks)
//
// An entry's sector and nr_sectors count sector-size units on the data
// device. Package biolog writes logs (Writer), decodes them (Read, with a
// fuzz target) and replays them onto an image (Replay), and reduces a log
// to the sequence of images its flushes made durable (DurableImages).
package biolog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Magic and Version are WRITE_LOG_MAGIC and WRITE_LOG_VERSION.
const (
	Magic   = 0x6a736677736872
	Version = 1
)

// Entry flags (LOG_*_FLAG).
const (
	FlagFlush    = 1 << 0 // REQ_PREFLUSH
	FlagFUA      = 1 << 1 // REQ_FUA
	FlagDiscard  = 1 << 2 // REQ_OP_DISCARD
	FlagMark     = 1 << 3 // a mark (dmsetup message DEV 0 mark TEXT)
	FlagMetadata = 1 << 4 // REQ_META
)

// HeaderSize is sizeof(struct log_write_entry): marks hold at most
// sectorsize - HeaderSize - 1 bytes of text (log_mark()'s kstrndup).
const HeaderSize = 32

// superSize is sizeof(struct log_write_super) as the kernel writes it.
const superSize = 28

// Super is struct log_write_super.
type Super struct {
	Magic      uint64
	Version    uint64
	NrEntries  uint64
	SectorSize uint32
}

// Entry is one log entry (struct log_write_entry and what follows it).
type Entry struct {
	// LogSector is the 512-byte sector of the log that holds the entry's
	// header (filled in by Read and Writer.Append).
	LogSector uint64
	// Sector and NrSectors are the range on the data device, in units of
	// the log's sector size.
	Sector, NrSectors uint64
	Flags             uint64
	// Mark is a mark's text (FlagMark).
	Mark string
	// Data is what a write wrote: NrSectors sectors (nil for discards,
	// flushes and marks).
	Data []byte
}

// IsMark, IsFlush, IsFUA and IsDiscard test the entry's flags.
func (e *Entry) IsMark() bool    { return e.Flags&FlagMark != 0 }
func (e *Entry) IsFlush() bool   { return e.Flags&FlagFlush != 0 }
func (e *Entry) IsFUA() bool     { return e.Flags&FlagFUA != 0 }
func (e *Entry) IsDiscard() bool { return e.Flags&FlagDiscard != 0 }

// String is the entry in the notation of the crash-injection spec, in
// sector-size units: "W8+8", "W0+8 FUA", "D64+8", "F", "M(text)".
func (e *Entry) String() string {
	switch {
	case e.IsMark():
		return fmt.Sprintf("M(%s)", e.Mark)
	case e.IsDiscard():
		return fmt.Sprintf("D%d+%d", e.Sector, e.NrSectors)
	case e.NrSectors == 0 && e.IsFlush():
		return "F"
	}
	s := fmt.Sprintf("W%d+%d", e.Sector, e.NrSectors)
	if e.IsFlush() {
		s += " PREFLUSH"
	}
	if e.IsFUA() {
		s += " FUA"
	}
	if e.Flags&FlagMetadata != 0 {
		s += " META"
	}
	return s
}

// logSectors is how many 512-byte log sectors the entry takes: its header
// sector, and its data unless it is a discard (log_writes_kthread()).
func (e *Entry) logSectors(shift uint) uint64 {
	n := uint64(1)
	if e.Flags&FlagDiscard == 0 {
		n += e.NrSectors
	}
	return n << shift
}

// ValidSectorSize reports whether n is a sector size a log may have: a
// power of two from 512 to 64 KiB (a logical block size).
func ValidSectorSize(n uint32) bool {
	return n >= 512 && n <= 65536 && n&(n-1) == 0
}

// EncodeSuper is the superblock sector as log_super() writes it.
func EncodeSuper(s Super) []byte {
	b := make([]byte, s.SectorSize)
	binary.LittleEndian.PutUint64(b[0:], s.Magic)
	binary.LittleEndian.PutUint64(b[8:], s.Version)
	binary.LittleEndian.PutUint64(b[16:], s.NrEntries)
	binary.LittleEndian.PutUint32(b[24:], s.SectorSize)
	return b
}

// EncodeHeader is an entry's header sector as log_one_block() writes it
// (write_metadata(): the header, a mark's text, zeros).
func EncodeHeader(e *Entry, sectorSize uint32) []byte {
	b := make([]byte, sectorSize)
	binary.LittleEndian.PutUint64(b[0:], e.Sector)
	binary.LittleEndian.PutUint64(b[8:], e.NrSectors)
	binary.LittleEndian.PutUint64(b[16:], e.Flags)
	binary.LittleEndian.PutUint64(b[24:], uint64(len(e.Mark)))
	copy(b[HeaderSize:], e.Mark)
	return b
}

// Writer writes a log onto an io.WriterAt in the kernel's layout.
type Writer struct {
	w          io.WriterAt
	sectorSize uint32
	shift      uint   // log2(sectorSize / 512)
	next       uint64 // next free 512-byte sector (lc->next_sector)
	entries    uint64 // lc->logged_entries
}

// NewWriter starts a log whose first entry goes right after the
// superblock. Nothing is written until Append or WriteSuper.
func NewWriter(w io.WriterAt, sectorSize uint32) (*Writer, error) {
	if !ValidSectorSize(sectorSize) {
		return nil, fmt.Errorf("biolog: invalid sector size %d", sectorSize)
	}
	shift := uint(bits.TrailingZeros32(sectorSize) - 9)
	return &Writer{w: w, sectorSize: sectorSize, shift: shift, next: 1 << shift}, nil
}

// Entries is the number of entries appended.
func (w *Writer) Entries() uint64 { return w.entries }

// NextSector is the 512-byte sector the next entry goes to.
func (w *Writer) NextSector() uint64 { return w.next }

// Append writes an entry (its header, then its data) at the next free
// sector.
func (w *Writer) Append(e *Entry) error {
	if !e.IsMark() && e.Mark != "" {
		return errors.New("biolog: text on an entry that is not a mark")
	}
	if len(e.Mark) >= int(w.sectorSize)-HeaderSize {
		return fmt.Errorf("biolog: mark of %d bytes does not fit a %d-byte sector", len(e.Mark), w.sectorSize)
	}
	wantData := uint64(0)
	if !e.IsDiscard() && !e.IsMark() {
		wantData = e.NrSectors * uint64(w.sectorSize)
	}
	if uint64(len(e.Data)) != wantData {
		return fmt.Errorf("biolog: entry %s has %d bytes of data, want %d", e, len(e.Data), wantData)
	}
	e.LogSector = w.next
	off := int64(w.next) * 512
	if _, err := w.w.WriteAt(EncodeHeader(e, w.sectorSize), off); err != nil {
		return err
	}
	if len(e.Data) > 0 {
		if _, err := w.w.WriteAt(e.Data, off+int64(w.sectorSize)); err != nil {
			return err
		}
	}
	w.next += e.logSectors(w.shift)
	w.entries++
	return nil
}

// WriteSuper writes the superblock with the entries appended so far.
func (w *Writer) WriteSuper() error {
	_, err := w.w.WriteAt(EncodeSuper(Super{Magic: Magic, Version: Version, NrEntries: w.entries, SectorSize: w.sectorSize}), 0)
	return err
}

// ReadSuper decodes and checks a log's superblock.
func ReadSuper(r io.ReaderAt) (Super, error) {
	b := make([]byte, superSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return Super{}, fmt.Errorf("biolog: reading the superblock: %w", noEOF(err))
	}
	s := Super{
		Magic:      binary.LittleEndian.Uint64(b[0:]),
		Version:    binary.LittleEndian.Uint64(b[8:]),
		NrEntries:  binary.LittleEndian.Uint64(b[16:]),
		SectorSize: binary.LittleEndian.Uint32(b[24:]),
	}
	if s.Magic != Magic {
		return s, fmt.Errorf("biolog: bad magic %#x (want %#x): not a dm-log-writes log", s.Magic, uint64(Magic))
	}
	if s.Version != Version {
		return s, fmt.Errorf("biolog: unsupported log version %d", s.Version)
	}
	if !ValidSectorSize(s.SectorSize) {
		return s, fmt.Errorf("biolog: invalid sector size %d", s.SectorSize)
	}
	return s, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ErrEmpty is Read's error for a log of no bytes at all: qemu's
// blklogwrites writes nothing, not even the superblock, for a disk that
// never got a write.
var ErrEmpty = errors.New("biolog: empty log (no superblock: nothing was ever logged)")

// Read decodes a whole log: the superblock and its nr_entries entries, in
// order. size is the log's length in bytes (entries must lie within it).
// A truncated or malformed log is an error naming the entry; Read never
// allocates more than the log holds.
func Read(r io.ReaderAt, size int64) (Super, []Entry, error) {
	if size == 0 {
		return Super{}, nil, ErrEmpty
	}
	s, err := ReadSuper(r)
	if err != nil {
		return s, nil, err
	}
	var out []Entry
	err = Scan(r, size, s, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return s, out, err
}

// Scan decodes the entries the superblock s announces, calling fn for each
// in order; fn's error stops the scan and is returned.
func Scan(r io.ReaderAt, size int64, s Super, fn func(Entry) error) error {
	ss := uint64(s.SectorSize)
	shift := uint(bits.TrailingZeros32(s.SectorSize) - 9)
	logSectors := uint64(max(size, 0)) / 512
	next := uint64(1) << shift
	hdr := make([]byte, ss)
	for i := uint64(0); i < s.NrEntries; i++ {
		if next+(1<<shift) > logSectors {
			return fmt.Errorf("biolog: entry %d at sector %d: past the end of the log (%d sectors)", i, next, logSectors)
		}
		if _, err := r.ReadAt(hdr, int64(next)*512); err != nil {
			return fmt.Errorf("biolog: entry %d: %w", i, noEOF(err))
		}
		e := Entry{
			LogSector: next,
			Sector:    binary.LittleEndian.Uint64(hdr[0:]),
			NrSectors: binary.LittleEndian.Uint64(hdr[8:]),
			Flags:     binary.LittleEndian.Uint64(hdr[16:]),
		}
		dataLen := binary.LittleEndian.Uint64(hdr[24:])
		switch {
		case e.IsMark():
			if dataLen >= ss-HeaderSize {
				return fmt.Errorf("biolog: entry %d: mark of %d bytes in a %d-byte sector", i, dataLen, ss)
			}
			e.Mark = string(hdr[HeaderSize : HeaderSize+dataLen])
		case dataLen != 0:
			return fmt.Errorf("biolog: entry %d: data_len %d on an entry that is not a mark", i, dataLen)
		}
		if !e.IsMark() && !e.IsFlush() && e.NrSectors == 0 {
			return fmt.Errorf("biolog: entry %d: empty entry (flags %#x)", i, e.Flags)
		}
		if e.Sector > ^uint64(0)>>(9+shift) || e.NrSectors > ^uint64(0)>>(9+shift) {
			return fmt.Errorf("biolog: entry %d: range %d+%d out of bounds", i, e.Sector, e.NrSectors)
		}
		next += 1 << shift
		if !e.IsDiscard() && !e.IsMark() && e.NrSectors > 0 {
			n := e.NrSectors << shift
			if n > logSectors || next > logSectors-n {
				return fmt.Errorf("biolog: entry %d (%s): its data runs past the end of the log", i, e.String())
			}
			e.Data = make([]byte, e.NrSectors*ss)
			if _, err := r.ReadAt(e.Data, int64(next)*512); err != nil {
				return fmt.Errorf("biolog: entry %d: %w", i, noEOF(err))
			}
			next += n
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// FindMark is the index of the first mark entry with the given text, or -1.
func FindMark(entries []Entry, text string) int {
	for i := range entries {
		if entries[i].IsMark() && entries[i].Mark == text {
			return i
		}
	}
	return -1
}

// Replay applies entries[:n] onto dst, an image of the data device, as
// fstests' replay-log does: writes are written, discards write zeros,
// flushes and marks change nothing.
func Replay(dst io.WriterAt, sectorSize uint32, entries []Entry, n int) error {
	if n > len(entries) {
		n = len(entries)
	}
	ss := int64(sectorSize)
	var zeros []byte
	for i := range entries[:n] {
		e := &entries[i]
		off := int64(e.Sector) * ss
		switch {
		case e.IsMark():
		case e.IsDiscard():
			left := int64(e.NrSectors) * ss
			for left > 0 {
				c := min(left, 1<<20)
				if len(zeros) < int(c) {
					zeros = make([]byte, c)
				}
				if _, err := dst.WriteAt(zeros[:c], off); err != nil {
					return fmt.Errorf("biolog: replaying entry %d: %w", i, err)
				}
				off, left = off+c, left-c
			}
		case len(e.Data) > 0:
			if _, err := dst.WriteAt(e.Data, off); err != nil {
				return fmt.Errorf("biolog: replaying entry %d: %w", i, err)
			}
		}
	}
	return nil
}
