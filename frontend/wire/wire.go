// Package wire is the protocol between dmsim's shims (dmsetup, the thin
// tools, blockdev, ... on PATH) and the daemon (`dmsim serve`), over a Unix
// socket.
//
// A connection carries one command. Every message is a frame: one byte of
// kind, a big-endian uint32 length, then that many bytes of payload (at most
// MaxPayload). The shim sends a Request frame; the daemon answers with
// Stdout and Stderr frames and ends with an Exit frame. Standard input is
// sent only when the command reads it: the daemon sends StdinWanted, and the
// shim then streams Stdin frames, an empty one marking the end of input.
package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Kind is a frame's kind.
type Kind byte

// The frame kinds.
const (
	KindRequest     Kind = 'Q' // shim → daemon: a Request, in JSON
	KindStdin       Kind = 'I' // shim → daemon: standard input; empty at end of input
	KindStdinWanted Kind = 'W' // daemon → shim: start sending standard input
	KindStdout      Kind = 'O' // daemon → shim: standard output
	KindStderr      Kind = 'E' // daemon → shim: standard error
	KindExit        Kind = 'X' // daemon → shim: the exit status, a big-endian uint32; the last frame
)

// MaxPayload bounds a frame's payload.
const MaxPayload = 1 << 24

// headerSize is a frame's kind byte and length.
const headerSize = 5

// ErrFrame is a malformed frame.
var ErrFrame = errors.New("malformed frame")

// Frame is one message.
type Frame struct {
	Kind    Kind
	Payload []byte
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, k Kind, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes", ErrFrame, len(payload))
	}
	b := make([]byte, headerSize+len(payload))
	b[0] = byte(k)
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[headerSize:], payload)
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one frame. A stream that ends between frames gives
// io.EOF; one that ends inside a frame gives io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	k := Kind(h[0])
	if !k.valid() {
		return Frame{}, fmt.Errorf("%w: kind %#x", ErrFrame, h[0])
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: payload of %d bytes", ErrFrame, n)
	}
	f := Frame{Kind: k, Payload: make([]byte, n)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
}

func (k Kind) valid() bool {
	switch k {
	case KindRequest, KindStdin, KindStdinWanted, KindStdout, KindStderr, KindExit:
		return true
	}
	return false
}

// Request is the command a shim forwards.
type Request struct {
	// Argv is the command line as the shim got it; Argv[0] is the base name
	// the shim was called by (dmsetup, thin_check, ...).
	Argv []string `json:"argv"`
	// Dir is the shim's working directory, for file operands named
	// relative to it.
	Dir string `json:"dir"`
	// StdinTTY says standard input is a terminal (it is then never read).
	StdinTTY bool `json:"stdin_tty,omitempty"`
}

// MaxArgs bounds a request's argument count.
const MaxArgs = 4096

// EncodeRequest is a Request's payload.
func EncodeRequest(r Request) []byte {
	b, _ := json.Marshal(r)
	return b
}

// DecodeRequest parses and checks a Request payload.
func DecodeRequest(b []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(b, &r); err != nil {
		return Request{}, fmt.Errorf("%w: request: %v", ErrFrame, err)
	}
	switch {
	case len(r.Argv) == 0 || r.Argv[0] == "":
		return Request{}, fmt.Errorf("%w: request without a command", ErrFrame)
	case len(r.Argv) > MaxArgs:
		return Request{}, fmt.Errorf("%w: request with %d arguments", ErrFrame, len(r.Argv))
	case r.Dir == "" || r.Dir[0] != '/':
		return Request{}, fmt.Errorf("%w: request with working directory %q", ErrFrame, r.Dir)
	}
	return r, nil
}

// EncodeExit is an Exit frame's payload.
func EncodeExit(status int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(status))
}

// DecodeExit parses an Exit frame's payload.
func DecodeExit(b []byte) (int, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: exit status of %d bytes", ErrFrame, len(b))
	}
	s := binary.BigEndian.Uint32(b)
	if s > 255 {
		return 0, fmt.Errorf("%w: exit status %d", ErrFrame, s)
	}
	return int(s), nil
}
