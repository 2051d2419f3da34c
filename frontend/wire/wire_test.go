package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
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
