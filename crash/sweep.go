package crash

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

// Options control a sweep.
type Options struct {
	// Mode is the crash model: prefix, subset or torn (torn tears only
	// superblock writes: every write of a pool's metadata block 0).
	Mode dmsim.CrashMode
	// MaxSubset bounds exhaustive subsets (0: dmsim.DefaultMaxSubset).
	MaxSubset int
	// MaxPrefix bounds the prefixes of a larger epoch (0: DefaultMaxPrefix;
	// negative: no bound).
	MaxPrefix int
	// Jobs checks that many states at once (0: GOMAXPROCS).
	Jobs int
	// NoReboot skips booting a machine on each state (the metadata and
	// data checks still run).
	NoReboot bool
	// StopAtFirst ends the sweep at the first failing state.
	StopAtFirst bool
	// Sample, if above 1, checks only one state in Sample of subset
	// mode's (by unique index; prefix and torn states are few: all are
	// checked); the others are enumerated and counted.
	Sample int
	// CountOnly enumerates and counts the states, checks none.
	CountOnly bool
}

// DefaultMaxPrefix bounds the prefixes the sweep takes of one epoch: the
// few epochs of hundreds or thousands of writes (a big pool's format, a
// thin_restore) get 64 evenly spread prefix lengths, not all of them.
const DefaultMaxPrefix = 64

// Failure is a crash state that broke an invariant.
type Failure struct {
	// Index is the state's index among the script's states, in
	// enumeration order (boots, then disks, then CrashStates' order).
	Index     int
	Boot      int
	Point     scenario.CrashPoint
	Invariant string
	Msg       string
	// Item is the index in the script's items of the last command that
	// ended before the crash (-1: none in this boot).
	Item int
}

func (f *Failure) String() string {
	return fmt.Sprintf("state %d: boot %d, crash: %v: %s: %s", f.Index, f.Boot, &f.Point, f.Invariant, f.Msg)
}

// Result is a sweep of one script in one mode.
type Result struct {
	Script  string
	Mode    dmsim.CrashMode
	Points  int // crash points (per disk: flushes + end of boot)
	States  int // crash states enumerated
	Unique  int // of them with distinct content (all disks)
	Checked int // checked: distinct content at a distinct quiesce
	Failed  int
	// Windows counts the states 6.1 itself leaves inconsistent (see
	// KernelWindow and PassdownWindow): not failures.
	Windows int
	// Trace hashes every record of every boot.
	Trace    uint64
	Failures []Failure
}

// String is the report's line for the script.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "crash %s %s: points %d  states %d  unique %d  checked %d  ok %d  fail %d  6.1-window %d  trace %016x\n",
		r.Script, r.Mode, r.Points, r.States, r.Unique, r.Checked, r.Checked-r.Failed-r.Windows, r.Failed, r.Windows, r.Trace)
	for i := range r.Failures {
		fmt.Fprintf(&b, "  FAIL %v\n", &r.Failures[i])
	}
	return b.String()
}

// job is one state to check.
type job struct {
	index int
	b     *bootTrace
	view  *crashView
	q     int // the quiesce before the crash
	point scenario.CrashPoint
	key   verdictKey
	res   *violation
}

