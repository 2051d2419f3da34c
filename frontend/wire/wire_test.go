package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	frames := []Frame{
		{KindRequest, EncodeRequest(Request{Argv: []string{"dmsetup", "ls"}, Dir: "/"})},
		{KindStdin, []byte("0 8 zero\n")},
		{KindStdin, []byte{}},
		{KindStdinWanted, []byte{}},
		{KindStdout, bytes.Repeat([]byte{'x'}, 70000)},
		{KindStderr, []byte("Command failed.\n")},
		{KindExit, EncodeExit(1)},
	}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.Kind, f.Payload); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range frames {
		got, err := ReadFrame(&buf)
		if err != nil || got.Kind != want.Kind || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("frame %d: %c %d bytes, %v; want %c %d bytes", i, got.Kind, len(got.Payload), err, want.Kind, len(want.Payload))
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short header", []byte{'O', 0, 0}, io.ErrUnexpectedEOF},
		{"short payload", []byte{'O', 0, 0, 0, 5, 'a', 'b'}, io.ErrUnexpectedEOF},
		{"header only", []byte{'O', 0, 0, 0, 1}, io.ErrUnexpectedEOF},
		{"bad kind", []byte{'Z', 0, 0, 0, 0}, ErrFrame},
		{"NUL kind", []byte{0, 0, 0, 0, 0}, ErrFrame},
		{"too long", []byte{'O', 0xff, 0xff, 0xff, 0xff}, ErrFrame},
		{"just over the limit", []byte{'O', 0x01, 0, 0, 1}, ErrFrame},
	} {
		if _, err := ReadFrame(bytes.NewReader(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := WriteFrame(io.Discard, KindStdout, make([]byte, MaxPayload+1)); !errors.Is(err, ErrFrame) {
		t.Errorf("oversized write: %v", err)
	}
}

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *Request // nil: refused
	}{
		{`{"argv":["dmsetup","create","p"],"dir":"/tmp"}`, &Request{Argv: []string{"dmsetup", "create", "p"}, Dir: "/tmp"}},
		{`{"argv":["thin_check","m"],"dir":"/","stdin_tty":true}`, &Request{Argv: []string{"thin_check", "m"}, Dir: "/", StdinTTY: true}},
		{`{"argv":[],"dir":"/"}`, nil},
		{`{"argv":[""],"dir":"/"}`, nil},
		{`{"argv":["dmsetup"],"dir":"tmp"}`, nil},
		{`{"argv":["dmsetup"]}`, nil},
		{`{"argv":"dmsetup","dir":"/"}`, nil},
		{`{"argv":["dmsetup"],"dir":"/"`, nil},
		{``, nil},
		{`null`, nil},
	} {
		got, err := DecodeRequest([]byte(tc.in))
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: accepted as %+v", tc.in, got)
		case tc.want != nil && (err != nil || !reflect.DeepEqual(got, *tc.want)):
			t.Errorf("%s: %+v %v, want %+v", tc.in, got, err, *tc.want)
		case err != nil && !errors.Is(err, ErrFrame):
			t.Errorf("%s: %v is not ErrFrame", tc.in, err)
		}
	}
	many := Request{Argv: make([]string, MaxArgs+1), Dir: "/"}
	for i := range many.Argv {
		many.Argv[i] = "x"
	}
	if _, err := DecodeRequest(EncodeRequest(many)); err == nil {
		t.Error("a request with too many arguments was accepted")
	}
}

