package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dmsim/dmsim/frontend/wire"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/userland"
)

// requestTimeout bounds how long a connection may take to send its
// request.
const requestTimeout = 10 * time.Second

// handle serves one connection: one command.
func (d *Daemon) handle(c *net.UnixConn) {
	defer c.Close()
	out := &frameWriter{w: c}
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	f, err := wire.ReadFrame(c)
	if err == nil && f.Kind == wire.KindBridge {
		c.SetReadDeadline(time.Time{})
		d.serveBridge(c)
		return
	}
	if err == nil && f.Kind != wire.KindRequest {
		err = fmt.Errorf("%w: %q frame before the request", wire.ErrFrame, f.Kind)
	}
	var req wire.Request
	if err == nil {
		req, err = wire.DecodeRequest(f.Payload)
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			d.logf("dmsim: bad request: %v", err)
			fmt.Fprintf(out.stream(wire.KindStderr), "dmsim: bad request: %v\n", err)
			out.exit(2)
		}
		return
	}
	c.SetReadDeadline(time.Time{})
	root := "/"
	if pid, ok := peerPID(c); ok {
		root = "/proc/" + strconv.Itoa(pid) + "/root"
	}
	stdin := &stdinReader{c: c, out: out, closed: req.StdinTTY}
	status := d.run(req, root, stdin, out.stream(wire.KindStdout), out.stream(wire.KindStderr))
	out.exit(status)
}

// peerPID is the pid of the process on the other end (SO_PEERCRED).
func peerPID(c *net.UnixConn) (int, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var cerr error
	raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil || cred == nil || cred.Pid <= 0 {
		return 0, false
	}
	return int(cred.Pid), true
}

// run runs one command line as a process of the machine. Paths outside
// /dev, /sys and /proc are the caller's (root is its root directory);
// udevadm is the daemon's own.
func (d *Daemon) run(req wire.Request, root string, stdin io.Reader, stdout, stderr io.Writer) int {
	argv := req.Argv
	if argv[0] == "udevadm" {
		return d.udevadm(argv, root, stdout, stderr)
	}
	fsys, err := userland.NewSimFS(d.k, root)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim: %v\n", err)
		return 1
	}
	env := map[string]string{"LANG": "C", "DM_DISABLE_UDEV": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
	p := &userland.Proc{
		Ctx:    d.ctx,
		Args:   argv,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
		Env:    func(n string) string { return env[n] },
		Dir:    path.Clean(req.Dir),
		FS:     fsys,
		Kernel: d.k,
	}
	tok := sim.NewToken(d.k.Clock, nil)
	tok.Acquire()
	p.SetToken(tok)
	status := userland.Run(p, argv)
	tok.Release()
	if d.devs != nil {
		d.devs.reconcile()
	}
	return status
}

// frameWriter writes frames to the shim; its streams are safe for
// concurrent use.
type frameWriter struct {
	mu     sync.Mutex
	w      io.Writer
	broken bool
}

func (f *frameWriter) write(k wire.Kind, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return syscall.EPIPE
	}
	// One frame at least (Exit and StdinWanted may be empty), and as many
	// as MaxPayload takes.
	for first := true; first || len(b) > 0; first = false {
		n := min(len(b), wire.MaxPayload)
		if err := wire.WriteFrame(f.w, k, b[:n]); err != nil {
			f.broken = true
			return syscall.EPIPE
		}
		b = b[n:]
	}
	return nil
}

func (f *frameWriter) exit(status int) { f.write(wire.KindExit, wire.EncodeExit(status&0xff)) }

// stream is an io.Writer of one kind of frame. A shim that has gone away
// makes writes fail with EPIPE.
func (f *frameWriter) stream(k wire.Kind) io.Writer { return &kindWriter{f: f, k: k} }

type kindWriter struct {
	f *frameWriter
	k wire.Kind
}

func (w *kindWriter) Write(b []byte) (int, error) {
	if err := w.f.write(w.k, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// BlocksOutsideSimulation: the socket may block; the process waits on it
// without its clock token.
func (w *kindWriter) BlocksOutsideSimulation() {}

// stdinReader is the shim's standard input, asked for at the first read.
type stdinReader struct {
	c      net.Conn
	out    *frameWriter
	asked  bool
	closed bool // end of input seen (or a terminal, never read)
	buf    []byte
}

func (r *stdinReader) BlocksOutsideSimulation() {}

func (r *stdinReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.closed {
			return 0, io.EOF
		}
		if !r.asked {
			r.asked = true
			if err := r.out.write(wire.KindStdinWanted, nil); err != nil {
				r.closed = true
				return 0, io.EOF
			}
		}
		f, err := wire.ReadFrame(r.c)
		if err != nil || f.Kind != wire.KindStdin {
			// A shim that went away, or sent something else: end of input.
			r.closed = true
			return 0, io.EOF
		}
		if len(f.Payload) == 0 {
			r.closed = true
			return 0, io.EOF
		}
		r.buf = f.Payload
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// udevadm is the daemon's udevadm: there is no udevd, and the daemon makes
// the /dev/mapper links itself before a command returns. `wait` returns once
// each node exists (or, with --removed, is gone), `settle` and the rest
// return 0 at once.
func (d *Daemon) udevadm(argv []string, root string, stdout, stderr io.Writer) int {
	if len(argv) < 2 {
		fmt.Fprintln(stderr, "udevadm: missing command")
		return 2
	}
	if argv[1] != "wait" {
		return 0
	}
	timeout := time.Duration(0)
	removed := false
	var nodes []string
	for i := 2; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--removed":
			removed = true
		case a == "-t" || a == "--timeout":
			if i+1 < len(argv) {
				i++
				a = "--timeout=" + argv[i]
			}
			fallthrough
		case len(a) > 10 && a[:10] == "--timeout=":
			s, err := strconv.ParseFloat(a[10:], 64)
			if err != nil || s < 0 {
				fmt.Fprintf(stderr, "udevadm: invalid timeout value '%s'\n", a[10:])
				return 1
			}
			timeout = time.Duration(s * float64(time.Second))
		case len(a) > 0 && a[0] == '-':
			// --initialized, --settle: nothing to wait for without udevd
		default:
			nodes = append(nodes, a)
		}
	}
	ctx := d.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for _, n := range nodes {
		for {
			_, err := os.Stat(path.Join(root, n))
			if exists := err == nil; exists != removed {
				break
			}
			select {
			case <-ctx.Done():
				fmt.Fprintln(stderr, "Timed out for waiting devices being initialized.")
				return 1
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return 0
}

// serveBridge answers a process running under the LD_PRELOAD bridge: its
// ioctls on /dev/mapper/control and its calls on /dev/mapper, /proc and
// /sys, each as a clock actor; the /dev/mapper links follow each change.
func (d *Daemon) serveBridge(c *net.UnixConn) {
	s := &BridgeServer{K: d.k, Ctx: d.ctx, HostView: true, Do: func(f func()) {
		d.k.Clock.Enter()
		defer d.k.Clock.Exit()
		f()
	}}
	if d.devs != nil {
		s.After = d.devs.reconcile
	}
	if err := s.Serve(c); err != nil {
		d.logf("dmsim: bridge: %v", err)
	}
}
