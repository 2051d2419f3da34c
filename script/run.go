package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	_ "github.com/dmsim/dmsim/busybox" // registers the busybox applets
	_ "github.com/dmsim/dmsim/dmsetup" // registers dmsetup
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/userland"
)

// BootModules are the modules the recording kernel loads at boot.
var BootModules = []string{"dm_thin_pool"}

// DefaultCommandTime is the virtual time every command line costs: the
// runner sleeps this long in virtual time before it runs the line.
//
// The recorder's guest (qemu TCG) takes real time to run each command and
// to report it, a few hundred milliseconds, so timers such as the thin
// pool's periodic commit (every second) fire between some commands, and
// which commands they fall between decides, for example, where the pool
// puts metadata blocks (the held metadata snapshot's root). A fixed cost
// per line reproduces the kernel's transcripts deterministically. The
// value was chosen by replaying every golden scenario at costs from 0 to
// 1 s (TestCommandTimeSweep; the table is in README.md, "Virtual time"):
// every cost from 105 to 585 ms gives the same result, the widest such
// range, in which every scenario the recorder recorded matches, and
// 350 ms is about its middle. (The older kernel-example fixture, recorded
// at another pace, matches too only in windows 15-25 ms wide.)
const DefaultCommandTime = 350 * time.Millisecond

// Machine is one booted kernel with its shell: what a script runs in
// between two reboots (and what the REPL drives).
type Machine struct {
	Kernel *dmsim.Kernel
	FS     *userland.SimFS

	scratch string
	env     []string
	shell   *interp.Runner

	// CommandTime is the virtual time each line costs (Exec and RunLine
	// sleep that long before they run it); Boot sets DefaultCommandTime,
	// 0 charges nothing.
	CommandTime time.Duration

	// The shell is an actor (procs.go): it holds its clock token except
	// while a command it runs in the foreground runs or while it waits
	// (`wait`, a pipeline's stages), so time passes only while commands
	// wait.
	main     *proc
	shellGID uint64 // the goroutine running the shell's lines
	procs    procs

	// Background jobs wait at a gate, without their tokens, until their
	// line is over (gated holds the tokens to take back for them).
	gateMu sync.Mutex
	gate   chan struct{}
	gated  []*sim.Token
}

// goid returns the current goroutine's id (from its stack header).
func goid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	if len(f) < 2 {
		return 0
	}
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

// DiskEnv returns the DISK_NAME=/dev/vdX variables for a script's disks.
func DiskEnv(disks []Disk) []string {
	var env []string
	for _, d := range disks {
		env = append(env, "DISK_"+d.Name+"="+d.Dev)
	}
	return env
}

// Boot starts a kernel on the disk images and a fresh shell in /tmp with
// DM_DISABLE_UDEV=1 and the extra environment (e.g. DISK_ variables).
func Boot(disks []dmsim.DiskSpec, extraEnv []string) (*Machine, error) {
	k, err := dmsim.NewKernel(dmsim.Config{DMMajor: dmsim.DMMajor, BootModules: BootModules, Disks: disks})
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	k.Log.Clear() // boot noise, as the recorder's `dmesg -c` before the first command
	scratch, err := os.MkdirTemp("", "dmsim-root-")
	if err != nil {
		k.Halt()
		return nil, err
	}
	sfs, err := userland.NewSimFS(k, scratch)
	if err != nil {
		k.Halt()
		os.RemoveAll(scratch)
		return nil, err
	}
	m := &Machine{Kernel: k, FS: sfs, scratch: scratch, CommandTime: DefaultCommandTime}
	m.env = append([]string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/",
		"TERM=linux",
		"SHELL=/bin/sh",
		"DM_DISABLE_UDEV=1",
		"UID=0", "EUID=0", "GID=0",
	}, extraEnv...)
	if err := m.newShell(); err != nil {
		m.Halt()
		return nil, err
	}
	m.initProcs()
	m.main = &proc{tok: sim.NewToken(k.Clock, nil)}
	m.main.tok.Acquire()
	return m, nil
}

