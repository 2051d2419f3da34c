package script

import (
	"testing"
	"time"
)

// TestPaceKeeper: a paced command costs what brings dmsim's time since the
// boot's first paced command up to the recording's; dmsim ahead costs
// nothing; a command with no recorded start costs the fixed time; a
// reboot starts the clocks again.
func TestPaceKeeper(t *testing.T) {
	ms := time.Millisecond
	p := paceKeeper{starts: map[int]time.Duration{1: 5000 * ms, 2: 5030 * ms, 4: 6200 * ms, 7: 900 * ms, 8: 1100 * ms}, fixed: 350 * ms}
	steps := []struct {
		reboot bool
		item   int
		now    time.Duration // dmsim's clock when the command starts
		want   time.Duration
	}{
		{item: 1, now: 10 * ms, want: 0},         // the boot's first: the base
		{item: 2, now: 10 * ms, want: 30 * ms},   // 30 ms later in the recording
		{item: 3, now: 40 * ms, want: 350 * ms},  // no start recorded
		{item: 4, now: 390 * ms, want: 820 * ms}, // 1200 ms after the base; 380 spent
		{item: 4, now: 2000 * ms, want: 0},       // dmsim already further
		{reboot: true, item: 7, now: 0, want: 0}, // a new base
		{item: 8, now: 50 * ms, want: 150 * ms},
	}
	for i, s := range steps {
		if s.reboot {
			p.reboot()
		}
		if got := p.cost(s.item, s.now); got != s.want {
			t.Errorf("step %d (item %d at %v): cost %v, want %v", i, s.item, s.now, got, s.want)
		}
	}
}
