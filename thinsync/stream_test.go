package thinsync

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// testStream encodes a stream over a deterministic image: granules of
// text, zeros and pseudo-random bytes, with checkpoints.
func testStream(t testing.TB, granules int, codec string) ([]byte, *Manifest) {
	t.Helper()
	const g = 4096
	size := uint64(granules) * g
	b := &Begin{Version: 1, Kind: "full", Size: size, Granule: g, Codec: codec, Checkpoint: 4 * g, BaseID: -1}
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, b)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManifest(size, g)
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, g)
	for i := 0; i < granules; i++ {
		switch i % 4 {
		case 0:
			clear(data)
			if err := enc.Zero(uint64(i)*g, g); err != nil {
				t.Fatal(err)
			}
			continue
		case 1:
			for j := range data {
				data[j] = byte('a' + j%7)
			}
		default:
			for j := range data {
				data[j] = byte(r.Uint32())
			}
		}
		m.Set(uint64(i), data)
		if err := enc.Data(uint64(i)*g, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(m.Root()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// decodeAll reads a whole stream and rebuilds the image's manifest.
func decodeAll(stream []byte) (*Manifest, *Decoder, error) {
	dec, err := NewDecoder(bytes.NewReader(stream))
	if err != nil {
		return nil, nil, err
	}
	m := NewManifest(dec.Begin.Size, dec.Begin.Granule)
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, dec, err
		}
		if rec.Type == RecData {
			m.Set(rec.Offset/dec.Begin.Granule, rec.Data)
		}
	}
	if m.Root() != dec.End.Root {
		return nil, dec, errors.New("root mismatch")
	}
	return m, dec, nil
}

func TestStreamRoundTrip(t *testing.T) {
	for _, codec := range []string{"none", "zstd:fastest", "zstd:default", "zstd:better"} {
		t.Run(codec, func(t *testing.T) {
			s, want := testStream(t, 64, codec)
			got, dec, err := decodeAll(s)
			if err != nil {
				t.Fatal(err)
			}
			if got.Root() != want.Root() {
				t.Fatalf("root %x, want %x", got.Root(), want.Root())
			}
			if dec.End.DataRecords != 48 || dec.End.ZeroRecords != 16 {
				t.Errorf("counts %+v", dec.End)
			}
			// Determinism: the same input gives the same bytes.
			again, _ := testStream(t, 64, codec)
			if !bytes.Equal(s, again) {
				t.Error("two encodings differ")
			}
		})
	}
}

// TestStreamDamage: every single-byte flip and every truncation of a
// stream is refused by the decoder (before END is accepted, so before a
// receiver publishes).
func TestStreamDamage(t *testing.T) {
	s, _ := testStream(t, 64, "zstd:fastest")
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		b := bytes.Clone(s)
		pos := r.IntN(len(b))
		b[pos] ^= byte(1 + r.IntN(255))
		if _, _, err := decodeAll(b); err == nil {
			t.Fatalf("flip %d at byte %d accepted", i, pos)
		}
	}
	cuts := map[int]bool{}
	for i := 0; i < 1000; i++ {
		cuts[r.IntN(len(s))] = true
	}
	// and every record boundary
	dec, _ := NewDecoder(bytes.NewReader(s))
	for {
		rec, err := dec.Next()
		if err != nil {
			break
		}
		cuts[int(rec.Pos)] = true
		cuts[int(rec.Pos)+HeaderSize] = true
	}
	for n := range cuts {
		_, _, err := decodeAll(s[:n])
		if err == nil {
			t.Fatalf("truncation at %d accepted", n)
		}
		var se *StreamError
		if !errors.As(err, &se) {
			t.Fatalf("truncation at %d: %v is not a StreamError", n, err)
		}
	}
	if len(cuts) < 1000 {
		t.Errorf("only %d distinct truncations", len(cuts))
	}
}

