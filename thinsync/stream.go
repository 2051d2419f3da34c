package thinsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Magic opens every stream (docs/thinsync.md, "Stream format v1").
const Magic = "THNSTRM1"

// HeaderSize is the size of a record header.
const HeaderSize = 32

// Record types. Types with OptionalBit set may be skipped by a reader that
// does not know them; unknown mandatory types are refused.
const (
	RecBegin      uint16 = 1
	RecData       uint16 = 2
	RecZero       uint16 = 3
	RecCheckpoint uint16 = 4
	RecEnd        uint16 = 5
	OptionalBit   uint16 = 0x8000
)

// FlagZstd marks a DATA payload that is one zstd frame.
const FlagZstd uint16 = 1

// MaxPayload bounds a record's payload (a granule is at most 1 GiB in the
// kernel; we refuse more than 16 MiB of payload per record).
const MaxPayload = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one decoded record. Payload is the stored payload (compressed
// when Flags has FlagZstd); Data is the logical bytes of a DATA record.
type Record struct {
	Type    uint16
	Flags   uint16
	Offset  uint64
	Length  uint64
	Payload []byte
	Data    []byte
	// Pos is the record's offset in the stream.
	Pos int64
}

// TypeName names a record type for messages and inspect.
func TypeName(t uint16) string {
	switch t {
	case RecBegin:
		return "BEGIN"
	case RecData:
		return "DATA"
	case RecZero:
		return "ZERO"
	case RecCheckpoint:
		return "CHECKPOINT"
	case RecEnd:
		return "END"
	}
	return fmt.Sprintf("TYPE%#04x", t)
}

// Begin is the BEGIN record's payload: canonical key=value lines.
type Begin struct {
	Version    int
	Kind       string // full or incremental
	Size       uint64 // volume bytes
	Granule    uint64 // bytes (the pool block size)
	BaseRoot   string // hex, empty for a full stream
	BaseSize   uint64 // bytes of the base volume (incremental)
	Codec      string // none or zstd:LEVEL
	Checkpoint uint64 // bytes of logical data between checkpoints
	// Source facts, from the metadata snapshot's dump.
	DevID       uint64
	BaseID      int64 // -1 for a full stream
	Transaction uint64
	Time        uint64
	SnapTime    uint64
}

// Marshal renders the payload: one key=value per line, keys sorted.
func (b *Begin) Marshal() []byte {
	kv := map[string]string{
		"version":     strconv.Itoa(b.Version),
		"kind":        b.Kind,
		"size":        strconv.FormatUint(b.Size, 10),
		"granule":     strconv.FormatUint(b.Granule, 10),
		"base_root":   b.BaseRoot,
		"base_size":   strconv.FormatUint(b.BaseSize, 10),
		"codec":       b.Codec,
		"checkpoint":  strconv.FormatUint(b.Checkpoint, 10),
		"dev_id":      strconv.FormatUint(b.DevID, 10),
		"base_id":     strconv.FormatInt(b.BaseID, 10),
		"transaction": strconv.FormatUint(b.Transaction, 10),
		"time":        strconv.FormatUint(b.Time, 10),
		"snap_time":   strconv.FormatUint(b.SnapTime, 10),
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s=%s\n", k, kv[k])
	}
	return buf.Bytes()
}

// ParseBegin parses and checks a BEGIN payload. Unknown keys are ignored
// (a later minor version may add some); missing or bad ones are refused.
func ParseBegin(p []byte) (*Begin, error) {
	kv := map[string]string{}
	for _, line := range strings.Split(string(p), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("BEGIN: malformed line %q", line)
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("BEGIN: duplicate key %q", k)
		}
		kv[k] = v
	}
	var err error
	u := func(k string) uint64 {
		v, e := strconv.ParseUint(kv[k], 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("BEGIN: bad %s %q", k, kv[k])
		}
		return v
	}
	b := &Begin{Kind: kv["kind"], BaseRoot: kv["base_root"], Codec: kv["codec"]}
	b.Version = int(u("version"))
	b.Size, b.Granule, b.BaseSize = u("size"), u("granule"), u("base_size")
	b.Checkpoint, b.DevID = u("checkpoint"), u("dev_id")
	b.Transaction, b.Time, b.SnapTime = u("transaction"), u("time"), u("snap_time")
	bid, e := strconv.ParseInt(kv["base_id"], 10, 64)
	if e != nil && err == nil {
		err = fmt.Errorf("BEGIN: bad base_id %q", kv["base_id"])
	}
	b.BaseID = bid
	if err != nil {
		return nil, err
	}
	switch {
	case b.Version != 1:
		return nil, fmt.Errorf("BEGIN: unsupported version %d", b.Version)
	case b.Kind != "full" && b.Kind != "incremental":
		return nil, fmt.Errorf("BEGIN: unknown kind %q", b.Kind)
	case b.Granule < 512 || b.Granule%512 != 0 || b.Granule > MaxPayload:
		return nil, fmt.Errorf("BEGIN: bad granule %d", b.Granule)
	case b.Size%512 != 0:
		return nil, fmt.Errorf("BEGIN: size %d is not a whole number of sectors", b.Size)
	case (b.Kind == "full") != (b.BaseRoot == ""):
		return nil, errors.New("BEGIN: base root does not match the kind")
	case b.BaseRoot != "" && !isHex(b.BaseRoot, 64):
		return nil, fmt.Errorf("BEGIN: bad base root %q", b.BaseRoot)
	}
	return b, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Checkpoint is a CHECKPOINT payload: a resume anchor.
type Checkpoint struct {
	Records  uint64   // records before this one
	Bytes    uint64   // stream bytes before this record
	Next     uint64   // volume offset the stream continues at
	StreamID [32]byte // binds the checkpoint to its stream
	Sum      [32]byte // SHA-256 of the stream before this record
}

const checkpointSize = 8*3 + 32 + 32

func (c *Checkpoint) Marshal() []byte {
	b := make([]byte, checkpointSize)
	binary.LittleEndian.PutUint64(b[0:], c.Records)
	binary.LittleEndian.PutUint64(b[8:], c.Bytes)
	binary.LittleEndian.PutUint64(b[16:], c.Next)
	copy(b[24:], c.StreamID[:])
	copy(b[56:], c.Sum[:])
	return b
}

func parseCheckpoint(p []byte) (*Checkpoint, error) {
	if len(p) != checkpointSize {
		return nil, fmt.Errorf("CHECKPOINT: payload of %d bytes", len(p))
	}
	c := &Checkpoint{Records: le64(p[0:]), Bytes: le64(p[8:]), Next: le64(p[16:])}
	copy(c.StreamID[:], p[24:])
	copy(c.Sum[:], p[56:])
	return c, nil
}

// End is the END payload.
type End struct {
	Records     uint64 // records before END
	DataRecords uint64
	ZeroRecords uint64
	DataBytes   uint64 // logical bytes in DATA records
	ZeroBytes   uint64
	StoredBytes uint64 // DATA payload bytes
	StreamSum   [32]byte
	Root        [32]byte
}

const endSize = 8*6 + 32 + 32

func (e *End) Marshal() []byte {
	b := make([]byte, endSize)
	for i, v := range []uint64{e.Records, e.DataRecords, e.ZeroRecords, e.DataBytes, e.ZeroBytes, e.StoredBytes} {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	copy(b[48:], e.StreamSum[:])
	copy(b[80:], e.Root[:])
	return b
}

func parseEnd(p []byte) (*End, error) {
	if len(p) != endSize {
		return nil, fmt.Errorf("END: payload of %d bytes", len(p))
	}
	e := &End{Records: le64(p), DataRecords: le64(p[8:]), ZeroRecords: le64(p[16:]),
		DataBytes: le64(p[24:]), ZeroBytes: le64(p[32:]), StoredBytes: le64(p[40:])}
	copy(e.StreamSum[:], p[48:])
	copy(e.Root[:], p[80:])
	return e, nil
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func putHeader(h []byte, typ, flags uint16, off, length uint64, payload []byte) {
	binary.LittleEndian.PutUint16(h[0:], typ)
	binary.LittleEndian.PutUint16(h[2:], flags)
	binary.LittleEndian.PutUint64(h[8:], off)
	binary.LittleEndian.PutUint64(h[16:], length)
	binary.LittleEndian.PutUint32(h[24:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint32(h[4:], headerCRC(h))
}

// headerCRC is CRC-32C over the header's bytes other than its own field.
func headerCRC(h []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	return crc32.Update(c, castagnoli, h[8:HeaderSize])
}

// ---- encoder ----

// Codec levels.
var zstdLevels = map[string]zstd.EncoderLevel{
	"fastest": zstd.SpeedFastest, "default": zstd.SpeedDefault, "better": zstd.SpeedBetterCompression,
}

var (
	encMu    sync.Mutex
	encoders = map[zstd.EncoderLevel]*zstd.Encoder{}
	decOnce  sync.Once
	decoder  *zstd.Decoder
)

func zstdEncoder(l zstd.EncoderLevel) *zstd.Encoder {
	encMu.Lock()
	defer encMu.Unlock()
	if e, ok := encoders[l]; ok {
		return e
	}
	// One goroutine and no CRC: the output is the same on every machine, and
	// the record's CRC-32C already covers the frame.
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
	if err != nil {
		panic(err)
	}
	encoders[l] = e
	return e
}

func zstdDecoder() *zstd.Decoder {
	decOnce.Do(func() {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxPayload*2))
		if err != nil {
			panic(err)
		}
		decoder = d
	})
	return decoder
}

// ParseCodec checks a --compress value: none, zstd, zstd:LEVEL.
func ParseCodec(s string) (string, error) {
	switch {
	case s == "none":
		return s, nil
	case s == "zstd":
		return "zstd:fastest", nil
	case strings.HasPrefix(s, "zstd:"):
		if _, ok := zstdLevels[strings.TrimPrefix(s, "zstd:")]; ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown codec %q (none, zstd, zstd:fastest|default|better)", s)
}

// Encoder writes a stream. It hashes everything it writes (the END
// record's SHA-256) and counts records.
type Encoder struct {
	w     io.Writer
	sum   hash.Hash
	err   error
	enc   *zstd.Encoder
	hdr   [HeaderSize]byte
	cbuf  []byte
	id    [32]byte
	every uint64 // logical bytes between checkpoints (0: none)
	since uint64
	End   End
	Pos   int64 // bytes written
}

// NewEncoder writes the magic and the BEGIN record. The stream id is the
// SHA-256 of the BEGIN record (header and payload).
func NewEncoder(w io.Writer, b *Begin) (*Encoder, error) {
	e := &Encoder{w: w, sum: sha256.New(), every: b.Checkpoint}
	if lvl, ok := strings.CutPrefix(b.Codec, "zstd:"); ok {
		e.enc = zstdEncoder(zstdLevels[lvl])
	}
	e.write([]byte(Magic))
	p := b.Marshal()
	e.record(RecBegin, 0, 0, 0, p)
	e.id = StreamID(e.hdr[:], p)
	return e, e.err
}

// StreamID is the SHA-256 of a BEGIN record.
func StreamID(hdr, payload []byte) [32]byte {
	h := sha256.New()
	h.Write(hdr)
	h.Write(payload)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// ID returns the stream id.
func (e *Encoder) ID() [32]byte { return e.id }

func (e *Encoder) write(p []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(p)
	e.sum.Write(p[:n])
	e.Pos += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	e.err = err
}

func (e *Encoder) record(typ, flags uint16, off, length uint64, payload []byte) {
	putHeader(e.hdr[:], typ, flags, off, length, payload)
	e.write(e.hdr[:])
	e.write(payload)
	if typ != RecEnd {
		e.End.Records++
	}
}

// Data writes one DATA record for the bytes at off, compressed when that
// shrinks them.
func (e *Encoder) Data(off uint64, data []byte) error {
	payload, flags := data, uint16(0)
	if e.enc != nil {
		e.cbuf = e.enc.EncodeAll(data, e.cbuf[:0])
		if len(e.cbuf) < len(data) {
			payload, flags = e.cbuf, FlagZstd
		}
	}
	e.record(RecData, flags, off, uint64(len(data)), payload)
	e.End.DataRecords++
	e.End.DataBytes += uint64(len(data))
	e.End.StoredBytes += uint64(len(payload))
	e.progress(off+uint64(len(data)), uint64(len(data)))
	return e.err
}

// Zero writes a ZERO record: the range must read zeros.
func (e *Encoder) Zero(off, length uint64) error {
	e.record(RecZero, 0, off, length, nil)
	e.End.ZeroRecords++
	e.End.ZeroBytes += length
	e.progress(off+length, length)
	return e.err
}

func (e *Encoder) progress(next, n uint64) {
	if e.every == 0 {
		return
	}
	e.since += n
	if e.since < e.every {
		return
	}
	e.since = 0
	c := Checkpoint{Records: e.End.Records, Bytes: uint64(e.Pos), Next: next, StreamID: e.id}
	copy(c.Sum[:], e.sum.Sum(nil))
	e.record(RecCheckpoint, 0, next, 0, c.Marshal())
}

// Close writes END with the image root.
func (e *Encoder) Close(root [32]byte) error {
	copy(e.End.StreamSum[:], e.sum.Sum(nil))
	e.End.Root = root
	e.record(RecEnd, 0, 0, 0, e.End.Marshal())
	return e.err
}

// ---- decoder ----

// Error kinds a decoder reports; recv maps them to exit codes.
var (
	ErrCorrupt   = errors.New("corrupt stream")
	ErrTruncated = errors.New("truncated stream")
	ErrUnknown   = errors.New("unknown mandatory record")
)

// StreamError is a refusal of a stream, with the record position.
type StreamError struct {
	Kind error
	Pos  int64
	Msg  string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("%s at byte %d: %s", e.Kind, e.Pos, e.Msg)
}

func (e *StreamError) Unwrap() error { return e.Kind }

// Decoder reads and checks a stream record by record. Every check that can
// be made before the data is used is made: CRCs, record order, ranges
// inside the volume, payload sizes, checkpoint and END consistency.
type Decoder struct {
	r     io.Reader
	sum   hash.Hash
	pos   int64
	Begin *Begin
	ID    [32]byte
	End   *End
	count End // what has been seen
	next  uint64
	hdr   [HeaderSize]byte
	buf   []byte
	dbuf  []byte
	// Skipped counts unknown optional records.
	Skipped int
	// SkipBefore: DATA records that start before this stream position are
	// checked (CRC, ranges, counts, the stream's SHA-256) but not
	// decompressed, and their Data is nil: a resume has written them.
	SkipBefore int64
}

// NewDecoder reads the magic and the BEGIN record.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: r, sum: sha256.New()}
	var m [len(Magic)]byte
	if err := d.read(m[:]); err != nil {
		return nil, err
	}
	if string(m[:]) != Magic {
		return nil, d.fail(ErrCorrupt, 0, "bad magic (not a thinsync stream)")
	}
	rec, err := d.Next()
	if err != nil {
		return nil, err
	}
	if rec.Type != RecBegin {
		return nil, d.fail(ErrCorrupt, rec.Pos, "first record is %s, not BEGIN", TypeName(rec.Type))
	}
	return d, nil
}

func (d *Decoder) fail(kind error, pos int64, format string, args ...any) error {
	return &StreamError{Kind: kind, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (d *Decoder) read(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.sum.Write(p[:n])
	d.pos += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return d.fail(ErrTruncated, d.pos, "stream ends before END")
	}
	return err
}

// Pos is the number of stream bytes read.
func (d *Decoder) Pos() int64 { return d.pos }

// SumState returns the marshalled running SHA-256 (for resume state).
func (d *Decoder) SumState() []byte {
	b, _ := d.sum.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
	return b
}

// Next returns the next record; after END it returns io.EOF. The returned
// record's slices are valid until the next call.
func (d *Decoder) Next() (*Record, error) {
	if d.End != nil {
		return nil, io.EOF
	}
	for {
		pos := d.pos
		// The running hash before the header: what END and CHECKPOINT carry.
		var before [32]byte
		d.sum.Sum(before[:0])
		if err := d.read(d.hdr[:]); err != nil {
			return nil, err
		}
		h := d.hdr[:]
		if binary.LittleEndian.Uint32(h[4:]) != headerCRC(h) {
			return nil, d.fail(ErrCorrupt, pos, "record header checksum mismatch")
		}
		rec := &Record{Type: binary.LittleEndian.Uint16(h[0:]), Flags: binary.LittleEndian.Uint16(h[2:]),
			Offset: le64(h[8:]), Length: le64(h[16:]), Pos: pos}
		plen := binary.LittleEndian.Uint32(h[24:])
		if plen > MaxPayload {
			return nil, d.fail(ErrCorrupt, pos, "payload of %d bytes is too large", plen)
		}
		if cap(d.buf) < int(plen) {
			d.buf = alignedBuf(int(plen)) // recv writes raw DATA from it with O_DIRECT
		}
		rec.Payload = d.buf[:plen]
		if err := d.read(rec.Payload); err != nil {
			return nil, err
		}
		if crc32.Checksum(rec.Payload, castagnoli) != binary.LittleEndian.Uint32(h[28:]) {
			return nil, d.fail(ErrCorrupt, pos, "%s payload checksum mismatch", TypeName(rec.Type))
		}
		if d.Begin == nil && rec.Type != RecBegin {
			return rec, nil // NewDecoder refuses it
		}
		if rec.Type&OptionalBit != 0 {
			d.Skipped++
			d.count.Records++
			continue
		}
		if err := d.check(rec, before); err != nil {
			return nil, err
		}
		if rec.Type != RecEnd {
			d.count.Records++
		}
		return rec, nil
	}
}

// check validates a record against the stream so far.
func (d *Decoder) check(rec *Record, before [32]byte) error {
	pos := rec.Pos
	switch rec.Type {
	case RecBegin:
		if d.Begin != nil {
			return d.fail(ErrCorrupt, pos, "second BEGIN")
		}
		if rec.Flags != 0 || rec.Offset != 0 || rec.Length != 0 {
			return d.fail(ErrCorrupt, pos, "BEGIN with flags, offset or length")
		}
		b, err := ParseBegin(rec.Payload)
		if err != nil {
			return d.fail(ErrCorrupt, pos, "%v", err)
		}
		d.Begin = b
		d.ID = StreamID(d.hdr[:], rec.Payload)
	case RecData, RecZero:
		b := d.Begin
		if rec.Offset < d.next {
			return d.fail(ErrCorrupt, pos, "%s at %d overlaps or goes back (next offset %d)", TypeName(rec.Type), rec.Offset, d.next)
		}
		if rec.Length == 0 || rec.Offset%512 != 0 || rec.Length%512 != 0 {
			return d.fail(ErrCorrupt, pos, "%s range %d+%d is not whole sectors", TypeName(rec.Type), rec.Offset, rec.Length)
		}
		if rec.Offset > b.Size || rec.Length > b.Size-rec.Offset {
			return d.fail(ErrCorrupt, pos, "%s range %d+%d beyond the volume's %d bytes", TypeName(rec.Type), rec.Offset, rec.Length, b.Size)
		}
		if rec.Type == RecZero {
			if rec.Flags != 0 || len(rec.Payload) != 0 {
				return d.fail(ErrCorrupt, pos, "ZERO with flags or payload")
			}
			d.count.ZeroRecords++
			d.count.ZeroBytes += rec.Length
		} else {
			if rec.Offset/b.Granule != (rec.Offset+rec.Length-1)/b.Granule {
				return d.fail(ErrCorrupt, pos, "DATA range %d+%d crosses a granule boundary", rec.Offset, rec.Length)
			}
			switch rec.Flags {
			case 0:
				if uint64(len(rec.Payload)) != rec.Length {
					return d.fail(ErrCorrupt, pos, "DATA payload of %d bytes for %d", len(rec.Payload), rec.Length)
				}
				rec.Data = rec.Payload
			case FlagZstd:
				if pos < d.SkipBefore {
					break
				}
				if cap(d.dbuf) < int(rec.Length) {
					d.dbuf = alignedBuf(int(rec.Length))[:0] // as d.buf
				}
				out, err := zstdDecoder().DecodeAll(rec.Payload, d.dbuf[:0])
				if err != nil || uint64(len(out)) != rec.Length {
					return d.fail(ErrCorrupt, pos, "DATA payload does not decompress to %d bytes", rec.Length)
				}
				rec.Data = out
			default:
				return d.fail(ErrCorrupt, pos, "DATA with unknown flags %#x", rec.Flags)
			}
			d.count.DataRecords++
			d.count.DataBytes += rec.Length
			d.count.StoredBytes += uint64(len(rec.Payload))
		}
		d.next = rec.Offset + rec.Length
	case RecCheckpoint:
		c, err := parseCheckpoint(rec.Payload)
		if err != nil {
			return d.fail(ErrCorrupt, pos, "%v", err)
		}
		if c.StreamID != d.ID || c.Records != d.count.Records || c.Bytes != uint64(pos) || c.Sum != before || c.Next != d.next || rec.Offset != d.next {
			return d.fail(ErrCorrupt, pos, "CHECKPOINT does not match the stream")
		}
	case RecEnd:
		e, err := parseEnd(rec.Payload)
		if err != nil {
			return d.fail(ErrCorrupt, pos, "%v", err)
		}
		c := d.count
		c.StreamSum, c.Root = before, e.Root
		if *e != c {
			return d.fail(ErrCorrupt, pos, "END does not match the stream (counts or SHA-256)")
		}
		d.End = e
	default:
		return d.fail(ErrUnknown, pos, "record type %#04x", rec.Type)
	}
	return nil
}
