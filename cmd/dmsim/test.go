package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/script"
)

const testUsage = "usage: dmsim test [--update] [--jobs N] [--goldens DIR] PATH..."

// testArgs is what `dmsim test` was asked for.
type testArgs struct {
	update  bool
	jobs    int
	goldens string
	paths   []string
}

// parseTestArgs reads `dmsim test`'s flags, before or after the paths.
func parseTestArgs(args []string) (*testArgs, *flag.FlagSet, error) {
	t := &testArgs{}
	fs := flag.NewFlagSet("dmsim test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&t.update, "update", false, "write the goldens from dmsim's output (marked \"# env: dmsim\") where they differ or are missing")
	fs.IntVar(&t.jobs, "jobs", runtime.NumCPU(), "replay `N` scripts at once (the output keeps the order of the paths)")
	fs.StringVar(&t.goldens, "goldens", "", "the goldens are `DIR`/NAME.txt (default: NAME.txt beside NAME.sh)")
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fs, err
		}
		if fs.NArg() == 0 {
			break
		}
		t.paths, args = append(t.paths, fs.Arg(0)), fs.Args()[1:]
	}
	if len(t.paths) == 0 {
		return nil, fs, errors.New("no PATH")
	}
	if t.jobs < 1 {
		return nil, fs, fmt.Errorf("--jobs %d: want at least 1", t.jobs)
	}
	return t, fs, nil
}

// testScripts expands the paths: a directory stands for its *.sh files
// (not those of its subdirectories), in name order; a file for itself.
func testScripts(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.sh"))
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: no *.sh scripts", p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}

// testOutcome is one script's verdict and what to print for it.
type testOutcome struct {
	pass bool
	text string
}

// testOne replays one script and compares it with its golden (or, with
// --update, rewrites a golden that differs or is missing).
func testOne(ctx context.Context, t *testArgs, path string) testOutcome {
	g := script.FindGolden(path, t.goldens)
	c, err := script.CompareGolden(ctx, g, script.Options{Version: Version()})
	if err != nil {
		return testOutcome{false, fmt.Sprintf("FAIL %s: %v\n", path, err)}
	}
	var notes strings.Builder
	for _, n := range c.Notes {
		notes.WriteString("     " + n + "\n")
	}
	switch {
	case t.update && (c.Missing || c.Diff != ""):
		if err := script.UpdateGolden(g, c); err != nil {
			return testOutcome{false, fmt.Sprintf("FAIL %s: %v\n", path, err)}
		}
		return testOutcome{true, fmt.Sprintf("updated %s\n%s", g.Transcript, notes.String())}
	case c.Missing:
		return testOutcome{false, fmt.Sprintf("FAIL %s: no golden %s (record one with the recorder, or accept dmsim's with --update)\n",
			path, g.Transcript)}
	case c.Diff != "":
		return testOutcome{false, fmt.Sprintf("FAIL %s\n%s%s", path, c.Diff, notes.String())}
	}
	return testOutcome{true, fmt.Sprintf("ok   %s\n%s", path, notes.String())}
}

// testCmd is `dmsim test`: golden status-line regression tests for a
// user's own scripts, with the comparison the repo's golden test uses
// (script.CompareGolden). Exit 0 if all pass, 1 if any fails, 2 on usage
// errors.
func testCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t, fs, err := parseTestArgs(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usageError(stdout, "dmsim test", testUsage, fs, err)
		}
		return usageError(stderr, "dmsim test", testUsage, fs, err)
	}
	scripts, err := testScripts(t.paths)
	if err != nil {
		return usageError(stderr, "dmsim test", testUsage, fs, err)
	}
	// Replays run t.jobs at a time; each outcome is printed once those of
	// the scripts before it are, so the output is in the order of the paths.
	done := make([]chan testOutcome, len(scripts))
	for i := range done {
		done[i] = make(chan testOutcome, 1)
	}
	sem := make(chan struct{}, t.jobs)
	var wg sync.WaitGroup
	for i, p := range scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			done[i] <- testOne(ctx, t, p)
		}()
	}
	passed, failed := 0, 0
	for _, ch := range done {
		o := <-ch
		io.WriteString(stdout, o.text)
		if o.pass {
			passed++
		} else {
			failed++
		}
	}
	wg.Wait()
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
