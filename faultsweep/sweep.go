// Package faultsweep runs scenario scripts under injected disk faults, one
// fault per run, pebble-style (vfs/errorfs's "fail the k-th operation, for
// every k"): SweepIO fails the k-th I/O of a disk for every k, SweepBlocks
// corrupts every metadata block the scenario reads, in turn. Each run's
// transcript is compared with the fault-free run's and its outcome put in
// one of Linux 6.1's classes (Classify): an error to the application with
// the pool still in write mode, metadata_operation_failed() (abort,
// needs_check, read-only), fail mode, or a table constructor's refusal. A
// fault that changes nothing is Masked; a failed discard the pool ignores
// is Ignored. Anything else - output that
// changed with no error anywhere, a stall - is Unclassified: a finding.
package faultsweep

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all" // the target types scenarios use
	_ "github.com/dmsim/dmsim/targets/thin"
	_ "github.com/dmsim/dmsim/thintools"
)

// Class is the kind of outcome a fault had.
type Class int

const (
	// Masked: the fault fired and the transcript is the fault-free one.
	Masked Class = iota
	// EIO: a command saw an error (or the kernel logged one) and no pool
	// changed mode: the kernel's answer to a failed lookup or data I/O.
	EIO
	// ReadOnly: metadata_operation_failed(): the pool aborted its
	// transaction, set needs_check and switched to read-only.
	ReadOnly
	// Fail: the pool switched to fail mode.
	Fail
	// Refused: a table constructor refused the table.
	Refused
	// Ignored: a failed discard that left the data disk's old bytes
	// readable with no error anywhere: the pool ignores its passdown's
	// errors (passdown_endio()), as discards are only hints.
	Ignored
	// Unclassified: output changed with no error reported, or the run
	// stalled or failed. Never a kernel outcome.
	Unclassified
	nClasses
)

var classNames = [...]string{"masked", "eio", "read-only", "fail", "refused", "ignored", "unclassified"}

func (c Class) String() string { return classNames[c] }

// Outcome is what one injected fault did.
type Outcome struct {
	Script string
	Fault  string // e.g. "meta: fail I/O 12 (write 1024+8)"
	Class  Class
	// Detail, for Unclassified, is the first command whose output changed
	// (or the run's error).
	Detail string
}

// Counts is the number of outcomes per class.
type Counts [nClasses]int

func (c Counts) String() string {
	var b strings.Builder
	for i, n := range c {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %d", Class(i), n)
	}
	return b.String()
}

// Tally counts outcomes by class.
func Tally(outs []Outcome) Counts {
	var c Counts
	for _, o := range outs {
		c[o.Class]++
	}
	return c
}

// Options bound a sweep.
type Options struct {
	// MaxRuns is the largest number of faults tried per disk (SweepIO) or
	// per metadata disk (SweepBlocks); above it the candidates are sampled
	// evenly, first and last included. 0: every one.
	MaxRuns int
	// Seed seeds the injectors' bit flips.
	Seed int64
	// MaxStall is each run's stall guard (script.Options.MaxStall);
	// DefaultMaxStall if 0.
	MaxStall time.Duration
}

// DefaultMaxStall is a run's stall guard unless Options says otherwise. It
// catches a hang, so it is far above any line's real time: under the race
// detector on a loaded 2-core machine a thin_check line took over 5 s, and a
// run the guard cut short was counted as an unclassified outcome.
const DefaultMaxStall = 2 * time.Minute

// run runs s with the given injectors and returns its transcript without
// its env lines.
func run(ctx context.Context, s *scenario.Script, faults map[string]*dmsim.Faults, o Options, keep string) (string, error) {
	stall := o.MaxStall
	if stall == 0 {
		stall = DefaultMaxStall
	}
	res, err := script.Run(ctx, s, script.Options{Faults: faults, MaxStall: stall, KeepDir: keep})
	if err != nil {
		return "", err
	}
	return script.StripEnv(res.Transcript), nil
}

// Baseline runs s with no fault, tracing every disk's I/O: the transcript
// and each disk's I/Os in order.
func Baseline(ctx context.Context, s *scenario.Script, o Options) (string, map[string][]dmsim.IORecord, error) {
	return baseline(ctx, s, o, "")
}

// baseline is Baseline, keeping the disk images in keep unless it is "".
func baseline(ctx context.Context, s *scenario.Script, o Options, keep string) (string, map[string][]dmsim.IORecord, error) {
	faults := map[string]*dmsim.Faults{}
	for _, d := range s.Disks {
		f := dmsim.NewFaults(o.Seed)
		f.Trace(true)
		faults[d.Name] = f
	}
	tr, err := run(ctx, s, faults, o, keep)
	if err != nil {
		return "", nil, err
	}
	ios := map[string][]dmsim.IORecord{}
	for n, f := range faults {
		ios[n] = f.TakeIOs()
	}
	return tr, ios, nil
}

