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
//
// A connection that starts with a Bridge frame instead carries the calls of
// one process running under the LD_PRELOAD bridge (package
// frontend/preload): Ioctl frames (a device-mapper ioctl on
// /dev/mapper/control, with its struct dm_ioctl buffer) and PathOp frames
// (a stat, read, mknod, ... of a path under /dev/mapper, /proc or /sys),
// each answered by one Reply frame, until the process closes it.
package wire

import (
	"bytes"
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

	KindBridge Kind = 'B' // bridge → daemon: the first frame of a bridge connection (BridgeVersion)
	KindIoctl  Kind = 'C' // bridge → daemon: an Ioctl
	KindPathOp Kind = 'P' // bridge → daemon: a PathOp
	KindReply  Kind = 'R' // daemon → bridge: a Reply to the last call
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
	case KindRequest, KindStdin, KindStdinWanted, KindStdout, KindStderr, KindExit,
		KindBridge, KindIoctl, KindPathOp, KindReply:
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

// BridgeVersion is the Bridge frame's payload: the protocol's version.
const BridgeVersion = "dmsim-bridge 1"

// Ioctl is one ioctl(2) on /dev/mapper/control: payload a big-endian
// uint32 request number, then the caller's buffer (data_size bytes of its
// struct dm_ioctl, at least the header).
type Ioctl struct {
	Command uint32
	Buf     []byte
}

// EncodeIoctl is an Ioctl frame's payload.
func EncodeIoctl(c Ioctl) []byte {
	return append(binary.BigEndian.AppendUint32(nil, c.Command), c.Buf...)
}

// DecodeIoctl parses an Ioctl frame's payload.
func DecodeIoctl(b []byte) (Ioctl, error) {
	if len(b) < 4 {
		return Ioctl{}, fmt.Errorf("%w: ioctl of %d bytes", ErrFrame, len(b))
	}
	return Ioctl{Command: binary.BigEndian.Uint32(b), Buf: b[4:]}, nil
}

// Op is a PathOp's operation.
type Op byte

// The path operations.
const (
	OpStat     Op = 's' // stat(2), through symlinks; Reply data: a Stat
	OpLstat    Op = 'L' // lstat(2): a symlink itself; Reply data: a Stat
	OpRead     Op = 'r' // the whole contents of a /proc or /sys file
	OpReadDir  Op = 'd' // a directory's entries: NAME NUL TYPE NUL ... (TYPE its d_type in decimal)
	OpReadlink Op = 'l' // readlink(2)
	OpMknod    Op = 'n' // mknod(2) of Path with Mode and Major:Minor
	OpUnlink   Op = 'u' // unlink(2)
	OpRename   Op = 'm' // rename(2) of Path to Path2
	OpChown    Op = 'o' // chown(2), chmod(2), access(2): only whether Path exists
)

// PathOp is a file system call on a path the bridge sends to dmsim: payload
// the op byte, big-endian uint32 Mode, Major and Minor, then Path, a NUL,
// and Path2 (for rename).
type PathOp struct {
	Op           Op
	Mode         uint32
	Major, Minor uint32
	Path, Path2  string
}

const pathOpHeader = 13

// MaxPath bounds a PathOp's paths (PATH_MAX).
const MaxPath = 4096

// EncodePathOp is a PathOp frame's payload.
func EncodePathOp(o PathOp) []byte {
	b := []byte{byte(o.Op)}
	b = binary.BigEndian.AppendUint32(b, o.Mode)
	b = binary.BigEndian.AppendUint32(b, o.Major)
	b = binary.BigEndian.AppendUint32(b, o.Minor)
	b = append(b, o.Path...)
	b = append(b, 0)
	return append(b, o.Path2...)
}

// DecodePathOp parses and checks a PathOp frame's payload.
func DecodePathOp(b []byte) (PathOp, error) {
	if len(b) < pathOpHeader+1 {
		return PathOp{}, fmt.Errorf("%w: path op of %d bytes", ErrFrame, len(b))
	}
	o := PathOp{Op: Op(b[0]), Mode: binary.BigEndian.Uint32(b[1:]), Major: binary.BigEndian.Uint32(b[5:]),
		Minor: binary.BigEndian.Uint32(b[9:])}
	switch o.Op {
	case OpStat, OpLstat, OpRead, OpReadDir, OpReadlink, OpMknod, OpUnlink, OpRename, OpChown:
	default:
		return PathOp{}, fmt.Errorf("%w: path op %#x", ErrFrame, b[0])
	}
	rest := b[pathOpHeader:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return PathOp{}, fmt.Errorf("%w: path op without a NUL", ErrFrame)
	}
	o.Path, o.Path2 = string(rest[:i]), string(rest[i+1:])
	switch {
	case o.Path == "" || o.Path[0] != '/' || len(o.Path) > MaxPath:
		return PathOp{}, fmt.Errorf("%w: path op on %q", ErrFrame, o.Path)
	case bytes.IndexByte(rest[i+1:], 0) >= 0 || len(o.Path2) > MaxPath:
		return PathOp{}, fmt.Errorf("%w: path op with a bad second path", ErrFrame)
	case o.Op == OpRename && (o.Path2 == "" || o.Path2[0] != '/'):
		return PathOp{}, fmt.Errorf("%w: rename to %q", ErrFrame, o.Path2)
	case o.Op != OpRename && o.Path2 != "":
		return PathOp{}, fmt.Errorf("%w: second path for op %q", ErrFrame, o.Op)
	}
	return o, nil
}

// Stat is an OpStat Reply's data: big-endian uint32 mode (st_mode, type
// bits included), major, minor (st_rdev), uid, gid, then uint64 size.
type Stat struct {
	Mode, Major, Minor, UID, GID uint32
	Size                         uint64
}

// EncodeStat is a Stat's bytes.
func EncodeStat(s Stat) []byte {
	b := make([]byte, 0, 28)
	for _, v := range []uint32{s.Mode, s.Major, s.Minor, s.UID, s.GID} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return binary.BigEndian.AppendUint64(b, s.Size)
}

// DecodeStat parses a Stat.
func DecodeStat(b []byte) (Stat, error) {
	if len(b) != 28 {
		return Stat{}, fmt.Errorf("%w: stat of %d bytes", ErrFrame, len(b))
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(b[4*i:]) }
	return Stat{Mode: u(0), Major: u(1), Minor: u(2), UID: u(3), GID: u(4), Size: binary.BigEndian.Uint64(b[20:])}, nil
}

// Reply answers an Ioctl or a PathOp: payload a big-endian uint32 errno (0
// for success), then the data: for an Ioctl the bytes to copy back to the
// start of the caller's buffer (also after a failure: the kernel's version
// is always written), for a PathOp what its op says.
type Reply struct {
	Errno uint32
	Data  []byte
}

// ErrnoHost in a PathOp's Reply says the path is the host's: the bridge
// makes the call on the host as if it had not intercepted it.
const ErrnoHost = 4095

// EncodeReply is a Reply frame's payload.
func EncodeReply(r Reply) []byte {
	return append(binary.BigEndian.AppendUint32(nil, r.Errno), r.Data...)
}

// DecodeReply parses a Reply frame's payload.
func DecodeReply(b []byte) (Reply, error) {
	if len(b) < 4 {
		return Reply{}, fmt.Errorf("%w: reply of %d bytes", ErrFrame, len(b))
	}
	e := binary.BigEndian.Uint32(b)
	if e > 4095 {
		return Reply{}, fmt.Errorf("%w: errno %d", ErrFrame, e)
	}
	return Reply{Errno: e, Data: b[4:]}, nil
}
