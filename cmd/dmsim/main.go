// Command dmsim is a userspace emulator of Linux 6.1 device-mapper (thin
// provisioning, linear, striped, error, zero) with dmsetup 1.02.185 and the
// busybox utilities scenario scripts use.
//
//	dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] [--max-stall D] [--bio-log DIR] SCRIPT
//	                                                       replay a script, print its transcript
//	dmsim test [--update] [--jobs N] [--goldens DIR] PATH...
//	                                                       replay scripts, compare them with their goldens
//	dmsim repl [--disk NAME=SIZE|PATH]...                 interactive shell (also: dmsim with no arguments)
//	dmsim serve [--state DIR] [--disk NAME=SIZE|PATH]...  the daemon for real programs
//	dmsim shims DIR                                        install the shims (dmsetup, thin_*, ...)
//	dmsim exec [--state DIR] [--disk ...] -- COMMAND ...   COMMAND against a daemon of its own
//	dmsim version                                          print the version
//	dmsim help                                             this text
//	dmsim TOOL ARGS...                                     a host tool (thin_dump IMAGE, thin_check, ...)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/frontend/shim"
	"github.com/dmsim/dmsim/repl"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/targets/thin"
	_ "github.com/dmsim/dmsim/thinsync/simcmd"
	_ "github.com/dmsim/dmsim/thintools"
	"github.com/dmsim/dmsim/userland"
)

// Version returns the module version or VCS revision the binary was built from.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

const usage = `dmsim: Linux 6.1 device-mapper (thin provisioning) in userspace, with dmsetup 1.02.185
and busybox 1.35 utilities; no root, kernel or VM needed.

Usage:
  dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] [--max-stall D] [--bio-log DIR] SCRIPT
        replay a scenario script (docs/script-format.md) and print its transcript;
        --keep DIR keeps the disk images as DIR/NAME.img, --disk attaches an existing image,
        --command-time D is the virtual time each command line costs (default %v, 0 for none),
        --max-stall D stops the run at a line that lets no time pass for D of real time (default 10s, 0: never),
        --bio-log DIR writes each disk's bios as DIR/NAME.log in the dm-log-writes format
  dmsim crash [--mode prefix|subset|torn|all] [--max-subset N] [--jobs N] [--no-reboot] [--repro DIR] SCRIPT...
        enumerate the crash states of each script (every flush epoch of every disk) and check each
        unique one: the pool reopens, thin_check is clean, the metadata is a committed transaction
        no older than the last acknowledged, mapped data is durable and the thin's own, the space
        adds up; one report line per script and mode, exit 1 on any failure; --repro DIR writes a
        shrunk reproducer (a script ending in "# crash:", which "dmsim run" checks again)
  dmsim test [--update] [--jobs N] [--goldens DIR] PATH...
        replay scripts (PATH: a NAME.sh, or a directory of them) and compare each transcript with its
        golden NAME.txt (beside the script, or in --goldens DIR), "# env:" lines aside: a unified diff
        for each difference, then "N passed, N failed"; exit 1 on any difference. --update writes
        the goldens that differ or are missing from dmsim's output (marked "# env: dmsim")
  dmsim repl [--disk NAME=SIZE|NAME=PATH]...
        interactive shell on an emulated machine (default disks: meta 4M, data 64M);
        also what plain "dmsim" runs
  dmsim serve [--state DIR] [--disk NAME=SIZE|NAME=PATH]... [--socket PATH] [--no-block-devices]
        the daemon real programs use: one emulated machine, its clock following the wall clock,
        mapped devices as /dev/mapper/NAME block devices (FUSE and loop; needs root)
  dmsim shims DIR
        install dmsetup, thin_*, blockdev, blkdiscard and udevadm shims that talk to the daemon
  dmsim exec [--state DIR] [--disk NAME=SIZE|NAME=PATH]... -- COMMAND [ARG]...
        run COMMAND against a daemon of its own, in a private mount namespace, shims first on PATH
  dmsim preload OUT.so
        build the LD_PRELOAD bridge with the host's C compiler: a real dmsetup (or lvm) run with
        LD_PRELOAD=OUT.so under "dmsim exec" uses dmsim's device-mapper (docs/bridge.md)
  dmsim version
  dmsim help
`