// sample picks at most max of the indices 0..n-1, evenly spaced, first and
// last included (all of them when max is 0 or n <= max).
func sample(n, max int) []int {
	var out []int
	if max <= 0 || n <= max {
		for i := 0; i < n; i++ {
			out = append(out, i)
		}
		return out
	}
	if max == 1 {
		return []int{0}
	}
	for j := 0; j < max; j++ {
		i := j * (n - 1) / (max - 1)
		if len(out) == 0 || out[len(out)-1] != i {
			out = append(out, i)
		}
	}
	return out
}

// try runs s with one rule on one disk and classifies the outcome; a rule
// that never fired is reported as not fired.
// discardOnly says the fault hit a discard, whose silent failure is
// Ignored rather than Unclassified.
func try(ctx context.Context, s *scenario.Script, base, disk string, rule dmsim.Fault, desc string, discardOnly bool, o Options) (Outcome, bool) {
	f := dmsim.NewFaults(o.Seed)
	r := f.Add(rule)
	out := Outcome{Script: s.Name, Fault: disk + ": " + desc}
	tr, err := run(ctx, s, map[string]*dmsim.Faults{disk: f}, o, "")
	if err != nil {
		out.Class, out.Detail = Unclassified, err.Error()
		return out, true
	}
	if r.Fired() == 0 {
		return out, false
	}
	out.Class, out.Detail = Classify(base, tr)
	if out.Class == Unclassified && discardOnly {
		out.Class, out.Detail = Ignored, ""
	}
	return out, true
}

// zero reports whether block b of img is all zeroes (or past its end).
func zero(img []byte, b uint64) bool {
	if (b+1)*4096 > uint64(len(img)) {
		return true
	}
	for _, c := range img[b*4096 : (b+1)*4096] {
		if c != 0 {
			return false
		}
	}
	return true
}

func describe(io dmsim.IORecord) string {
	if io.Op == dmsim.OpFlush {
		return "flush"
	}
	return fmt.Sprintf("%v %d+%d", io.Op, io.Sector, io.Sectors)
}

// SweepIO fails, on each disk of s, the k-th I/O (any operation) with EIO,
// for every k the baseline run reached (or a sample, Options.MaxRuns).
func SweepIO(ctx context.Context, s *scenario.Script, o Options) ([]Outcome, error) {
	base, ios, err := Baseline(ctx, s, o)
	if err != nil {
		return nil, err
	}
	var outs []Outcome
	for _, d := range s.Disks {
		all := ios[d.Name]
		for _, k := range sample(len(all), o.MaxRuns) {
			rule := dmsim.Fault{Ops: dmsim.FaultRead | dmsim.FaultWrite | dmsim.FaultFlush | dmsim.FaultDiscard,
				After: k, Count: 1}
			desc := fmt.Sprintf("fail I/O %d (%s)", k, describe(all[k]))
			if out, fired := try(ctx, s, base, d.Name, rule, desc, all[k].Op == dmsim.OpDiscard, o); fired {
				outs = append(outs, out)
			}
		}
	}
	return outs, nil
}

// SweepBlocks corrupts, on each disk of s whose name starts with "meta",
// every 4 KiB block the baseline run read as one (as the block manager
// reads), one block per run: every read of the block has one bit flipped
// (seeded), as a block rotten on the medium.
func SweepBlocks(ctx context.Context, s *scenario.Script, o Options) ([]Outcome, error) {
	keep, err := os.MkdirTemp("", "dmsim-faultsweep-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keep)
	base, ios, err := baseline(ctx, s, o, keep)
	if err != nil {
		return nil, err
	}
	var outs []Outcome
	for _, d := range s.Disks {
		if !strings.HasPrefix(d.Name, "meta") {
			continue
		}
		img, err := os.ReadFile(filepath.Join(keep, d.Name+".img"))
		if err != nil {
			return nil, err
		}
		seen := map[uint64]bool{}
		var blocks []uint64
		for _, io := range ios[d.Name] {
			// The block manager reads one aligned 4 KiB block at a time;
			// larger reads are the tools' and dd's, whose chunks also
			// cover blocks nothing uses.
			if io.Op != dmsim.OpRead || io.Sectors != 8 || io.Sector%8 != 0 {
				continue
			}
			// A block all zeroes at the end is free: nothing reads it
			// as metadata (the tools' whole-device scans do).
			if b := io.Sector / 8; !seen[b] && !zero(img, b) {
				seen[b] = true
				blocks = append(blocks, b)
			}
		}
		for _, i := range sample(len(blocks), o.MaxRuns) {
			b := blocks[i]
			rule := dmsim.Fault{Kind: dmsim.FaultBitFlip, Ops: dmsim.FaultRead, Start: b * 8, End: b*8 + 8}
			if out, fired := try(ctx, s, base, d.Name, rule, fmt.Sprintf("bit flip in block %d", b), false, o); fired {
				outs = append(outs, out)
			}
		}
	}
	return outs, nil
}
