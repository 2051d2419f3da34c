// Command run-containerd runs containerd v2.3.4's devmapper tests, unmodified,
// as root under `dmsim exec`, and prints one line per test with its pass count.
//
//	go run ./cmd/run-containerd -dmsim PATH [-tests T1,T2] [-v] [-keep] [-timeout D] [-parallel N] [-rebuild]
//	go run ./cmd/run-containerd -no-dmsim [...]
//
// It builds the two test binaries with `go test -c` into .cache/bin (once;
// -rebuild forces it), then runs each test in its own `dmsim exec`, so each
// gets a fresh daemon and the fixed names containerd uses (test-pool) never
// collide with a previous run's leftovers. Each run has a private TMPDIR;
// afterwards the loop devices whose backing file lies under it are detached,
// and no other. -no-dmsim runs the tests in `unshare -m` with a tmpfs on
// /dev/mapper and whatever dmsetup is on PATH instead: the baseline (on a
// kernel without device-mapper every test fails with ENODEV).
//
// The output of each test is in .cache/logs/TEST.log. It exits 1 if any test
// failed, 2 on a usage or setup error.
package main

import (
	"bytes"
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
	"time"

	"github.com/dmsim/dmsim/consumers/containerd/internal/gotestv"
	"github.com/dmsim/dmsim/consumers/containerd/internal/loopdev"
)

const (
	modulePath    = "github.com/dmsim/dmsim/consumers/containerd"
	containerdPkg = "github.com/containerd/containerd/v2/plugins/snapshots/devmapper"
)

// binary is one containerd test binary, built with `go test -c`.
type binary struct {
	name string // file name under .cache/bin
	pkg  string
}

var (
	dmsetupBin   = binary{"dmsetup.test", containerdPkg + "/dmsetup"}
	devmapperBin = binary{"devmapper.test", containerdPkg}
)

// suite lists the tests issue 9 names, with the number of subtests each has
// in v2.3.4 (so a run that dies early still reports "N of 12").
var suite = []struct {
	test     string
	bin      binary
	subtests int
}{
	{"TestDMSetup", dmsetupBin, 12},
	{"TestSnapshotterSuite", devmapperBin, 22}, // 21 parallel from core/snapshots/testsuite, then DevMapperUsage
	{"TestPoolDevice", devmapperBin, 6},
	{"TestMultipleXfsMounts", devmapperBin, 0},
}