// Sweep enumerates the crash states of a script's boots and checks each
// unique one.
func Sweep(ctx context.Context, s *scenario.Script, o Options) (*Result, error) {
	rs, err := SweepModes(ctx, s, []dmsim.CrashMode{o.Mode}, o)
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// verdictKey is what a state's verdict depends on: the content of every
// disk, the quiesce before the crash (the commit window, the device
// stack) and the FUA writes acknowledged before it.
type verdictKey [3]uint64

// SweepModes is Sweep in each of modes (o.Mode is ignored) over one run of
// the script: a state of one mode whose verdict key an earlier mode
// checked takes that verdict without a second check (a prefix is also a
// subset, and torn mode repeats the prefixes).
func SweepModes(ctx context.Context, s *scenario.Script, modes []dmsim.CrashMode, o Options) ([]*Result, error) {
	if s.CrashItem() != nil {
		return nil, fmt.Errorf("%s: a script with a `# crash:` directive is a reproducer: run it with `dmsim run`", s.Name)
	}
	var res []*Result
	for _, m := range modes {
		res = append(res, &Result{Script: s.Name, Mode: m})
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	if o.StopAtFirst {
		jobs = 1
	}
	trace := fnv.New64a()
	index := make([]int, len(modes))
	stop := false
	err := workload(ctx, s, func(b *bootTrace, _ *scenario.Item) error {
		if stop {
			return nil
		}
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], b.Hash)
		trace.Write(buf[:])
		verdicts := map[verdictKey]*violation{}
		for mi, m := range modes {
			mo := o
			mo.Mode = m
			stop = b.sweepMode(ctx, mo, jobs, res[mi], &index[mi], verdicts)
			if stop || ctx.Err() != nil {
				break
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		r.Trace = trace.Sum64()
	}
	return res, nil
}

// isWindow: the violation is one of 6.1's own windows, not a failure.
func isWindow(v *violation) bool {
	return v != nil && (v.Invariant == KernelWindow || v.Invariant == PassdownWindow)
}

// sweepMode enumerates the boot's states in one mode and checks them
// (verdicts: those known from an earlier mode, by key; the new ones are
// added). It reports whether the sweep stops (StopAtFirst).
func (b *bootTrace) sweepMode(ctx context.Context, o Options, jobs int, res *Result, index *int, verdicts map[verdictKey]*violation) bool {
	var failed []*job
	ch := make(chan *job)
	var wg sync.WaitGroup
	var checked []*job
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				j.res = j.b.check(j.view, !o.NoReboot)
				j.view = nil // the images go with it
			}
		}()
	}
	seen := map[verdictKey]bool{}
	unique := map[uint64]bool{}
	stop := false
	fresh := 0 // keys no earlier mode checked
	b.enumerate(o, -1, func(st *dmsim.CrashState, disk int, v *crashView, fp uint64) bool {
		i := *index
		*index++
		res.States++
		if !unique[fp] {
			unique[fp] = true
			res.Unique++
		}
		acks := 0
		for _, q := range b.Quiesces {
			if q.FUA != nil && q.FUA.Seq < v.at {
				acks++
			}
		}
		key := verdictKey{fp, uint64(v.q), uint64(acks)}
		if seen[key] {
			return true
		}
		seen[key] = true
		j := &job{index: i, b: b, view: v, q: v.q, point: pointOf(b, disk, st), key: key}
		if prev, ok := verdicts[key]; ok {
			res.Checked++
			j.res, j.view = prev, nil
			checked = append(checked, j)
			return true
		}
		fresh++
		if o.CountOnly || (o.Mode == dmsim.CrashSubset && o.Sample > 1 && fresh%o.Sample != 1) {
			return true
		}
		res.Checked++
		checked = append(checked, j)
		if o.StopAtFirst {
			j.res, j.view = b.check(v, !o.NoReboot), nil
			if j.res != nil && !isWindow(j.res) {
				stop = true
				return false
			}
			return true
		}
		ch <- j
		return ctx.Err() == nil
	}, &res.Points)
	close(ch)
	wg.Wait()
	for _, j := range checked {
		verdicts[j.key] = j.res
		switch {
		case isWindow(j.res):
			res.Windows++
		case j.res != nil:
			failed = append(failed, j)
		}
	}
	sort.Slice(failed, func(x, y int) bool { return failed[x].index < failed[y].index })
	for _, j := range failed {
		res.Failed++
		res.Failures = append(res.Failures, Failure{Index: j.index, Boot: b.Boot, Point: j.point,
			Invariant: j.res.Invariant, Msg: j.res.Msg, Item: b.Quiesces[j.q].Item})
	}
	return stop
}