// builtinMark routes the shell's echo and printf to userland's busybox
// versions (ash's builtins), whose output and errors are busybox's.
const builtinMark = "\x00dmsim-builtin"

func (m *Machine) newShell() error {
	r, err := interp.New(
		interp.Env(expand.ListEnviron(m.env...)),
		interp.StdIO(nil, io.Discard, io.Discard),
		interp.ExecHandlers(m.execMiddleware),
		interp.CallHandler(func(ctx context.Context, args []string) ([]string, error) {
			switch args[0] {
			case "echo", "printf":
				return append([]string{builtinMark}, args...), nil
			case "read":
				m.awaitReadable(interp.HandlerCtx(ctx))
			}
			return args, nil
		}),
		interp.OpenHandler(m.open),
		interp.StatHandler(m.stat),
		interp.ReadDirHandler2(func(ctx context.Context, p string) ([]fs.DirEntry, error) {
			return m.FS.ReadDir(ctx, p)
		}),
		interp.AccessHandler(func(ctx context.Context, p string, mode interp.AccessMode) error {
			_, err := m.FS.Stat(ctx, p)
			return err
		}),
	)
	if err != nil {
		return err
	}
	r.Dir = "/tmp"
	m.shell = r
	if m.main != nil {
		m.main.jobs = nil // the new shell has no children
	}
	return nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// execMiddleware runs every command through userland; nothing ever runs on
// the host.
func (m *Machine) execMiddleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		if args[0] == builtinMark {
			args = args[1:]
		} else if ok, err := m.marker(ctx, args); ok {
			return err
		}
		hc := interp.HandlerCtx(ctx)
		cmd := &command{m: m}
		stdin, stdout := m.streams(hc, cmd)
		p := &userland.Proc{
			Ctx:    ctx,
			Args:   args,
			Stdin:  stdin,
			Stdout: stdout,
			Stderr: m.outStream(hc.Stderr, cmd),
			Env: func(n string) string {
				if v := hc.Env.Get(n); v.IsSet() && v.Exported {
					return v.String()
				}
				return ""
			},
			Dir:       hc.Dir,
			FS:        m.FS,
			Kernel:    m.Kernel,
			ClockHook: cmd.hook,
		}
		if cur := m.current(); cur != nil {
			// the shell's goroutine waits for its command without its token
			p.SetToken(cur.tok)
		}
		st, sig := userland.RunStatus(p, args)
		// ash reports a foreground job killed by a signal other than SIGINT
		// and SIGPIPE. A command whose output is a pipe is not the last of
		// its pipeline, whose status the shell reports.
		if _, piped := hc.Stdout.(*os.File); sig != 0 && sig != userland.SIGINT && sig != userland.SIGPIPE && !piped {
			fmt.Fprintln(hc.Stderr, userland.SignalText(sig))
		}
		if st != 0 {
			return interp.NewExitStatus(uint8(st))
		}
		return nil
	}
}

func absPath(dir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	return path.Clean(p)
}

// open is the shell's redirection: ash's messages for failures.
func (m *Machine) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	abs := absPath(hc.Dir, p)
	f, err := m.FS.OpenFile(ctx, abs, flag, perm)
	if err == nil {
		if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			return m.stdinFile(abs, f), nil
		}
		return f, nil
	}
	create := flag&(os.O_WRONLY|os.O_RDWR) != 0
	op, text := "sh: can't open", linuxerr.Strerror(err)
	if create {
		op = "sh: can't create"
	}
	switch linuxerr.ToErrno(err) {
	case linuxerr.ENOENT, linuxerr.ENOTDIR:
		text = "no such file"
		if create {
			text = "nonexistent directory"
		}
	}
	return nil, &os.PathError{Op: op, Path: p, Err: errors.New(text)}
}

