// Package userland is the process model of the emulated machine's
// userspace: the process every command runs as (Proc: arguments, standard
// streams, environment, clock token, open files, signals), the file
// namespace it sees (SimFS inside the simulation, HostFS on the host, block
// device nodes, pipes), and the registry through which other packages
// (busybox's applets, dmsetup, the thin_* tools) add commands from init().
//
// A command is a Go function that gets a Proc (its arguments, standard
// streams, environment, file system and, inside the simulation, the kernel)
// and returns an exit status. Commands never run anything on the host: files
// under /dev, /sys and /proc go to the emulated kernel and every other path
// lives in a per-run scratch directory.
package userland

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// Proc is the process a command runs as.
type Proc struct {
	// Ctx ends when the process is killed (a `timeout` expiring: SIGTERM).
	// Waits a real process could be interrupted in (sleep, dmsetup wait,
	// pipe reads) end with it; I/O to block devices is uninterruptible, as
	// in the kernel, and is not cut short.
	Ctx context.Context
	// Args is argv; Args[0] is the command name.
	Args   []string
	Stdin  io.Reader // never nil
	Stdout io.Writer
	Stderr io.Writer
	// Env looks up an environment variable.
	Env func(name string) string
	// Dir is the working directory (a path of the emulated machine).
	Dir string
	// FS opens files. Inside the simulation it is a SimFS; `dmsim thin_dump
	// IMAGE` on the host uses HostFS.
	FS FS
	// Kernel is the emulated kernel, nil when a command runs on the host.
	Kernel *dmsim.Kernel
	// KillSignal is the signal that ending Ctx stands for (SIGTERM when 0).
	KillSignal int
	// ClockHook, if set, sees every process acquiring (+1) and releasing
	// (-1) its clock token (the script runner uses it to know when nothing
	// can run).
	ClockHook func(delta int)

	tok   *sim.Token
	files *openFiles // what OpenFile opened, closed when the process exits
	dies  bool       // run by RunStatus: a kill unwinds it at a system call
}

// openFiles is a process's table of open files. The kernel closes every
// file a process still has open when it exits (do_exit, close_files), so a
// command that returns or dies (killed, or SIGPIPE) without closing a
// block device does not keep it open: RunStatus closes what is left.
type openFiles struct {
	mu    sync.Mutex
	files []File
}

func (o *openFiles) add(f File) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.files = append(o.files, f)
	o.mu.Unlock()
}

// closeAll closes every file, in the order they were opened. Closing a
// file the command closed already does nothing (its Close just fails).
func (o *openFiles) closeAll() {
	o.mu.Lock()
	files := o.files
	o.files = nil
	o.mu.Unlock()
	for _, f := range files {
		f.Close()
	}
}

// KilledStatus returns the status of a process that died of its kill signal;
// commands return it when they notice Killed().
func (p *Proc) KilledStatus() int {
	if p.KillSignal != 0 {
		return Signaled(p.KillSignal)
	}
	return Signaled(SIGTERM)
}

// Signals.
const (
	SIGINT  = 2
	SIGKILL = 9
	SIGPIPE = 13
	SIGTERM = 15
)

// signalBase marks a status as "killed by signal (status - signalBase)".
const signalBase = 1 << 16

// Signaled is the status a command returns when it dies of a signal; Run
// turns it into 128+sig, RunStatus also reports the signal.
func Signaled(sig int) int { return signalBase + sig }

// signals is the one table of the signals a process can be sent here:
// number, name (signal(7), without "SIG") and strsignal(3) text.
var signals = []struct {
	num        int
	name, text string
}{
	{1, "HUP", "Hangup"}, {2, "INT", "Interrupt"}, {3, "QUIT", "Quit"}, {6, "ABRT", "Aborted"},
	{9, "KILL", "Killed"}, {10, "USR1", "User defined signal 1"}, {12, "USR2", "User defined signal 2"},
	{13, "PIPE", "Broken pipe"}, {14, "ALRM", "Alarm clock"}, {15, "TERM", "Terminated"},
}

// SignalText is strsignal(sig), as the shell reports a job killed by it.
func SignalText(sig int) string {
	for _, s := range signals {
		if s.num == sig {
			return s.text
		}
	}
	return fmt.Sprintf("Unknown signal %d", sig)
}

// SignalNumber is busybox's get_signum: a number from 0 to 64, or a name
// with or without "SIG", in any case.
func SignalNumber(name string) (int, bool) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < 65 {
		return n, true
	}
	name = strings.TrimPrefix(strings.ToUpper(name), "SIG")
	for _, s := range signals {
		if s.name == name {
			return s.num, true
		}
	}
	return 0, false
}

// Getenv returns an environment variable ("" if unset or no environment).
func (p *Proc) Getenv(name string) string {
	if p.Env == nil {
		return ""
	}
	return p.Env(name)
}

// Killed reports whether the process received its termination signal.
func (p *Proc) Killed() bool { return p.Ctx != nil && p.Ctx.Err() != nil }

// Abs makes a path absolute against the working directory.
func (p *Proc) Abs(name string) string {
	if name == "" {
		return ""
	}
	if !path.IsAbs(name) {
		dir := p.Dir
		if dir == "" {
			dir = "/"
		}
		name = path.Join(dir, name)
	}
	return path.Clean(name)
}

// Open opens a file for reading as the process sees it: "-" and /dev/stdin
// are standard input.
func (p *Proc) Open(name string) (File, error) {
	return p.OpenFile(name, O_RDONLY, 0)
}

