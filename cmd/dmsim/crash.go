package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmsim/dmsim/crash"
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

const crashUsage = "usage: dmsim crash [--mode prefix|subset|torn|all] [--max-subset N] [--jobs N] [--no-reboot] [--repro DIR] SCRIPT..."

// crashCmd is `dmsim crash`: the crash-state sweep of scenario scripts.
// The report (one line per script and mode, then its failures) goes to
// stdout and is the same bytes every run; the time goes to stderr.
func crashCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dmsim crash", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mode := fs.String("mode", "all", "the crash model: `prefix`, subset, torn or all")
	maxSubset := fs.Int("max-subset", dmsim.DefaultMaxSubset, "enumerate every subset of epochs of up to `N` writes (prefixes above)")
	jobs := fs.Int("jobs", 0, "check `N` states at once (default: the number of CPUs)")
	noReboot := fs.Bool("no-reboot", false, "check the images only: boot no machine on each state")
	repro := fs.String("repro", "", "write a shrunk reproducer of each script's first failure to `DIR`/NAME.MODE.sh")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError(stdout, "dmsim crash", crashUsage, fs, err)
		}
		return usageError(stderr, "dmsim crash", crashUsage, fs, err)
	}
	var modes []dmsim.CrashMode
	switch *mode {
	case "prefix":
		modes = []dmsim.CrashMode{dmsim.CrashPrefix}
	case "subset":
		modes = []dmsim.CrashMode{dmsim.CrashSubset}
	case "torn":
		modes = []dmsim.CrashMode{dmsim.CrashTorn}
	case "all":
		modes = []dmsim.CrashMode{dmsim.CrashPrefix, dmsim.CrashSubset, dmsim.CrashTorn}
	default:
		return usageError(stderr, "dmsim crash", crashUsage, fs, fmt.Errorf("unknown mode %q", *mode))
	}
	if fs.NArg() == 0 {
		return usageError(stderr, "dmsim crash", crashUsage, fs, errors.New("no SCRIPT"))
	}
	start := time.Now()
	states, failed := 0, 0
	for _, file := range fs.Args() {
		s, err := parseScript(file)
		if err != nil {
			fmt.Fprintf(stderr, "dmsim crash: %v\n", err)
			return 1
		}
		// One run of the script for every mode: a verdict one mode found
		// serves the others' states of the same content.
		rs, err := crash.SweepModes(ctx, s, modes, crash.Options{MaxSubset: *maxSubset, Jobs: *jobs, NoReboot: *noReboot})
		if err != nil {
			fmt.Fprintf(stderr, "dmsim crash: %v\n", err)
			return 1
		}
		for i, m := range modes {
			r := rs[i]
			o := crash.Options{Mode: m, MaxSubset: *maxSubset, Jobs: *jobs, NoReboot: *noReboot}
			fmt.Fprint(stdout, r)
			states += r.Checked
			failed += r.Failed
			if *repro != "" && len(r.Failures) > 0 {
				text, f, err := crash.Shrink(ctx, s, &r.Failures[0], o)
				if err != nil {
					fmt.Fprintf(stderr, "dmsim crash: shrink: %v\n", err)
					return 1
				}
				p := filepath.Join(*repro, s.Name+"."+m.String()+".sh")
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					fmt.Fprintf(stderr, "dmsim crash: %v\n", err)
					return 1
				}
				fmt.Fprintf(stdout, "  repro %s (%d lines): %v\n", p, strings.Count(text, "\n"), f)
			}
		}
	}
	el := time.Since(start)
	fmt.Fprintf(stderr, "dmsim crash: %d states checked in %.1fs (%.0f/s)\n", states, el.Seconds(), float64(states)/el.Seconds())
	if failed > 0 {
		return 1
	}
	return 0
}

func parseScript(file string) (*scenario.Script, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return scenario.Parse(strings.TrimSuffix(filepath.Base(file), ".sh"), src)
}

// replayCmd is `dmsim run` on a reproducer (a script with a `# crash:`
// directive): the transcript up to the crash, then the check's verdict;
// exit status 1 when an invariant broke.
func replayCmd(ctx context.Context, s *scenario.Script, stdout, stderr io.Writer) int {
	v, err := crash.Replay(ctx, s, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim run: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, v)
	if v.Invariant != "" && v.Invariant != crash.KernelWindow && v.Invariant != crash.PassdownWindow {
		return 1
	}
	return 0
}
