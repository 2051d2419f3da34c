package faultsweep

import (
	"context"
	"flag"
	"os"
	"path/filepath"
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
	type result struct {
		io, blocks []Outcome
	}
	results := make([]result, len(sweepScenarios))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, name := range sweepScenarios {
		s := loadScript(t, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			io, err := SweepIO(context.Background(), s, o)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			blocks, err := SweepBlocks(context.Background(), s, o)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			results[i] = result{io, blocks}
		}()
	}
	wg.Wait()
	var allIO, allBlocks []Outcome
	for i, r := range results {
		t.Logf("%-26s I/O: %s", sweepScenarios[i], Tally(r.io))
		t.Logf("%-26s blocks: %s", sweepScenarios[i], Tally(r.blocks))
		allIO = append(allIO, r.io...)
		allBlocks = append(allBlocks, r.blocks...)
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