type config struct {
	dmsim    string
	noDmsim  bool
	tests    map[string]bool
	verbose  bool
	keep     bool
	rebuild  bool
	timeout  time.Duration
	parallel int
	module   string
	cache    string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	var tests string
	fs := flag.NewFlagSet("run-containerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.dmsim, "dmsim", "", "the dmsim binary (go build -o PATH ./cmd/dmsim at the repository root)")
	fs.BoolVar(&cfg.noDmsim, "no-dmsim", false, "run without dmsim (ignoring -dmsim): unshare -m, a tmpfs on /dev/mapper, the dmsetup on PATH")
	fs.StringVar(&tests, "tests", "", "comma-separated subset of "+testNames())
	fs.BoolVar(&cfg.verbose, "v", false, "copy each test's output to stdout as it runs")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory (TMPDIR and dmsim state of each test)")
	fs.BoolVar(&cfg.rebuild, "rebuild", false, "rebuild the test binaries even if cached")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "-test.timeout of each test")
	fs.IntVar(&cfg.parallel, "parallel", 0, "-test.parallel (0: the test binary's default, GOMAXPROCS)")
	fs.StringVar(&cfg.module, "module", ".", "the consumers/containerd module directory")
	fs.StringVar(&cfg.cache, "cache", "", "where test binaries and logs go (default MODULE/.cache)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "run-containerd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if tests != "" {
		cfg.tests = map[string]bool{}
		for _, t := range strings.Split(tests, ",") {
			if !knownTest(t) {
				fmt.Fprintf(stderr, "run-containerd: unknown test %q (known: %s)\n", t, testNames())
				return 2
			}
			cfg.tests[t] = true
		}
	}
	if err := cfg.setup(); err != nil {
		fmt.Fprintf(stderr, "run-containerd: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	bins, err := cfg.build(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "run-containerd: %v\n", err)
		return 2
	}
	if !cfg.noDmsim {
		if err := cfg.probeExec(ctx); err != nil {
			fmt.Fprintf(stderr, "run-containerd: %v\n", err)
			return 2
		}
	}

	work, err := os.MkdirTemp("", "dmsim-containerd-")
	if err != nil {
		fmt.Fprintf(stderr, "run-containerd: %v\n", err)
		return 2
	}
	if cfg.keep {
		fmt.Fprintf(stderr, "work directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	passed, failed := 0, 0
	for _, s := range suite {
		if cfg.tests != nil && !cfg.tests[s.test] {
			continue
		}
		line, ok := cfg.runTest(ctx, bins[s.bin.name], s.test, s.subtests, filepath.Join(work, s.test), stdout, stderr)
		fmt.Fprintln(stdout, line)
		if ok {
			passed++
		} else {
			failed++
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "run-containerd: interrupted")
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func testNames() string {
	var names []string
	for _, s := range suite {
		names = append(names, s.test)
	}
	return strings.Join(names, ",")
}

func knownTest(t string) bool {
	for _, s := range suite {
		if s.test == t {
			return true
		}
	}
	return false
}

// setup checks the flags and the environment, and makes paths absolute (the
// tests run in their own working directories).
func (cfg *config) setup() error {
	if os.Geteuid() != 0 {
		return errors.New("containerd's devmapper tests need root (loop devices, mkfs, mount): run as root")
	}
	mod, err := filepath.Abs(cfg.module)
	if err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	if err != nil || !bytes.HasPrefix(gomod, []byte("module "+modulePath+"\n")) {
		return fmt.Errorf("%s is not the %s module (use -module)", mod, modulePath)
	}
	cfg.module = mod
	if cfg.cache == "" {
		cfg.cache = filepath.Join(mod, ".cache")
	}
	if cfg.cache, err = filepath.Abs(cfg.cache); err != nil {
		return err
	}
	switch {
	case cfg.noDmsim: // wins over -dmsim, so that `just consumers -no-dmsim` works
		if _, err := exec.LookPath("unshare"); err != nil {
			return fmt.Errorf("-no-dmsim needs unshare(1): %v", err)
		}
	case cfg.dmsim == "":
		return errors.New("-dmsim PATH is required (build it at the repository root: go build -o bin/dmsim ./cmd/dmsim), or -no-dmsim")
	default:
		if cfg.dmsim, err = filepath.Abs(cfg.dmsim); err != nil {
			return err
		}
		if _, err := os.Stat(cfg.dmsim); err != nil {
			return fmt.Errorf("dmsim binary: %v", err)
		}
	}
	return nil
}

// build makes the test binaries that the selected tests need, unless a
// binary newer than go.mod and go.sum is cached.
func (cfg *config) build(ctx context.Context, stderr io.Writer) (map[string]string, error) {
	binDir := filepath.Join(cfg.cache, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	var newest time.Time
	for _, f := range []string{"go.mod", "go.sum"} {
		st, err := os.Stat(filepath.Join(cfg.module, f))
		if err != nil {
			return nil, err
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	bins := map[string]string{}
	for _, s := range suite {
		b := s.bin
		if (cfg.tests != nil && !cfg.tests[s.test]) || bins[b.name] != "" {
			continue
		}
		out := filepath.Join(binDir, b.name)
		bins[b.name] = out
		if st, err := os.Stat(out); err == nil && !cfg.rebuild && st.ModTime().After(newest) {
			continue
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, b.pkg)
		cmd.Dir = cfg.module
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go test -c %s: %v", b.pkg, err)
		}
		fmt.Fprintf(stderr, "built %s in %.1fs\n", b.name, time.Since(start).Seconds())
	}
	return bins, nil
}

// probeExec runs `dmsim exec -- true`, so that a dmsim without the front end
// fails once with a clear message instead of once per test.
func (cfg *config) probeExec(ctx context.Context) error {
	state, err := os.MkdirTemp("", "dmsim-containerd-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.dmsim, "exec", "--state", filepath.Join(state, "state"), "--", "true")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if _, derr := loopdev.DetachUnder(state); derr != nil {
		return derr
	}
	if err == nil {
		return nil
	}
	if bytes.Contains(out, []byte(`unknown command "exec"`)) {
		return fmt.Errorf("dmsim exec not available: %s has no exec subcommand (it was built from a tree without the dmsim front end, issue 9)", cfg.dmsim)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return fmt.Errorf("dmsim exec not available: `%s exec -- true` failed (%v): %s", cfg.dmsim, err, first)
}

// command is the argv that runs one test: under `dmsim exec`, or with
// -no-dmsim in a private mount namespace with a tmpfs on /dev/mapper.
func (cfg *config) command(bin, test, dir string) []string {
	testArgs := []string{bin, "-test.root", "-test.v", "-test.run", "^" + test + "$",
		"-test.timeout", cfg.timeout.String()}
	if cfg.parallel > 0 {
		testArgs = append(testArgs, fmt.Sprintf("-test.parallel=%d", cfg.parallel))
	}
	if cfg.noDmsim {
		return append([]string{"unshare", "--mount", "--propagation", "private", "--",
			"sh", "-c", `mount -t tmpfs dmsim-harness /dev/mapper && exec "$@"`, "sh"}, testArgs...)
	}
	return append([]string{cfg.dmsim, "exec", "--state", filepath.Join(dir, "state"), "--"}, testArgs...)
}

// testEnv is the runner's environment with TMPDIR pointing into the test's
// own directory (t.TempDir and os.MkdirTemp use it, and so the loop devices'
// backing files land there). XDG_RUNTIME_DIR is dropped: containerd's
// mount.WithTempMount prefers it to TMPDIR.
func testEnv(tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TMPDIR=") || strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TMPDIR="+tmp)
}

// runTest runs one test in dir and returns its summary line and whether it passed.
func (cfg *config) runTest(ctx context.Context, bin, test string, subtests int, dir string, stdout, stderr io.Writer) (string, bool) {
	fail := func(err error) (string, bool) { return fmt.Sprintf("%s: not run (%v)", test, err), false }
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fail(err)
	}
	logDir := filepath.Join(cfg.cache, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fail(err)
	}
	logPath := filepath.Join(logDir, test+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()

	// The test binary panics itself at -test.timeout; this is the backstop
	// for a hang outside it (dmsim exec's start or teardown).
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout+2*time.Minute)
	defer cancel()
	argv := cfg.command(bin, test, dir)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = testEnv(tmp)
	// SIGTERM lets dmsim exec tear down (unmount, detach) before it exits.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	sinks := []io.Writer{logFile, pw}
	if cfg.verbose {
		sinks = append(sinks, stdout)
	}
	cmd.Stdout = io.MultiWriter(sinks...)
	cmd.Stderr = cmd.Stdout
	parsed := make(chan *gotestv.Report, 1)
	go func() {
		rep, _ := gotestv.Parse(pr)
		_, _ = io.Copy(io.Discard, pr)
		parsed <- rep
	}()
	fmt.Fprintf(logFile, "$ %s\n", strings.Join(argv, " "))
	start := time.Now()
	runErr := cmd.Run()
	pw.Close()
	rep := <-parsed
	elapsed := time.Since(start)

	if leaked, err := loopdev.DetachUnder(dir); err != nil {
		fmt.Fprintf(stderr, "%s: detaching leaked loop devices: %v\n", test, err)
	} else if len(leaked) > 0 {
		var names []string
		for _, l := range leaked {
			names = append(names, l.Dev)
		}
		fmt.Fprintf(stderr, "%s: detached %d leaked loop devices: %s\n", test, len(leaked), strings.Join(names, " "))
	}

	sum := rep.Summarize(test, subtests)
	line, ok := sum.String(), sum.OK()
	if ok && runErr != nil {
		line += fmt.Sprintf(" (but the run failed: %v)", runErr)
		ok = false
	}
	fmt.Fprintf(logFile, "# %s (%.1fs)\n", line, elapsed.Seconds())
	if !ok {
		if ctx.Err() == context.DeadlineExceeded {
			line += fmt.Sprintf(" (killed after %v)", cfg.timeout+2*time.Minute)
		}
		fmt.Fprintf(stderr, "%s: log in %s\n", test, logPath)
		if len(rep.Order) == 0 {
			// Nothing from the test binary: show how dmsim exec (or unshare) failed.
			fmt.Fprint(stderr, tail(logPath, 10))
		}
	}
	return line, ok
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
