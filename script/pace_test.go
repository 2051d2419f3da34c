package script

import (
	"maps"
	"testing"
	"time"

	"github.com/dmsim/dmsim/scenario"
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

// TestPaceScales: a command's CPU scale is multiplied by the guest's time
// for it (to the next command's start in the same boot) over the time it
// took; commands with no CPU charged, the last of a boot and those already
// slower keep theirs (never below 1).
func TestPaceScales(t *testing.T) {
	s, err := scenario.Parse("x", []byte("a\nb\nc\n# reboot\nd\ne\n"))
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]int{}
	for i, it := range s.Items {
		if it.Kind == scenario.Command {
			item[it.Cmd] = i
		}
	}
	ms := time.Millisecond
	starts := map[int]time.Duration{item["a"]: 100 * ms, item["b"]: 900 * ms, item["c"]: 910 * ms, item["d"]: 50 * ms, item["e"]: 60 * ms}
	tests := []struct {
		name   string
		stats  map[string]CommandStat
		scales map[string]float64
		want   map[string]float64
	}{
		{"first run", map[string]CommandStat{"a": {Elapsed: 2 * ms, CPU: 3 * ms}, "b": {Elapsed: 1 * ms, CPU: 1 * ms}, "c": {Elapsed: 5 * ms, CPU: 5 * ms}, "d": {CPU: 500 * time.Microsecond}, "e": {}},
			nil, map[string]float64{"a": 400, "b": 10, "d": 20}},
		{"refined", map[string]CommandStat{"a": {Elapsed: 1600 * ms, CPU: 1200 * ms}, "b": {Elapsed: 10 * ms, CPU: 10 * ms}, "d": {Elapsed: 5 * ms, CPU: 5 * ms}},
			map[string]float64{"a": 400, "b": 10, "d": 20}, map[string]float64{"a": 200, "b": 10, "d": 40}},
		{"no CPU charged", map[string]CommandStat{"a": {Elapsed: 2 * ms}}, nil, map[string]float64{}},
		{"slower already", map[string]CommandStat{"a": {Elapsed: 2000 * ms, CPU: 2000 * ms}}, nil, map[string]float64{}},
	}
	byItem := func(m map[string]CommandStat) map[int]CommandStat {
		out := map[int]CommandStat{}
		for k, v := range m {
			out[item[k]] = v
		}
		return out
	}
	scalesByItem := func(m map[string]float64) map[int]float64 {
		out := map[int]float64{}
		for k, v := range m {
			out[item[k]] = v
		}
		return out
	}
	for _, tt := range tests {
		got := PaceScales(s, starts, byItem(tt.stats), scalesByItem(tt.scales))
		if want := scalesByItem(tt.want); !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", tt.name, got, want)
		}
	}
}