// OpenFile opens a file with os.OpenFile-style flags (plus O_DIRECT).
func (p *Proc) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	switch name {
	case "/dev/stdin":
		return &streamFile{name: name, r: p.Stdin}, nil
	case "/dev/stdout":
		return &streamFile{name: name, w: p.Stdout}, nil
	case "/dev/stderr":
		return &streamFile{name: name, w: p.Stderr}, nil
	}
	if p.FS == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: linuxerr.ENOENT}
	}
	f, err := p.FS.OpenFile(p.ctx(), p.Abs(name), flag, perm)
	if err == nil {
		p.files.add(f)
	}
	return f, err
}

// Stat returns a file's information.
func (p *Proc) Stat(name string) (fs.FileInfo, error) {
	if p.FS == nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: linuxerr.ENOENT}
	}
	return p.FS.Stat(p.ctx(), p.Abs(name))
}

// Errorf prints "NAME: text" on standard error, as busybox's bb_error_msg.
func (p *Proc) Errorf(format string, args ...any) {
	fmt.Fprintf(p.Stderr, "%s: %s\n", p.Args[0], fmt.Sprintf(format, args...))
}

// Command is a registered command.
type Command struct {
	Name string
	// Run executes the command and returns its exit status.
	Run func(p *Proc) int
	// Host means the command also makes sense outside the simulation, on the
	// host's files (`dmsim thin_dump IMAGE`): cmd/dmsim offers it as a
	// subcommand.
	Host bool
	// Summary is one line for `help` and the REPL.
	Summary string
	// Options lists the command's options (and, for dmsetup, its verbs) for
	// tab completion.
	Options []string
}

var (
	regMu    sync.RWMutex
	registry = map[string]*Command{}
)

// Register adds a command. Packages call it from init(); registering a name
// twice panics.
func Register(c *Command) {
	regMu.Lock()
	defer regMu.Unlock()
	if c.Name == "" || c.Run == nil {
		panic("userland: Register needs a name and a Run function")
	}
	if _, dup := registry[c.Name]; dup {
		panic("userland: command registered twice: " + c.Name)
	}
	registry[c.Name] = c
}

// Lookup returns a registered command.
func Lookup(name string) (*Command, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[name]
	return c, ok
}

// Commands returns every registered command, sorted by name.
func Commands() []*Command {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]*Command, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ExitNotSupported is the status of a command dmsim does not have (the
// shell's "not found").
const ExitNotSupported = 127

// Run runs argv as a command in the context of parent (its streams,
// environment, file system and kernel), the way a shell or `timeout` would.
// Unknown commands print "dmsim: NAME: command not supported" and give 127.
func Run(parent *Proc, argv []string) int {
	st, _ := RunStatus(parent, argv)
	return st
}

// RunStatus is Run that also reports the signal the command died of (0 if
// it exited).
func RunStatus(parent *Proc, argv []string) (status, signal int) {
	if len(argv) == 0 {
		return 0, 0
	}
	c, ok := Lookup(argv[0])
	if !ok {
		fmt.Fprintf(parent.Stderr, "dmsim: %s: command not supported\n", argv[0])
		return ExitNotSupported, 0
	}
	child := *parent
	child.Args = argv
	child.files = &openFiles{}
	if child.Stdin == nil {
		child.Stdin = strings.NewReader("")
	}
	if child.Ctx == nil {
		child.Ctx = context.Background()
	}
	if parent.Kernel != nil {
		// The child is a process of its own with its own clock token; the
		// parent waits for it without its token.
		child.tok = sim.NewToken(parent.Kernel.Clock, parent.ClockHook)
		child.dies = true
		c := cpu{ctx: child.Ctx, tok: child.tok, dies: true}
		child.Stdin = cpuReader{childReader(child.Stdin, child.tok), c}
		if child.Stdout != nil {
			child.Stdout = cpuWriter{childWriter(child.Stdout, child.tok), c}
		}
		if child.Stderr != nil {
			child.Stderr = cpuWriter{childWriter(child.Stderr, child.tok), c}
		}
		// hand over without letting the token count drop to zero
		child.tok.Acquire()
		parent.tok.Release()
		defer func() {
			parent.tok.Acquire()
			child.tok.Release()
		}()
	}
	if _, wrapped := child.Stdout.(*pipeWriter); !wrapped && child.Stdout != nil {
		child.Stdout = &pipeWriter{w: child.Stdout}
	}
	st := runSafely(c, &child)
	child.files.closeAll() // the process exits (as the child, with its token)
	if st >= signalBase {
		return 128 + st - signalBase, st - signalBase
	}
	return st, 0
}

// childReader is a parent's standard input as the child with token t
// reads it, without the parent's wrappers: a pipe is read without the
// token.
func childReader(in io.Reader, t *sim.Token) io.Reader {
	r := rawStream(in).(io.Reader)
	if isPipe(r) {
		return tokenReader{r, t}
	}
	return r
}

// childWriter is childReader for an output stream.
func childWriter(out io.Writer, t *sim.Token) io.Writer {
	w := rawStream(out).(io.Writer)
	if isPipe(w) {
		return tokenWriter{w, t}
	}
	return w
}

// sigPipe unwinds a command that wrote to a pipe nobody reads: the process
// dies of SIGPIPE silently (status 128+13), as it would on Linux.
type sigPipe struct{}

// pipeWriter turns EPIPE on standard output into SIGPIPE.
type pipeWriter struct{ w io.Writer }

func (p *pipeWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if err != nil && linuxerr.ToErrno(err) == linuxerr.EPIPE {
		panic(sigPipe{})
	}
	return n, err
}

func runSafely(c *Command, p *Proc) (status int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(sigPipe); ok {
				status = Signaled(SIGPIPE)
				return
			}
			if f, ok := r.(fatalSignal); ok {
				status = p.KilledStatus()
				if f.sig != 0 {
					status = Signaled(f.sig)
				}
				return
			}
			panic(r)
		}
	}()
	return c.Run(p)
}
