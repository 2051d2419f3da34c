// Package thintools is dmsim's thin_check, thin_dump, thin_restore, thin_ls,
// thin_delta and thin_rmap. Each behaves like thin-provisioning-tools 0.9.0
// (the C++ tools Debian bookworm ships): the same options, the same output
// on stdout and stderr, and the same exit codes. The tools run on an image
// file (dmsim thin_dump IMAGE) or on a live metadata block device inside a
// script, through the Env the caller passes.
package thintools

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"sort"
)

// Version is what -V prints.
const Version = "0.9.0"

// Device is a metadata device or image: whole 4 KiB blocks are read and
// written at byte offsets. A persistent-data/block.Device satisfies it.
type Device interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Size() int64
}

// ErrNotDevice is returned by FS.OpenDevice for a path that exists but is
// neither a regular file nor a block device (the tools print "bad path").
var ErrNotDevice = errors.New("not a block device or regular file")

// FS is what the tools may touch outside their own memory. Paths are passed
// as the user typed them.
type FS interface {
	// OpenDevice opens a metadata device or image file, with excl
	// O_EXCL: a block device held by someone else (a live pool's table)
	// is then busy (EBUSY). A missing path returns an error satisfying
	// errors.Is(err, os.ErrNotExist).
	OpenDevice(path string, write, excl bool) (Device, error)
	// Open reads a plain file (thin_restore's XML input).
	Open(path string) (io.ReadCloser, error)
	// Create truncates or creates a plain file (thin_dump -o).
	Create(path string) (io.WriteCloser, error)
}

// Env is one invocation's surroundings.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	FS     FS // nil: the host file system (OSFS)
}

// Command is one tool. args[0] is the command name as typed (it appears in
// getopt's messages); the result is the exit status.
type Command func(ctx context.Context, args []string, env *Env) int

// Commands maps each tool's name to its implementation.
var Commands = map[string]Command{
	"thin_check":   ThinCheck,
	"thin_dump":    ThinDump,
	"thin_restore": ThinRestore,
	"thin_ls":      ThinLs,
	"thin_delta":   ThinDelta,
	"thin_rmap":    ThinRmap,
}

// Names lists the tools in sorted order.
func Names() []string {
	var n []string
	for k := range Commands {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Run runs the tool named args[0], or returns false if there is none.
func Run(ctx context.Context, args []string, env *Env) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	c, ok := Commands[baseName(args[0])]
	if !ok {
		return 0, false
	}
	return c(ctx, args, env), true
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// run wraps a tool body: buffered stdout (flushed at exit, as C++ cout on a
// pipe), unbuffered stderr, and a nil FS replaced by the host's.
func run(args []string, env *Env, body func(t *tool) int) int {
	out := bufio.NewWriterSize(env.Stdout, 64<<10)
	t := &tool{
		prog:  "thin",
		out:   out,
		err:   env.Stderr,
		fs:    env.FS,
		stdin: env.Stdin,
		argv:  args,
	}
	if len(args) > 0 {
		t.prog = args[0]
		t.args = args[1:]
	}
	if t.fs == nil {
		t.fs = OSFS{}
	}
	rc := body(t)
	out.Flush()
	return rc
}

// tool is the state shared by one invocation.
type tool struct {
	prog  string
	argv  []string
	args  []string
	out   *bufio.Writer
	err   io.Writer
	fs    FS
	stdin io.Reader
}

// OSFS is the host file system.
type OSFS struct{}

func (OSFS) OpenDevice(path string, write, excl bool) (Device, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0 {
		return nil, ErrNotDevice
	}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	if excl {
		flag |= os.O_EXCL // without O_CREAT: exclusive on a block device only
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	return &osDevice{f: f, regular: st.Mode().IsRegular(), size: st.Size()}, nil
}

func (OSFS) Open(path string) (io.ReadCloser, error)    { return os.Open(path) }
func (OSFS) Create(path string) (io.WriteCloser, error) { return os.Create(path) }

type osDevice struct {
	f       *os.File
	regular bool
	size    int64
}

func (d *osDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *osDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *osDevice) Size() int64 {
	if d.regular {
		return d.size
	}
	n, err := d.f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0
	}
	return n
}
func (d *osDevice) Close() error { return d.f.Close() }

// closeDev closes a device if it can be closed.
func closeDev(d Device) {
	if c, ok := d.(io.Closer); ok {
		c.Close()
	}
}
