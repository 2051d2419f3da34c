package script

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var sweep = flag.String("sweep", "", "comma-separated costs per command line (e.g. 0,100ms,300ms) to replay every golden scenario at, printing a table (TestCommandTimeSweep)")

// TestCommandTimeSweep measures which costs per command line make which
// scenarios match the kernel (how DefaultCommandTime was chosen): run with
// -sweep=0,100ms,200ms,... It fails if DefaultCommandTime, when inside
// the costs swept, is not in the widest run of consecutive costs with the
// same results, or if another run at least 100 ms wide matches more.
func TestCommandTimeSweep(t *testing.T) {
	if *sweep == "" {
		t.Skip("no -sweep costs given")
	}
	var costs []time.Duration
	for _, f := range strings.Split(*sweep, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("-sweep: %v", err)
		}
		costs = append(costs, d)
	}
	all := scenarios(t)
	type row struct {
		cost   time.Duration
		failed []string
	}
	rows := make([]row, len(costs))
	for i, c := range costs {
		cost := c
		if cost == 0 {
			cost = -1 // Options: none
		}
		var mu sync.Mutex
		var failed []string
		t.Run(c.String(), func(t *testing.T) {
			for _, sc := range all {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					if replayAt(t, sc, cost) != "" {
						mu.Lock()
						failed = append(failed, sc.name)
						mu.Unlock()
					}
				})
			}
		})
		sort.Strings(failed)
		rows[i] = row{c, failed}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].cost < rows[j].cost })
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-9s %s\n", "cost", "identical", "differing")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-8s %2d of %-3d %s\n", r.cost, len(all)-len(r.failed), len(all), strings.Join(r.failed, " "))
	}
	// runs of consecutive costs with the same results
	type run struct {
		from, to time.Duration
		ident    int
	}
	var runs []run
	for i, r := range rows {
		if i > 0 && slices.Equal(r.failed, rows[i-1].failed) {
			runs[len(runs)-1].to = r.cost
			continue
		}
		runs = append(runs, run{r.cost, r.cost, len(all) - len(r.failed)})
	}
	widest := runs[0]
	for _, r := range runs {
		if r.to-r.from > widest.to-widest.from {
			widest = r
		}
	}
	fmt.Fprintf(&b, "widest run of equal results: %v to %v (%d identical)\n", widest.from, widest.to, widest.ident)
	t.Log("\n" + b.String())
	fmt.Print(b.String())
	if DefaultCommandTime < rows[0].cost || DefaultCommandTime > rows[len(rows)-1].cost {
		return
	}
	if DefaultCommandTime < widest.from || DefaultCommandTime > widest.to {
		t.Errorf("DefaultCommandTime (%v) is outside the widest run of equal results (%v to %v)",
			DefaultCommandTime, widest.from, widest.to)
	}
	for _, r := range runs {
		if r.to-r.from >= 100*time.Millisecond && r.ident > widest.ident {
			t.Errorf("%v to %v matches %d scenarios, more than the widest run (%d)", r.from, r.to, r.ident, widest.ident)
		}
	}
}