func main() {
	// Installed as a shim (`dmsim shims DIR` without dmsim-shim): forward.
	if slices.Contains(shim.Commands, filepath.Base(os.Args[0])) {
		os.Exit(shim.Main(os.Args))
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(args) == 0 {
		return repl.Main(ctx, nil, stdin, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "test":
		return testCmd(ctx, args[1:], stdout, stderr)
	case "crash":
		return crashCmd(ctx, args[1:], stdout, stderr)
	case "repl":
		return repl.Main(ctx, args[1:], stdin, stdout, stderr)
	case "serve":
		return serveCmd(args[1:], stdout, stderr)
	case "shims":
		return shimsCmd(args[1:], stdout, stderr)
	case "exec":
		return execCmd(args[1:], stdin, stdout, stderr)
	case "preload":
		return preloadCmd(args[1:], stderr)
	case execInnerArg:
		return execInner(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "dmsim %s\n", Version())
		return 0
	case "help", "--help", "-h":
		fmt.Fprintf(stdout, usage, script.DefaultCommandTime)
		printHostTools(stdout)
		return 0
	}
	if c, ok := userland.Lookup(args[0]); ok && c.Host {
		p := &userland.Proc{Ctx: ctx, Args: args, Stdin: stdin, Stdout: stdout, Stderr: stderr,
			Env: os.Getenv, Dir: cwd(), FS: userland.HostFS{}}
		return userland.Run(p, args)
	}
	fmt.Fprintf(stderr, "dmsim: unknown command %q\n"+usage, args[0], script.DefaultCommandTime)
	return 2
}

func cwd() string {
	d, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return d
}

func printHostTools(w io.Writer) {
	var names []string
	for _, c := range userland.Commands() {
		if c.Host {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Fprintf(w, "  dmsim TOOL ARGS...\n        run a tool on the host's files: %s\n", strings.Join(names, ", "))
	}
}

// runArgs is what `dmsim run` was asked for.
type runArgs struct {
	script      string
	keep        string
	disks       diskPaths
	commandTime commandTime
	maxStall    commandTime // a duration, and whether it was given, too
	bioLog      string
}

// diskPaths is the repeatable --disk NAME=PATH.
type diskPaths map[string]string

func (d diskPaths) String() string { return fmt.Sprint(map[string]string(d)) }

func (d diskPaths) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return errors.New("want NAME=PATH")
	}
	d[name] = path
	return nil
}

// commandTime is --command-time D, and whether it was given (not given:
// the runner's default).
type commandTime struct {
	d   time.Duration
	set bool
}

func (c *commandTime) String() string {
	if !c.set {
		return ""
	}
	return c.d.String()
}

func (c *commandTime) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want a duration (350ms, 1s, 0)")
	}
	c.d, c.set = d, true
	return nil
}

// options is script.Options for the flags: there CommandTime 0 selects the
// default and a negative one charges nothing.
func (r *runArgs) options() script.Options {
	o := script.Options{KeepDir: r.keep, Disks: r.disks, BioLog: r.bioLog != ""}
	if r.maxStall.set {
		o.MaxStall = r.maxStall.d
		if r.maxStall.d == 0 {
			o.MaxStall = -1
		}
	}
	if r.commandTime.set {
		o.CommandTime = r.commandTime.d
		if r.commandTime.d == 0 {
			o.CommandTime = -1
		}
	}
	return o
}

const runUsage = "usage: dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] [--max-stall D] [--bio-log DIR] SCRIPT"

// parseRunArgs reads `dmsim run`'s flags (before or after the script, as
// --flag value or --flag=value); flag.ErrHelp asks for the usage.
func parseRunArgs(args []string) (*runArgs, *flag.FlagSet, error) {
	r := &runArgs{disks: diskPaths{}}
	fs := flag.NewFlagSet("dmsim run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&r.keep, "keep", "", "keep the disk images as `DIR`/NAME.img")
	fs.StringVar(&r.bioLog, "bio-log", "", "write each disk's bios as `DIR`/NAME.log (dm-log-writes format)")
	fs.Var(r.disks, "disk", "attach the existing image `NAME=PATH` for the script's disk NAME")
	fs.Var(&r.commandTime, "command-time", "the virtual time `D` each command line costs (default "+
		script.DefaultCommandTime.String()+", 0 for none)")
	fs.Var(&r.maxStall, "max-stall", "stop at a line that lets no time pass for `D` of real time (default "+
		script.DefaultMaxStall.String()+", 0: never)")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fs, err
		}
		if fs.NArg() == 0 {
			break
		}
		if r.script != "" {
			return nil, fs, errors.New("one script at a time")
		}
		r.script, args = fs.Arg(0), fs.Args()[1:]
	}
	if r.script == "" {
		return nil, fs, errors.New("no SCRIPT")
	}
	return r, fs, nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	r, fs, err := parseRunArgs(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError(stdout, "dmsim run", runUsage, fs, err)
		}
		return usageError(stderr, "dmsim run", runUsage, fs, err)
	}
	o := r.options()
	o.Out, o.Version = stdout, Version()
	if s, err := parseScript(r.script); err == nil && s.CrashItem() != nil {
		return replayCmd(ctx, s, stdout, stderr)
	}
	res, err := script.RunFile(ctx, r.script, o)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim run: %v\n", err)
		return 1
	}
	if r.bioLog != "" {
		if err := writeBioLogs(r.bioLog, res.BioLogs); err != nil {
			fmt.Fprintf(stderr, "dmsim run: --bio-log: %v\n", err)
			return 1
		}
	}
	return 0
}

// writeBioLogs writes each disk's bio log as DIR/NAME.log.
func writeBioLogs(dir string, logs map[string][]dmsim.BioRecord) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, recs := range logs {
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return err
		}
		err = dmsim.WriteBioLog(f, recs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