// enumerate yields every crash state of the boot, disk by disk, with the
// other disks as they were durable at the crash's instant, and the
// content fingerprint of all of them. points counts the crash points.
func (b *bootTrace) enumerate(o Options, only int, yield func(st *dmsim.CrashState, disk int, v *crashView, fp uint64) bool, points *int) {
	if b.durable == nil {
		for _, d := range b.Disks {
			b.durable = append(b.durable, dmsim.DurableImages(d.Base, d.Sectors, d.Log))
		}
	}
	durableAt := func(e int, at uint64) *dmsim.CrashImage { return b.durable[e](at) }
	var tearOnly func(uint64) bool
	if o.Mode == dmsim.CrashTorn {
		sb := b.superblockWrites()
		tearOnly = func(seq uint64) bool { return sb[seq] }
	}
	for d := range b.Disks {
		if only >= 0 && d != only {
			continue
		}
		lastPoint := -1
		maxPrefix := o.MaxPrefix
		if maxPrefix == 0 {
			maxPrefix = DefaultMaxPrefix
		}
		opt := dmsim.CrashOptions{Mode: o.Mode, AllPoints: true, MaxSubset: o.MaxSubset, MaxPrefix: max(maxPrefix, 0), TearOnly: tearOnly}
		for st := range dmsim.CrashStates(b.Disks[d].Base, b.Disks[d].Sectors, b.Disks[d].Log, opt) {
			if st.Point != lastPoint {
				lastPoint = st.Point
				*points++
			}
			v := &crashView{at: st.At, images: make([]io.ReaderAt, len(b.Disks)), sizes: make([]int64, len(b.Disks)),
				fps: make([]uint64, len(b.Disks))}
			h := fnv.New64a()
			var buf [8]byte
			for e := range b.Disks {
				img := st.Image()
				if e != d {
					img = durableAt(e, st.At)
				}
				v.images[e], v.sizes[e], v.fps[e] = img, img.Size(), img.Fingerprint()
				binary.LittleEndian.PutUint64(buf[:], v.fps[e])
				h.Write(buf[:])
			}
			for i, q := range b.Quiesces {
				if q.Seq < st.At {
					v.q = i
				}
			}
			if !yield(st, d, v, h.Sum64()) {
				return
			}
		}
	}
}

// superblockWrites are the writes of a pool's metadata block 0, of any
// pool the boot had.
func (b *bootTrace) superblockWrites() map[uint64]bool {
	out := map[uint64]bool{}
	locs := map[[2]uint64]bool{}
	for q := range b.Quiesces {
		for _, p := range b.pools(b.tablesAt(q)) {
			_, s, _ := diskSector(p.meta, 0)
			locs[[2]uint64{uint64(p.meta[0].Disk), s}] = true
		}
	}
	for loc := range locs {
		for _, r := range b.Disks[loc[0]].Log {
			if r.Op == dmsim.OpWrite && r.Sector <= loc[1] && r.Sector+r.Sectors > loc[1] {
				out[r.Seq] = true
			}
		}
	}
	return out
}

// pointOf is the `# crash:` directive of a state.
func pointOf(b *bootTrace, disk int, st *dmsim.CrashState) scenario.CrashPoint {
	p := scenario.CrashPoint{Disk: b.Disks[disk].Name, Point: st.Point}
	pos := map[uint64]int{}
	for i, s := range st.Epoch {
		pos[s] = i
	}
	for _, k := range st.Kept {
		p.Keep = append(p.Keep, pos[k])
	}
	if st.Tear != nil {
		for _, r := range b.Disks[disk].Log {
			if r.Seq == st.Tear.Seq {
				p.Tear = &scenario.CrashTear{Index: pos[r.Seq], First: st.Tear.Sector - r.Sector, Sectors: st.Tear.Sectors}
			}
		}
	}
	return p
}