func TestExit(t *testing.T) {
	for _, s := range []int{0, 1, 2, 127, 255} {
		if got, err := DecodeExit(EncodeExit(s)); got != s || err != nil {
			t.Errorf("exit %d: %d %v", s, got, err)
		}
	}
	for _, b := range [][]byte{nil, {0, 0, 1}, {0, 0, 1, 0}, {0, 0, 0, 0, 0}} {
		if s, err := DecodeExit(b); err == nil {
			t.Errorf("exit payload %v accepted as %d", b, s)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{'O', 0, 0, 0, 2, 'h', 'i', 'X', 0, 0, 0, 4, 0, 0, 0, 1})
	f.Add([]byte{'Q', 0, 0, 0, 3, '{', '}', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			fr, err := ReadFrame(r)
			if err != nil {
				return
			}
			switch fr.Kind {
			case KindRequest:
				DecodeRequest(fr.Payload)
			case KindExit:
				if s, err := DecodeExit(fr.Payload); err == nil && (s < 0 || s > 255) {
					t.Fatalf("exit status %d", s)
				}
			}
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"argv":["dmsetup","ls"],"dir":"/"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err == nil && (len(r.Argv) == 0 || r.Argv[0] == "" || r.Dir == "" || r.Dir[0] != '/') {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func TestBridgeMessages(t *testing.T) {
	ops := []PathOp{
		{Op: OpStat, Path: "/dev/mapper/control"},
		{Op: OpMknod, Mode: 0o60600, Major: 253, Minor: 7, Path: "/dev/mapper/x"},
		{Op: OpRename, Path: "/dev/mapper/a", Path2: "/dev/mapper/b"},
	}
	for _, o := range ops {
		got, err := DecodePathOp(EncodePathOp(o))
		if err != nil || got != o {
			t.Errorf("path op %+v: got %+v, %v", o, got, err)
		}
	}
	bad := []PathOp{
		{Op: 'z', Path: "/x"},
		{Op: OpStat, Path: "relative"},
		{Op: OpStat, Path: ""},
		{Op: OpRename, Path: "/a"},
		{Op: OpStat, Path: "/a", Path2: "/b"},
	}
	for _, o := range bad {
		if got, err := DecodePathOp(EncodePathOp(o)); err == nil {
			t.Errorf("bad path op %+v accepted as %+v", o, got)
		}
	}
	for _, b := range [][]byte{nil, {'s'}, append(EncodePathOp(PathOp{Op: OpStat, Path: "/a"}), 0)} {
		if _, err := DecodePathOp(b); err == nil {
			t.Errorf("path op payload %q accepted", b)
		}
	}
	io := Ioctl{Command: 0xc138fd00, Buf: []byte{4, 0, 0, 0}}
	if got, err := DecodeIoctl(EncodeIoctl(io)); err != nil || got.Command != io.Command || !bytes.Equal(got.Buf, io.Buf) {
		t.Errorf("ioctl: got %+v, %v", got, err)
	}
	if _, err := DecodeIoctl([]byte{1, 2}); err == nil {
		t.Error("short ioctl accepted")
	}
	r := Reply{Errno: 6, Data: []byte("x")}
	if got, err := DecodeReply(EncodeReply(r)); err != nil || got.Errno != 6 || string(got.Data) != "x" {
		t.Errorf("reply: got %+v, %v", got, err)
	}
	if _, err := DecodeReply([]byte{0, 0, 0x10, 0}); err == nil {
		t.Error("reply with errno 4096 accepted")
	}
	st := Stat{Mode: 0o20600, Major: 10, Minor: 236, GID: 6, Size: 1 << 40}
	if got, err := DecodeStat(EncodeStat(st)); err != nil || got != st {
		t.Errorf("stat: got %+v, %v", got, err)
	}
	if _, err := DecodeStat(make([]byte, 27)); err == nil {
		t.Error("short stat accepted")
	}
}

func FuzzDecodeBridge(f *testing.F) {
	f.Add(byte('P'), EncodePathOp(PathOp{Op: OpRename, Path: "/dev/mapper/a", Path2: "/dev/mapper/b"}))
	f.Add(byte('C'), EncodeIoctl(Ioctl{Command: 0xc138fd03, Buf: make([]byte, 312)}))
	f.Add(byte('R'), EncodeReply(Reply{Errno: 0, Data: EncodeStat(Stat{Mode: 0o60600})}))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		switch Kind(kind) {
		case KindPathOp:
			o, err := DecodePathOp(b)
			if err != nil {
				return
			}
			if o.Path == "" || o.Path[0] != '/' || strings.IndexByte(o.Path2, 0) >= 0 {
				t.Fatalf("accepted %+v", o)
			}
			if again, err := DecodePathOp(EncodePathOp(o)); err != nil || again != o {
				t.Fatalf("%+v does not round-trip: %+v, %v", o, again, err)
			}
		case KindIoctl:
			if c, err := DecodeIoctl(b); err == nil && !bytes.Equal(EncodeIoctl(c), b) {
				t.Fatalf("ioctl %+v does not round-trip", c)
			}
		default:
			if r, err := DecodeReply(b); err == nil {
				if r.Errno > 4095 {
					t.Fatalf("errno %d", r.Errno)
				}
				DecodeStat(r.Data)
			}
		}
	})
}
