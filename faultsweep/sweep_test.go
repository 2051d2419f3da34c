package faultsweep

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

var full = flag.Bool("faultsweep.full", false, "sweep every I/O and every metadata block (TestSweeps samples)")

// sweepScenarios are the golden scenarios the sweeps run: pools built,
// written, snapshotted, discarded, resized, rebooted and checked.
var sweepScenarios = []string{
	"thin-snapshot", "thin-delete", "thin-discard-passdown", "thin-commit-fsync", "thin-reboot-reopen",
	"thin-metadata-snap", "thin-external-origin", "thin-pool-resize", "thin-out-of-space-error",
	"thin-read-only", "thin-transaction-id", "thin-block-zeroing",
}

// blockScenarios add, for the block sweep, the cross-check scenarios:
// they reopen pools with many nodes after a reboot, so they read (and the
// sweep corrupts) far more metadata blocks than pools still in memory do.
var blockScenarios = append(slices.Clone(sweepScenarios),
	"crosscheck/btree", "crosscheck/reopen", "crosscheck/metadata-snap", "crosscheck/resize")

func loadScript(t testing.TB, name string) *scenario.Script {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "scripts", name+".sh"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSweeps fails the k-th I/O of every disk and corrupts every metadata
// block read, over the sweep scenarios (sampled: 6 I/Os per disk and 6
// blocks per metadata disk unless -faultsweep.full), and requires every
// outcome to be one of the kernel's classes. It logs the counts per class.
func TestSweeps(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	o := Options{MaxRuns: 6, Seed: 1}
	if *full {
		o.MaxRuns = 0
	}
	run := func(names []string, sweep func(context.Context, *scenario.Script, Options) ([]Outcome, error)) [][]Outcome {
		results := make([][]Outcome, len(names))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, name := range names {
			s := loadScript(t, name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				outs, err := sweep(context.Background(), s, o)
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				results[i] = outs
			}()
		}
		wg.Wait()
		return results
	}
	ioResults := run(sweepScenarios, SweepIO)
	blockResults := run(blockScenarios, SweepBlocks)
	var allIO, allBlocks []Outcome
	for i, r := range ioResults {
		t.Logf("%-26s I/O: %s", sweepScenarios[i], Tally(r))
		allIO = append(allIO, r...)
	}
	for i, r := range blockResults {
		t.Logf("%-26s blocks: %s", blockScenarios[i], Tally(r))
		allBlocks = append(allBlocks, r...)
	}
	t.Logf("fail the k-th I/O, %d runs: %s", len(allIO), Tally(allIO))
	t.Logf("corrupt each metadata block, %d runs: %s", len(allBlocks), Tally(allBlocks))
	for _, out := range append(allIO, allBlocks...) {
		if *show != "" && out.Class.String() == *show {
			t.Logf("%s, %s", out.Script, out.Fault)
		}
		if out.Class == Unclassified {
			t.Errorf("%s, %s: unclassified outcome:\n%s", out.Script, out.Fault, out.Detail)
		}
	}
	// The sweeps must reach the classes that matter, or they test nothing.
	c := Tally(append(allIO, allBlocks...))
	for _, want := range []Class{EIO, ReadOnly, Refused} {
		if c[want] == 0 {
			t.Errorf("no outcome of class %s", want)
		}
	}
}

func TestSample(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		want   string
	}{
		{5, 0, "0 1 2 3 4"}, {3, 6, "0 1 2"}, {10, 4, "0 3 6 9"}, {10, 1, "0"}, {0, 3, ""},
	} {
		var parts []string
		for _, i := range sample(tc.n, tc.max) {
			parts = append(parts, strconv.Itoa(i))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("sample(%d, %d) = %q, want %q", tc.n, tc.max, got, tc.want)
		}
	}
}

var show = flag.String("faultsweep.show", "", "log the outcomes of this class (TestSweeps)")