// stdinFile is what a file opened for reading by a redirection (`<`) is
// given to the shell as. The interpreter copies what is not an *os.File
// through a pipe, in a goroutine of its own that holds no clock token, so
// the reader could not tell that it only waits for the copy (procs.go). So
// a scratch file is opened as the host file it is, and the contents of a
// /sys or /proc attribute or of /dev/null (read once at open, as sysfs
// does) are given as an unlinked host copy; block devices and the endless
// character devices are left to the interpreter.
func (m *Machine) stdinFile(abs string, f userland.File) io.ReadWriteCloser {
	if host := m.FS.HostPath(abs); host != "" {
		if hf, err := os.Open(host); err == nil {
			f.Close()
			return hf
		}
		return f
	}
	if !(abs == "/dev/null" || strings.HasPrefix(abs, "/sys/") || strings.HasPrefix(abs, "/proc/")) {
		return f
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return f
	}
	tmp, err := os.CreateTemp("", "dmsim-stdin-")
	if err != nil {
		return f
	}
	os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return f
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return f
	}
	f.Close()
	return tmp
}

func (m *Machine) stat(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	return m.FS.Stat(ctx, name)
}

// lockedBuffer collects a command's output; pipeline stages write
// concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// Exec runs one logical line in the shell with the given output streams
// and returns its exit status. Background jobs it starts run before Exec
// returns, until they block.
func (m *Machine) Exec(ctx context.Context, line string, stdout, stderr io.Writer) int {
	m.spendCommandTime(ctx)
	st, release := m.exec(ctx, line, stdout, stderr)
	release()
	return st
}

// spendCommandTime is the cost of a line: the shell sleeps CommandTime in
// virtual time. It sleeps as a clock actor, so time passes only once every
// other actor (a background job, a queued work item) waits, and the timers
// due meanwhile (the pool's periodic commit) fire in order. With no cost it
// still waits until every other actor waits, without moving time.
func (m *Machine) spendCommandTime(ctx context.Context) {
	m.Kernel.Clock.Sleep(ctx, m.CommandTime) // fails only when halted or cancelled
}

// exec runs a line; release lets its background jobs go (they wait at
// their gate until then) and lets them run until they block.
func (m *Machine) exec(ctx context.Context, line string, stdout, stderr io.Writer) (int, func()) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		fmt.Fprintf(stderr, "sh: eval: line 0: syntax error: %s\n", syntaxMessage(err))
		return 2, func() {}
	}
	m.rewrite(file)
	m.gateMu.Lock()
	m.gate = make(chan struct{})
	m.gateMu.Unlock()
	interp.StdIO(nil, stdout, stderr)(m.shell)
	if id := goid(); id != m.shellGID {
		m.procs.mu.Lock()
		delete(m.procs.byGID, m.shellGID)
		m.procs.byGID[id] = m.main
		m.procs.mu.Unlock()
		m.shellGID = id
	}
	err = m.shell.Run(ctx, file)
	status := 0
	if st, ok := interp.IsExitStatus(err); ok {
		status = int(st)
	} else if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		status = 2
	}
	if m.shell.Exited() {
		// `exit` ends the shell; the next line gets a fresh one.
		m.newShell()
	}
	return status, func() {
		m.openGate()
		// The jobs run until they wait (a job not at its gate yet holds
		// its token all the same): the shell sleeps for no time, and the
		// clock wakes it once no other actor can run.
		m.Kernel.Clock.Sleep(ctx, 0)
	}
}

// syntaxMessage words a parse error as ash would where it can.
func syntaxMessage(err error) string {
	msg := err.Error()
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		msg = pe.Text
	}
	switch {
	case strings.Contains(msg, "without closing quote"):
		return "unterminated quoted string"
	case strings.HasPrefix(msg, "reached EOF"), strings.Contains(msg, "must be followed by"):
		return "unexpected end of file"
	}
	return msg
}

// RunLine runs one logical line and collects its output and the kernel log
// lines it caused. Background jobs it started are held until their line's
// kernel log is collected (the recorder reads the log right after each
// line), then run until they block; what they log goes with the next line.
func (m *Machine) RunLine(ctx context.Context, line string) CmdResult {
	var out, errb lockedBuffer
	m.spendCommandTime(ctx)
	st, release := m.exec(ctx, line, &out, &errb)
	kmsg := m.Kernel.Log.ReadClear()
	release()
	return CmdResult{Stdout: out.Bytes(), Stderr: errb.Bytes(), Kmsg: kmsg, Status: st}
}