// TestStreamRecords: hand-made records the decoder must refuse or skip.
func TestStreamRecords(t *testing.T) {
	begin := (&Begin{Version: 1, Kind: "full", Size: 8192, Granule: 4096, Codec: "none", BaseID: -1}).Marshal()
	rec := func(typ, flags uint16, off, length uint64, payload []byte) []byte {
		h := make([]byte, HeaderSize)
		putHeader(h, typ, flags, off, length, payload)
		return append(h, payload...)
	}
	build := func(recs ...[]byte) []byte {
		s := []byte(Magic)
		s = append(s, rec(RecBegin, 0, 0, 0, begin)...)
		for _, r := range recs {
			s = append(s, r...)
		}
		return s
	}
	page := bytes.Repeat([]byte{1}, 4096)
	tests := []struct {
		name string
		s    []byte
		want error // nil: decodes to END... but END is missing here, so truncated
	}{
		{"unknown mandatory", build(rec(0x77, 0, 0, 0, nil)), ErrUnknown},
		{"optional skipped then truncated", build(rec(0x8077, 0, 0, 0, []byte("x"))), ErrTruncated},
		{"overlap", build(rec(RecData, 0, 0, 4096, page), rec(RecZero, 0, 0, 512, nil)), ErrCorrupt},
		{"beyond end", build(rec(RecZero, 0, 4096, 8192, nil)), ErrCorrupt},
		{"unaligned", build(rec(RecZero, 0, 100, 512, nil)), ErrCorrupt},
		{"crosses granule", build(rec(RecData, 0, 2048, 4096, page)), ErrCorrupt},
		{"short payload", build(rec(RecData, 0, 0, 4096, page[:100])), ErrCorrupt},
		{"bad zstd", build(rec(RecData, FlagZstd, 0, 4096, page[:100])), ErrCorrupt},
		{"zero with payload", build(rec(RecZero, 0, 0, 512, []byte{1})), ErrCorrupt},
		{"bad end", build(rec(RecEnd, 0, 0, 0, make([]byte, endSize))), ErrCorrupt},
		{"second begin", build(rec(RecBegin, 0, 0, 0, begin)), ErrCorrupt},
		{"forged checkpoint", build(rec(RecCheckpoint, 0, 0, 0, make([]byte, checkpointSize))), ErrCorrupt},
		{"no magic", []byte("THNSTRM0"), ErrCorrupt},
		{"empty", nil, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeAll(tc.s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseBegin(t *testing.T) {
	good := "base_id=-1\nbase_root=\nbase_size=0\ncheckpoint=0\ncodec=none\ndev_id=1\ngranule=65536\nkind=full\nsize=4096\nsnap_time=0\ntime=0\ntransaction=0\nversion=1\n"
	if _, err := ParseBegin([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "version=2\n", good + "version=1\n", good[:len(good)-10] + "version=x\n",
		bytes.NewBufferString(good).String() + "junk\n",
	} {
		if _, err := ParseBegin([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzRecv feeds arbitrary bytes to the decoder: it must never panic or
// hang, and whatever it accepts must be self-consistent.
func FuzzRecv(f *testing.F) {
	s, _ := testStream(f, 8, "zstd:fastest")
	f.Add(s)
	f.Add(s[:len(s)/2])
	raw, _ := testStream(f, 4, "none")
	f.Add(raw)
	// Small streams (512-byte granules, a checkpoint, an incremental's
	// BEGIN): the fuzzer minimizes every new input, which takes minutes
	// on the large ones above.
	for _, kind := range []string{"full", "incremental"} {
		b := &Begin{Version: 1, Kind: kind, Size: 2048, Granule: 512, Codec: "zstd:fastest", Checkpoint: 1024, BaseID: -1}
		if kind == "incremental" {
			b.BaseID, b.BaseSize, b.BaseRoot = 1, 1536, strings.Repeat("ab", 32)
		}
		var buf bytes.Buffer
		enc, _ := NewEncoder(&buf, b)
		m := NewManifest(2048, 512)
		enc.Data(0, bytes.Repeat([]byte("z"), 512))
		m.Set(0, bytes.Repeat([]byte("z"), 512))
		enc.Zero(512, 1024)
		enc.Data(1536, []byte(strings.Repeat("0123456789abcdef", 32)))
		m.Set(3, []byte(strings.Repeat("0123456789abcdef", 32)))
		enc.Close(m.Root())
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, dec, err := decodeAll(b)
		if err != nil {
			return
		}
		if m.Root() != dec.End.Root || dec.Begin == nil {
			t.Fatal("accepted an inconsistent stream")
		}
	})
}

func BenchmarkEncodeZstdFastest(b *testing.B) {
	data := make([]byte, 65536)
	for i := range data {
		data[i] = byte(i * 7 % 13)
	}
	enc, _ := NewEncoder(io.Discard, &Begin{Version: 1, Kind: "full", Size: 1 << 40, Granule: 65536, Codec: "zstd:fastest", BaseID: -1})
	b.SetBytes(65536)
	for i := 0; b.Loop(); i++ {
		enc.Data(uint64(i)*65536, data)
	}
}

// TestIncompressibleOverhead: random granules are stored raw; the stream
// costs under 0.1 % over the raw bytes.
func TestIncompressibleOverhead(t *testing.T) {
	const g, n = 65536, 256
	var buf bytes.Buffer
	enc, _ := NewEncoder(&buf, &Begin{Version: 1, Kind: "full", Size: g * n, Granule: g, Codec: "zstd:fastest", BaseID: -1})
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, g)
	for i := 0; i < n; i++ {
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		enc.Data(uint64(i)*g, data)
	}
	enc.Close([32]byte{})
	if raw := g * n; float64(buf.Len()) > float64(raw)*1.001 {
		t.Fatalf("stream %d bytes for %d raw (%.3f%%)", buf.Len(), raw, 100*float64(buf.Len()-raw)/float64(raw))
	}
	if enc.End.StoredBytes != g*n {
		t.Errorf("stored %d, want raw %d", enc.End.StoredBytes, g*n)
	}
}
