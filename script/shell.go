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
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

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

// shell is one boot of a Machine: the kernel, the file system processes
// see and the shell (ash) with its processes. A reboot makes a new one;
// the goroutines of a halted boot's jobs, which may still be ending, keep
// theirs.
type shell struct {
	kernel  *dmsim.Kernel
	fs      *userland.SimFS
	scratch string // host directory behind the file system
	env     []string
	runner  *interp.Runner

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

	// stmtCPU is the cost of the statements each interpreter ran and
	// has not paid for yet (chargeStatement).
	stmtMu  sync.Mutex
	stmtCPU map[unsafe.Pointer]time.Duration
}

// bootShell starts a kernel on the disk images and a fresh shell in /tmp
// with DM_DISABLE_UDEV=1, DISK_NAME=/dev/vdX for each disk names names (in
// order; there may be fewer names than disks) and the extra environment.
func bootShell(disks []dmsim.DiskSpec, names, extraEnv []string, scratchIn string) (*shell, error) {
	k, err := dmsim.NewKernel(dmsim.Config{DMMajor: dmsim.DMMajor, BootModules: BootModules, Disks: disks})
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	k.Log.Clear() // boot noise, as the recorder's `dmesg -c` before the first command
	scratch, err := os.MkdirTemp(scratchIn, "dmsim-root-")
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
	sh := &shell{kernel: k, fs: sfs, scratch: scratch}
	sh.env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/",
		"TERM=linux",
		"SHELL=/bin/sh",
		"DM_DISABLE_UDEV=1",
		"UID=0", "EUID=0", "GID=0",
	}
	for i, d := range k.Disks() {
		if i < len(names) {
			sh.env = append(sh.env, "DISK_"+names[i]+"=/dev/"+d.Name())
		}
	}
	sh.env = append(sh.env, extraEnv...)
	if err := sh.newShell(); err != nil {
		sh.halt()
		return nil, err
	}
	sh.initProcs()
	sh.main = &proc{tok: sim.NewToken(k.Clock, nil)}
	sh.main.tok.Acquire()
	return sh, nil
}

