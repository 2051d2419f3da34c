package crash

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

// Verdict is what Replay found.
type Verdict struct {
	Point     scenario.CrashPoint
	Invariant string // "" when every invariant held
	Msg       string
}

func (v *Verdict) String() string {
	if v.Invariant == "" {
		return "# crash check: ok"
	}
	return fmt.Sprintf("# crash check: FAIL %s: %s", v.Invariant, v.Msg)
}

// Replay runs a reproducer: a script that ends with a `# crash:`
// directive. It runs the lines before it (their transcript goes to out if
// not nil), leaves the disks in the directive's crash state, boots a
// machine on them and checks every invariant, as the sweep does.
func Replay(ctx context.Context, s *scenario.Script, out io.Writer) (*Verdict, error) {
	ci := s.CrashItem()
	if ci == nil {
		return nil, fmt.Errorf("%s: no `# crash:` directive", s.Name)
	}
	var verdict *Verdict
	err := workloadOut(ctx, s, out, func(b *bootTrace, crash *scenario.Item) error {
		if crash == nil {
			return nil
		}
		v, err := b.replay(crash.Crash)
		if err != nil {
			return fmt.Errorf("%s:%d: %v", s.Name, crash.Line, err)
		}
		verdict = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return verdict, nil
}

// replay finds the directive's state among the boot's crash states and
// checks it.
func (b *bootTrace) replay(c *scenario.CrashPoint) (*Verdict, error) {
	disk := slices.IndexFunc(b.Disks, func(d diskTrace) bool { return d.Name == c.Disk })
	if disk < 0 {
		return nil, fmt.Errorf("no disk %q", c.Disk)
	}
	modes := []dmsim.CrashMode{dmsim.CrashSubset, dmsim.CrashPrefix}
	if c.Tear != nil {
		modes = []dmsim.CrashMode{dmsim.CrashTorn}
	}
	want := c.String()
	for _, mode := range modes {
		var found *Verdict
		b.enumerate(Options{Mode: mode, MaxSubset: dmsim.DefaultMaxSubset}, disk, func(st *dmsim.CrashState, d int, v *crashView, _ uint64) bool {
			if st.Point != c.Point {
				return st.Point < c.Point
			}
			p := pointOf(b, d, st)
			if p.String() != want {
				return true
			}
			found = &Verdict{Point: p}
			if bad := b.check(v, true); bad != nil {
				found.Invariant, found.Msg = bad.Invariant, bad.Msg
			}
			return false
		}, new(int))
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("disk %s has no crash state %q (points, keep indices or tear out of range)", c.Disk, want)
}

// Shrink makes a failure's reproducer: the script cut after the command
// the crash falls in, then with every command line (and `# reboot`) that
// the failure does not need removed, one chunk at a time (ddmin), while a
// sweep in the same mode still fails with the same invariant. It returns
// the reproducer's text (the `# disk:` lines, the lines left, and the `#
// crash:` directive of the shrunk script's first failing state).
func Shrink(ctx context.Context, s *scenario.Script, f *Failure, o Options) (string, *Failure, error) {
	o.StopAtFirst = true
	// The items the reproducer may keep: up to the command the crash is in.
	var items []int
	boot, cut := 0, false
	for i, it := range s.Items {
		if cut {
			break
		}
		switch it.Kind {
		case scenario.Reboot:
			if boot == f.Boot {
				cut = true
				continue
			}
			boot++
			items = append(items, i)
		case scenario.Command:
			items = append(items, i)
			if boot == f.Boot && i > f.Item {
				cut = true
			}
		}
	}
	build := func(keep []int, fail *Failure) string {
		var b strings.Builder
		fmt.Fprintf(&b, "# crash reproducer (%s, %s mode): %s\n", s.Name, o.Mode, f.Invariant)
		for _, d := range s.Disks {
			nd := ""
			if !d.Discard {
				nd = " nodiscard"
			}
			fmt.Fprintf(&b, "# disk: %s %s%s\n", d.Name, scenario.FormatSize(d.Size), nd)
		}
		for _, i := range keep {
			b.WriteString(s.Items[i].Text + "\n")
		}
		if fail != nil {
			fmt.Fprintf(&b, "# crash: %v\n", &fail.Point)
		}
		return b.String()
	}
	try := func(keep []int) (*Failure, error) {
		c, err := scenario.Parse(s.Name, []byte(build(keep, nil)))
		if err != nil {
			return nil, err
		}
		r, err := Sweep(ctx, c, o)
		if err != nil || len(r.Failures) == 0 || r.Failures[0].Invariant != f.Invariant {
			return nil, err
		}
		return &r.Failures[0], nil
	}
	best, err := try(items)
	if err != nil {
		return "", nil, err
	}
	if best == nil {
		return "", nil, fmt.Errorf("%s: the failure does not show again on the script cut after its crash", s.Name)
	}
	for n := (len(items) + 1) / 2; n >= 1; n /= 2 {
		for start := len(items) - n; start >= 0; start -= n {
			cand := append(slices.Clone(items[:start]), items[start+n:]...)
			if len(cand) == 0 {
				continue
			}
			fl, err := try(cand)
			if err != nil {
				return "", nil, err
			}
			if fl != nil {
				items, best = cand, fl
				if start > len(items) {
					start = len(items)
				}
			}
		}
		if n == 1 {
			break
		}
	}
	return build(items, best), best, nil
}
