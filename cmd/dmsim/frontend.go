package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dmsim/dmsim/frontend"
	"github.com/dmsim/dmsim/frontend/preload"
	"github.com/dmsim/dmsim/frontend/shim"
	"github.com/dmsim/dmsim/script"
	"golang.org/x/sys/unix"
)

// The front end's subcommands: serve, shims and exec.

// DefaultStateDir is where `dmsim serve` keeps its state by default.
const DefaultStateDir = "/var/lib/dmsim"

// serveArgs are the flags serve and exec share.
type serveArgs struct {
	state  string
	disks  []script.Disk
	socket string
	noBlk  bool
}

func (a *serveArgs) flags(fs *flag.FlagSet, defaultState string) {
	fs.StringVar(&a.state, "state", defaultState, "keep disk images, the socket and the pid file in `DIR`")
	fs.Var(script.DiskFlag{Disks: &a.disks}, "disk", "a disk `NAME=SIZE` (a new image DIR/NAME.img) or NAME=PATH (an existing image); repeatable")
	fs.StringVar(&a.socket, "socket", shim.SocketPath, "where shims find the daemon")
	fs.BoolVar(&a.noBlk, "no-block-devices", false, "serve commands only: no FUSE files, loop devices or /dev/mapper links")
}

// disksFile remembers a state directory's disks, so a restart without
// --disk reopens them (as after `# reboot`).
const disksFile = "disks"

func (a *serveArgs) config(log io.Writer) (frontend.Config, error) {
	cfg := frontend.Config{StateDir: a.state, Disks: a.disks, Socket: a.socket, NoBlockDevices: a.noBlk, Log: log}
	p := filepath.Join(a.state, disksFile)
	if len(cfg.Disks) == 0 {
		f, err := os.Open(p)
		if err != nil {
			cfg.Disks = []script.Disk{{Name: "meta", Size: 64 << 20}, {Name: "data", Size: 1 << 30}}
		} else {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				script.DiskFlag{Disks: &cfg.Disks}.Set(sc.Text())
			}
			f.Close()
		}
	}
	if err := os.MkdirAll(a.state, 0o755); err != nil {
		return cfg, err
	}
	var b strings.Builder
	for _, d := range cfg.Disks {
		if d.Image != "" {
			fmt.Fprintf(&b, "%s=%s\n", d.Name, d.Image)
		} else {
			fmt.Fprintf(&b, "%s=%d\n", d.Name, d.Size)
		}
	}
	return cfg, os.WriteFile(p, []byte(b.String()), 0o644)
}

const serveUsage = "usage: dmsim serve [--state DIR] [--disk NAME=SIZE|NAME=PATH]... [--socket PATH] [--no-block-devices]"

// serveCmd is `dmsim serve`: the daemon, until SIGTERM or SIGINT.
func serveCmd(args []string, stdout, stderr io.Writer) int {
	var a serveArgs
	fs := flag.NewFlagSet("dmsim serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.flags(fs, DefaultStateDir)
	if st, done := parseFlags(fs, args, serveUsage, stdout, stderr); done {
		return st
	}
	if fs.NArg() != 0 {
		return usageError(stderr, "dmsim serve", serveUsage, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := a.config(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim serve: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := frontend.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim serve: %v\n", err)
		return 1
	}
	<-ctx.Done()
	d.Close()
	return 0
}

const shimsUsage = "usage: dmsim shims DIR"

// shimsCmd is `dmsim shims DIR`: the shims as links to one multi-call
// binary (dmsim-shim beside this binary, else this binary itself).
func shimsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, shimsUsage)
		return 2
	}
	if err := installShims(args[0]); err != nil {
		fmt.Fprintf(stderr, "dmsim shims: %v\n", err)
		return 1
	}
	return 0
}

