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
	"sync/atomic"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	_ "github.com/dmsim/dmsim/dmsetup" // registers dmsetup
	"github.com/dmsim/dmsim/dmsim"
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
// every cost from 105 to 585 ms gives the same, best stable result (the
// widest such range), and 350 ms is about its middle.
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

	// activity counts processes acquiring their clock token (starting to
	// run), to see whether anything ran.
	activity atomic.Int64

	// The shell is an actor: it holds its clock token except while a
	// command it runs in the foreground runs, or while it waits for
	// background jobs. So time passes only while commands wait, and a
	// waiter a background job left behind is no deadlock while the script
	// has more to say.
	shellTok *userland.Token
	shellGID uint64 // the goroutine running the shell's lines

	// Background jobs wait at a gate until their line is over.
	gateMu      sync.Mutex
	gate        chan struct{}
	gateArrived int
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

// Commands the runner puts around `wait`: the shell gives its token up
// while it waits for background jobs.
const (
	waitBegin = "\x00dmsim-wait-begin"
	waitEnd   = "\x00dmsim-wait-end"
)

func litWord(s string) *syntax.Word {
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}}
}

// bracketWaits puts waitBegin and waitEnd around every `wait`.
func bracketWaits(f *syntax.File) {
	syntax.Walk(f, func(node syntax.Node) bool {
		st, ok := node.(*syntax.Stmt)
		if !ok {
			return true
		}
		call, ok := st.Cmd.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 || call.Args[0].Lit() != "wait" {
			return true
		}
		inner := &syntax.Stmt{Cmd: call, Position: st.Position}
		st.Cmd = &syntax.Block{Stmts: []*syntax.Stmt{
			{Cmd: &syntax.CallExpr{Args: []*syntax.Word{litWord(waitBegin)}}},
			inner,
			{Cmd: &syntax.CallExpr{Args: []*syntax.Word{litWord(waitEnd)}}},
		}}
		return false
	})
}

// clockHook tracks the processes that can run.
func (m *Machine) clockHook(delta int) {
	if delta > 0 {
		m.activity.Add(1)
	}
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
	m.shellTok = userland.NewToken(k.Clock)
	m.shellTok.Acquire()
	return m, nil
}

// gateCmd is the first command of every background job: it waits until
// the line that started the job is over.
const gateCmd = "\x00dmsim-bg-gate"

// gateBackground puts the gate in front of each background job of a line
// and returns how many there are.
func gateBackground(f *syntax.File) int {
	n := 0
	syntax.Walk(f, func(node syntax.Node) bool {
		st, ok := node.(*syntax.Stmt)
		if !ok || !(st.Background || st.Disown) {
			return true
		}
		inner := &syntax.Stmt{Cmd: st.Cmd, Negated: st.Negated, Position: st.Position}
		gate := &syntax.Stmt{Cmd: &syntax.CallExpr{Args: []*syntax.Word{
			{Parts: []syntax.WordPart{&syntax.Lit{Value: gateCmd}}}}}}
		st.Cmd = &syntax.Block{Stmts: []*syntax.Stmt{gate, inner}}
		st.Negated = false
		n++
		return false
	})
	return n
}

// waitGate is the gate command.
func (m *Machine) waitGate() {
	m.gateMu.Lock()
	g := m.gate
	m.gateArrived++
	m.gateMu.Unlock()
	if g != nil {
		<-g
	}
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
		name := args[0]
		if name == builtinMark {
			args = args[1:]
		}
		if name == gateCmd {
			m.waitGate()
			return nil
		}
		inShell := goid() == m.shellGID
		switch name {
		case waitBegin:
			if inShell {
				m.shellTok.Release()
			}
			return nil
		case waitEnd:
			if inShell {
				m.shellTok.Acquire()
			}
			if st := interp.HandlerCtx(ctx).LastExitStatus; st != 0 {
				return interp.NewExitStatus(uint8(st))
			}
			return nil
		}
		hc := interp.HandlerCtx(ctx)
		var stdin io.Reader = strings.NewReader("")
		if !isNil(hc.Stdin) {
			stdin = hc.Stdin
		}
		p := &userland.Proc{
			Ctx:    ctx,
			Args:   args,
			Stdin:  stdin,
			Stdout: hc.Stdout,
			Stderr: hc.Stderr,
			Env: func(n string) string {
				if v := hc.Env.Get(n); v.IsSet() && v.Exported {
					return v.String()
				}
				return ""
			},
			Dir:       hc.Dir,
			FS:        m.FS,
			Kernel:    m.Kernel,
			ClockHook: m.clockHook,
		}
		if inShell {
			p.SetToken(m.shellTok) // a foreground command: the shell waits for it
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
	f, err := m.FS.OpenFile(ctx, absPath(hc.Dir, p), flag, perm)
	if err == nil {
		return f, nil
	}
	create := flag&(os.O_WRONLY|os.O_RDWR) != 0
	op, text := "sh: can't open", userland.Strerror(err)
	if create {
		op = "sh: can't create"
	}
	switch userland.Errno(err) {
	case dmsim.ENOENT, dmsim.ENOTDIR:
		text = "no such file"
		if create {
			text = "nonexistent directory"
		}
	}
	return nil, &os.PathError{Op: op, Path: p, Err: errors.New(text)}
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
// due meanwhile (the pool's periodic commit) fire in order.
func (m *Machine) spendCommandTime(ctx context.Context) {
	if m.CommandTime > 0 {
		m.Kernel.Clock.Sleep(ctx, m.CommandTime) // fails only when halted or cancelled
	}
}

// exec runs a line; release lets its background jobs go (they wait at
// their gate until then) and lets them run until they block.
func (m *Machine) exec(ctx context.Context, line string, stdout, stderr io.Writer) (int, func()) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		fmt.Fprintf(stderr, "sh: eval: line 0: syntax error: %s\n", syntaxMessage(err))
		return 2, func() {}
	}
	jobs := gateBackground(file)
	bracketWaits(file)
	gate := make(chan struct{})
	m.gateMu.Lock()
	m.gate, m.gateArrived = gate, 0
	m.gateMu.Unlock()
	interp.StdIO(nil, stdout, stderr)(m.shell)
	m.shellGID = goid()
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
		// every job reaches its gate before any is let go
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			m.gateMu.Lock()
			n := m.gateArrived
			m.gateMu.Unlock()
			if n >= jobs {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		m.gateMu.Lock()
		close(gate)
		m.gate = nil
		arrived := m.gateArrived
		m.gateMu.Unlock()
		if jobs > 0 || arrived > 0 {
			m.settle()
		}
	}
}

// settle lets the background jobs a line started run until they block: on
// the real machine they run at once, so the next command (a sleep, say)
// must not let virtual time pass before they got as far as they can. The
// shell, holding its token, sleeps for no time: the clock wakes it only
// when every other actor waits, without moving time. As a process can
// hand work to another through a pipe at the very moment both are
// between their waits, settle also wants a short quiet period (in real
// time) with no process starting to run.
func (m *Machine) settle() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		before := m.activity.Load()
		if err := m.Kernel.Clock.Sleep(context.Background(), 0); err != nil {
			return // halted
		}
		if m.activity.Load() != before {
			continue
		}
		time.Sleep(5 * time.Millisecond)
		if m.activity.Load() == before {
			return
		}
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
