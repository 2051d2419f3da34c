// Command dmsim is a userspace emulator of Linux 6.1 device-mapper (thin
// provisioning, linear, striped, error, zero) with dmsetup 1.02.185 and the
// busybox utilities scenario scripts use.
//
//	dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] SCRIPT
//	                                                       replay a script, print its transcript
//	dmsim repl [--disk NAME=SIZE|PATH]...                 interactive shell (also: dmsim with no arguments)
//	dmsim version                                          print the version
//	dmsim help                                             this text
//	dmsim TOOL ARGS...                                     a host tool (thin_dump IMAGE, thin_check, ...)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/dmsim/dmsim/repl"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/targets/thin"
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
  dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] SCRIPT
        replay a scenario script (docs/script-format.md) and print its transcript;
        --keep DIR keeps the disk images as DIR/NAME.img, --disk attaches an existing image,
        --command-time D is the virtual time each command line costs (default %v, 0 for none)
  dmsim repl [--disk NAME=SIZE|NAME=PATH]...
        interactive shell on an emulated machine (default disks: meta 4M, data 64M);
        also what plain "dmsim" runs
  dmsim version
  dmsim help
`

func main() {
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
	case "repl":
		return repl.Main(ctx, args[1:], stdin, stdout, stderr)
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

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := script.Options{Disks: map[string]string{}, Out: stdout, Version: Version()}
	var file string
	for i := 0; i < len(args); i++ {
		a := args[i]
		// --opt=VALUE or --opt VALUE
		val := func() (string, bool) {
			if _, v, ok := strings.Cut(a, "="); ok {
				return v, true
			}
			if i+1 < len(args) {
				i++
				return args[i], true
			}
			return "", false
		}
		switch {
		case a == "--keep" || strings.HasPrefix(a, "--keep="):
			v, ok := val()
			if !ok {
				fmt.Fprintln(stderr, "dmsim run: --keep needs a directory")
				return 2
			}
			o.KeepDir = v
		case a == "--disk" || strings.HasPrefix(a, "--disk="):
			v, ok := val()
			name, p, ok2 := strings.Cut(v, "=")
			if !ok || !ok2 || name == "" || p == "" {
				fmt.Fprintln(stderr, "dmsim run: --disk wants NAME=PATH")
				return 2
			}
			o.Disks[name] = p
		case a == "--command-time" || strings.HasPrefix(a, "--command-time="):
			v, ok := val()
			d, err := time.ParseDuration(v)
			if !ok || err != nil || d < 0 {
				fmt.Fprintln(stderr, "dmsim run: --command-time wants a duration (350ms, 1s, 0)")
				return 2
			}
			o.CommandTime = d
			if d == 0 {
				o.CommandTime = -1 // none
			}
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "dmsim run: unknown option %s\n", a)
			return 2
		default:
			if file != "" {
				fmt.Fprintln(stderr, "dmsim run: one script at a time")
				return 2
			}
			file = a
		}
	}
	if file == "" {
		fmt.Fprintln(stderr, "usage: dmsim run [--keep DIR] [--disk NAME=PATH]... [--command-time D] SCRIPT")
		return 2
	}
	if _, err := script.RunFile(ctx, file, o); err != nil {
		fmt.Fprintf(stderr, "dmsim run: %v\n", err)
		return 1
	}
	return 0
}