// installShims fills dir with the shim binary and a link per command.
func installShims(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src := filepath.Join(filepath.Dir(self), "dmsim-shim")
	if _, err := os.Stat(src); err != nil {
		src = self
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, "dmsim-shim")
	if err := copyFile(src, bin); err != nil {
		return err
	}
	for _, c := range shim.Commands {
		l := filepath.Join(dir, c)
		os.Remove(l)
		if err := os.Symlink("dmsim-shim", l); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

const execUsage = "usage: dmsim exec [--state DIR] [--disk NAME=SIZE|NAME=PATH]... -- COMMAND [ARG]..."

// execInnerArg marks the re-executed `dmsim exec` inside its mount
// namespace.
const execInnerArg = "__exec-in-namespace"

// execCmd is `dmsim exec`: COMMAND runs with a daemon of its own, in a
// private mount namespace (tmpfs on /dev/mapper and /run/dmsim), with the
// shims first on PATH. It exits with COMMAND's status.
func execCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var a serveArgs
	fs := flag.NewFlagSet("dmsim exec", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.flags(fs, "")
	if st, done := parseFlags(fs, args, execUsage, stdout, stderr); done {
		return st
	}
	if fs.NArg() == 0 {
		return usageError(stderr, "dmsim exec", execUsage, fs, errors.New("no command"))
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "dmsim exec: needs root (a mount namespace, FUSE and loop devices)")
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "dmsim exec: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, append([]string{execInnerArg}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	// Ctrl-C reaches the whole process group; the inner dmsim waits for
	// its command and tears down.
	signal.Ignore(syscall.SIGINT)
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		fmt.Fprintf(stderr, "dmsim exec: %v\n", err)
		return 1
	}
	return 0
}

// execInner runs inside the new mount namespace.
func execInner(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var a serveArgs
	fs := flag.NewFlagSet("dmsim exec", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.flags(fs, "")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(stderr, execUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dmsim exec: %v\n", err)
		return 1
	}
	// Nothing mounted here propagates to the host.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fail(fmt.Errorf("private mounts: %w", err))
	}
	run, err := os.MkdirTemp("", "dmsim-exec-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(run)
	if a.state == "" {
		a.state = filepath.Join(run, "state")
	}
	for _, dir := range []string{"/dev/mapper", filepath.Dir(a.socket)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			return fail(fmt.Errorf("tmpfs on %s: %w", dir, err))
		}
	}
	// The control node devtmpfs makes when dm_mod loads (no driver behind
	// it on this kernel; tools that look for it find it).
	unix.Mknod("/dev/mapper/control", unix.S_IFCHR|0o600, int(unix.Mkdev(10, 236)))
	shims := filepath.Join(run, "bin")
	if err := installShims(shims); err != nil {
		return fail(err)
	}
	cfg, err := a.config(stderr)
	if err != nil {
		return fail(err)
	}
	d, err := frontend.Start(context.Background(), cfg)
	if err != nil {
		return fail(err)
	}
	defer d.Close()

	argv := fs.Args()
	cmd := exec.Command(argv[0], argv[1:]...)
	path := shims + ":" + os.Getenv("PATH")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PATH=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+path)
	if p, err := lookPath(argv[0], path); err == nil {
		cmd.Path = p
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return fail(err)
}

// lookPath finds a command on path (exec.LookPath uses this process's
// PATH).
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// parseFlags parses a subcommand's flags. done is true when the command
// must stop with status: 0 after -h (the usage on stdout), 2 after a bad
// flag (the error and the usage on stderr).
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (status int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return usageError(stdout, fs.Name(), usage, fs, err), true
	}
	return usageError(stderr, fs.Name(), usage, fs, err), true
}

// usageError prints err (unless it is flag.ErrHelp), the synopsis and the
// flags to w; it returns 0 for flag.ErrHelp and 2 otherwise.
func usageError(w io.Writer, name, usage string, fs *flag.FlagSet, err error) int {
	code := 0
	if !errors.Is(err, flag.ErrHelp) {
		code = 2
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
	fmt.Fprintln(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	return code
}

const preloadUsage = "usage: dmsim preload OUT.so"

// preloadCmd is `dmsim preload OUT.so`: the LD_PRELOAD bridge, compiled
// from the source this binary carries.
func preloadCmd(args []string, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, preloadUsage)
		return 2
	}
	if err := preload.Build(args[0]); err != nil {
		fmt.Fprintf(stderr, "dmsim preload: %v\n", err)
		return 1
	}
	return 0
}