// Halt powers the machine off with no teardown and drops its scratch files.
func (m *Machine) Halt() {
	if m.Kernel != nil {
		m.Kernel.Halt()
	}
	if m.scratch != "" {
		os.RemoveAll(m.scratch)
	}
}

// Options control a script run.
type Options struct {
	// KeepDir keeps the disk images there as NAME.img; otherwise they live
	// in a temporary directory removed at the end.
	KeepDir string
	// Disks attaches existing images (used in place, not zeroed) by disk name.
	Disks map[string]string
	// Version is printed in the `# env: dmsim` line.
	Version string
	// Out receives the transcript as it is produced (may be nil).
	Out io.Writer
	// CommandTime is the virtual time each command line costs (see
	// DefaultCommandTime, which 0 selects); a negative value charges none.
	CommandTime time.Duration
}

// commandTime is the per-line cost the options ask for.
func (o Options) commandTime() time.Duration {
	switch {
	case o.CommandTime == 0:
		return DefaultCommandTime
	case o.CommandTime < 0:
		return 0
	}
	return o.CommandTime
}

// Result is a finished run.
type Result struct {
	Transcript string
	// Images maps disk names to their image files (gone after Run returns
	// unless kept or attached).
	Images map[string]string
}

// Run runs a parsed script and returns its transcript.
func Run(ctx context.Context, s *Script, o Options) (*Result, error) {
	for n := range o.Disks {
		found := false
		for _, d := range s.Disks {
			found = found || d.Name == n
		}
		if !found {
			return nil, fmt.Errorf("%s: --disk %s: the script declares no such disk", s.Name, n)
		}
	}
	imgDir := o.KeepDir
	if imgDir == "" {
		tmp, err := os.MkdirTemp("", "dmsim-images-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		imgDir = tmp
	} else if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Images: map[string]string{}}
	var specs []dmsim.DiskSpec
	for _, d := range s.Disks {
		p, attached := o.Disks[d.Name]
		if !attached {
			p = filepath.Join(imgDir, d.Name+".img")
			os.Remove(p)
			f, err := os.Create(p)
			if err == nil {
				err = f.Truncate(d.Size)
				f.Close()
			}
			if err != nil {
				return nil, err
			}
		}
		res.Images[d.Name] = p
		specs = append(specs, dmsim.DiskSpec{Path: p, Size: d.Size, NoDiscard: !d.Discard})
	}

	var tr strings.Builder
	out := io.Writer(&tr)
	if o.Out != nil {
		out = io.MultiWriter(&tr, o.Out)
	}
	version := o.Version
	if version == "" {
		version = "devel"
	}
	fmt.Fprintf(out, "# env: dmsim %s\n", version)
	for i, d := range s.Disks {
		disc := "discard"
		if !d.Discard {
			disc = "nodiscard"
		}
		fmt.Fprintf(out, "# env: disk %s = %s %s (%d sectors, %d:%d, %s)\n", d.Name, d.Dev,
			sizeString(d.Size), d.Size/dmsim.SectorSize, dmsim.VirtioMajor, 16*i, disc)
	}

	env := DiskEnv(s.Disks)
	m, err := Boot(specs, env)
	if err != nil {
		return nil, err
	}
	m.CommandTime = o.commandTime()
	defer func() { m.Halt() }()
	for _, it := range s.Items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch it.Kind {
		case Comment:
			fmt.Fprintln(out, it.Text)
		case Reboot:
			fmt.Fprintln(out, it.Text)
			m.Halt()
			if m, err = Boot(specs, env); err != nil {
				return nil, err
			}
			m.CommandTime = o.commandTime()
		case Command:
			FormatCommand(out, it, m.RunLine(ctx, it.Cmd))
		}
	}
	res.Transcript = tr.String()
	return res, nil
}

// RunFile parses and runs a script file.
func RunFile(ctx context.Context, file string, o Options) (*Result, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := Parse(strings.TrimSuffix(filepath.Base(file), ".sh"), src)
	if err != nil {
		return nil, err
	}
	return Run(ctx, s, o)
}