// halt powers the kernel off with no teardown and drops the scratch files.
func (sh *shell) halt() {
	sh.kernel.Halt()
	os.RemoveAll(sh.scratch)
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

// builtinMark routes the shell's echo and printf to userland's busybox
// versions (ash's builtins), whose output and errors are busybox's.
const builtinMark = "\x00dmsim-builtin"

func (sh *shell) newShell() error {
	r, err := interp.New(
		interp.Env(expand.ListEnviron(sh.env...)),
		interp.StdIO(nil, io.Discard, io.Discard),
		interp.ExecHandlers(sh.execMiddleware),
		interp.CallHandler(func(ctx context.Context, args []string) ([]string, error) {
			if err := sh.chargeStatement(ctx, args[0]); err != nil {
				return nil, err
			}
			switch args[0] {
			case "echo", "printf":
				return append([]string{builtinMark}, args...), nil
			case "read":
				sh.awaitReadable(interp.HandlerCtx(ctx))
			}
			return args, nil
		}),
		interp.OpenHandler(sh.open),
		interp.StatHandler(sh.stat),
		interp.ReadDirHandler2(func(ctx context.Context, p string) ([]fs.DirEntry, error) {
			return sh.fs.ReadDir(ctx, p)
		}),
		interp.AccessHandler(func(ctx context.Context, p string, mode interp.AccessMode) error {
			_, err := sh.fs.Stat(ctx, p)
			return err
		}),
	)
	if err != nil {
		return err
	}
	r.Dir = "/tmp"
	sh.runner = r
	if sh.main != nil {
		sh.main.jobs = nil // the new shell has no children
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

// chargeStatement bills a simple command the shell runs (a builtin, a
// function call, or the fork and exec of a command) to the shell's
// goroutine that runs it (userland.StatementCost), so that a loop of
// builtins lets time pass. The runner's markers cost nothing. The cost
// adds up per interpreter (a subshell, a pipeline stage and a job have
// their own, and run in one goroutine); once it reaches a quantum the
// goroutine's token pays it (finding the goroutine's token takes a stack
// trace, too slow for every statement). A line starts with none.
func (sh *shell) chargeStatement(ctx context.Context, name string) error {
	if strings.HasPrefix(name, "\x00") {
		return nil
	}
	key := runnerOf(interp.HandlerCtx(ctx))
	sh.stmtMu.Lock()
	d := sh.stmtCPU[key] + userland.StatementCost
	pay := d >= sim.CPUQuantum
	if pay {
		delete(sh.stmtCPU, key)
	} else {
		sh.stmtCPU[key] = d
	}
	sh.stmtMu.Unlock()
	if !pay {
		return nil
	}
	if cur := sh.current(); cur != nil {
		if err := cur.tok.Charge(ctx, d); errors.Is(err, sim.ErrHalted) {
			return err // the machine is off: the shell stops
		}
	}
	return nil
}

// runnerOf identifies the interpreter a handler runs for (the
// interpreter does not export it; nil if it cannot be told). The pointer
// keeps the interpreter alive while it is a key, so it is never reused.
func runnerOf(hc interp.HandlerContext) unsafe.Pointer {
	f := reflect.ValueOf(&hc).Elem().FieldByName("runner")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil
	}
	return f.UnsafePointer()
}

// execMiddleware runs every command through userland; nothing ever runs on
// the host.
func (sh *shell) execMiddleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		if args[0] == builtinMark {
			args = args[1:]
		} else if ok, err := sh.marker(ctx, args); ok {
			return err
		}
		hc := interp.HandlerCtx(ctx)
		cmd := &command{sh: sh}
		stdin, stdout := sh.streams(hc, cmd)
		p := &userland.Proc{
			Ctx:    ctx,
			Args:   args,
			Stdin:  stdin,
			Stdout: stdout,
			Stderr: sh.outStream(hc.Stderr, cmd),
			Env: func(n string) string {
				if v := hc.Env.Get(n); v.IsSet() && v.Exported {
					return v.String()
				}
				return ""
			},
			Dir:       hc.Dir,
			FS:        sh.fs,
			Kernel:    sh.kernel,
			ClockHook: cmd.hook,
		}
		if cur := sh.current(); cur != nil {
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
			return interp.ExitStatus(uint8(st))
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
func (sh *shell) open(ctx context.Context, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	abs := absPath(hc.Dir, p)
	f, err := sh.fs.OpenFile(ctx, abs, flag, perm)
	if err == nil {
		if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			return sh.stdinFile(abs, f), nil
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
func (sh *shell) stdinFile(abs string, f userland.File) io.ReadWriteCloser {
	if host := sh.fs.HostPath(abs); host != "" {
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

func (sh *shell) stat(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	if !follow {
		return sh.fs.Lstat(ctx, name) // test -L, -h
	}
	return sh.fs.Stat(ctx, name)
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

// exec runs a line; release lets its background jobs go (they wait at
// their gate until then) and lets them run until they block.
func (sh *shell) exec(ctx context.Context, line string, stdout, stderr io.Writer) (int, func()) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		fmt.Fprintf(stderr, "sh: eval: line 0: syntax error: %s\n", syntaxMessage(err))
		return 2, func() {}
	}
	sh.rewrite(file)
	sh.stmtMu.Lock()
	sh.stmtCPU = map[unsafe.Pointer]time.Duration{} // the line's own cost covers what the last one left
	sh.stmtMu.Unlock()
	sh.gateMu.Lock()
	sh.gate = make(chan struct{})
	sh.gateMu.Unlock()
	interp.StdIO(nil, stdout, stderr)(sh.runner)
	if id := goid(); id != sh.shellGID {
		sh.procs.mu.Lock()
		delete(sh.procs.byGID, sh.shellGID)
		sh.procs.byGID[id] = sh.main
		sh.procs.mu.Unlock()
		sh.shellGID = id
	}
	err = sh.runner.Run(ctx, file)
	status := 0
	var st interp.ExitStatus
	if errors.As(err, &st) {
		status = int(st)
	} else if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		status = 2
	}
	if sh.runner.Exited() {
		// `exit` ends the shell; the next line gets a fresh one.
		sh.newShell()
	}
	return status, func() {
		sh.openGate()
		// The jobs run until they wait (a job not at its gate yet holds
		// its token all the same): the shell sleeps for no time, and the
		// clock wakes it once no other actor can run.
		sh.kernel.Clock.Sleep(ctx, 0)
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
