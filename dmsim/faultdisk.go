package dmsim

import (
	"math/rand"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// Faults is a fault injector for a virtio disk (DiskSpec.Faults): every bio
// the disk accepts, and every Flush() call (blkdev_issue_flush), passes
// through it. A Fault rule can fail the k-th and following matching I/Os
// with an errno or flip bits in the data a read returns; the injector also
// counts I/Os by kind and can keep a trace of them. Rules are matched in
// the order they were added; the first that fires decides. Corruption is
// drawn from a generator seeded by NewFaults, so a run is reproducible.
//
// Its shape follows pebble's vfs/errorfs injectors and TigerBeetle's
// testing/storage.zig options: a test arms rules, runs, and reads counts.
type Faults struct {
	mu     sync.Mutex
	rng    *rand.Rand
	rules  []*Fault
	counts IOCounts
	trace  bool
	ios    []IORecord
}

// Fault is one injection rule.
type Fault struct {
	// Ops are the operations the rule matches (FaultRead, FaultWrite,
	// FaultFlush, FaultDiscard, or'ed).
	Ops FaultOps
	// Start and End bound the sectors the rule matches: an I/O matches when
	// it overlaps [Start, End). End 0 means the end of the disk. Flushes
	// have no range and match any rule that matches flushes.
	Start, End uint64
	// After is how many matching I/Os pass before the rule fires; Count how
	// many it then fires for (0: every later one).
	After, Count int
	// Err completes a fired I/O (EIO when 0 and CorruptBits is 0).
	Err linuxerr.Errno
	// CorruptBits, for reads that succeed, flips this many random bits of
	// the data read from the matched range, instead of failing the read.
	CorruptBits int

	seen, fired int
}

// FaultOps is a set of operations a Fault matches.
type FaultOps uint8

const (
	FaultRead FaultOps = 1 << iota
	FaultWrite
	FaultFlush // an empty flush bio, REQ_PREFLUSH on a write, or Flush()
	FaultDiscard
)

// Fired is how many I/Os the rule has failed or corrupted.
func (f *Fault) Fired() int { return f.fired }

// IOCounts are the I/Os a disk has received, by kind (failed ones too).
type IOCounts struct {
	Reads, Writes, Flushes, Discards int
	FUA                              int // writes with REQ_FUA
	Failed, Corrupted                int
}

// IORecord is one traced I/O.
type IORecord struct {
	Op      Op
	Flags   BioFlags
	Sector  uint64
	Sectors uint64
}

// NewFaults returns an injector with no rules (every I/O passes), whose
// corruption draws from seed.
func NewFaults(seed int64) *Faults {
	return &Faults{rng: rand.New(rand.NewSource(seed))}
}

// Add arms a rule and returns it (its Fired count is read later).
func (f *Faults) Add(r Fault) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &r
	f.rules = append(f.rules, p)
	return p
}

// Clear removes every rule.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Counts returns the I/O counts so far.
func (f *Faults) Counts() IOCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

// Trace starts (or stops) recording every I/O; TakeIOs returns and clears
// the record.
func (f *Faults) Trace(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trace = on
}

func (f *Faults) TakeIOs() []IORecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.ios
	f.ios = nil
	return out
}

func faultOps(op Op, flags BioFlags) FaultOps {
	var o FaultOps
	switch op {
	case OpRead:
		o = FaultRead
	case OpWrite:
		o = FaultWrite
	case OpFlush:
		o = FaultFlush
	case OpDiscard:
		o = FaultDiscard
	}
	if flags&ReqPreflush != 0 {
		o |= FaultFlush
	}
	return o
}

func (r *Fault) matches(ops FaultOps, sector, sectors uint64) bool {
	if r.Ops&ops == 0 {
		return false
	}
	if ops == FaultFlush { // no range
		return true
	}
	return sector+sectors > r.Start && (r.End == 0 || sector < r.End)
}

// admit counts an I/O and returns the rule that fires for it, if any.
func (f *Faults) admit(op Op, flags BioFlags, sector, sectors uint64) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case OpRead:
		f.counts.Reads++
	case OpWrite:
		f.counts.Writes++
		if flags&ReqFUA != 0 {
			f.counts.FUA++
		}
	case OpDiscard:
		f.counts.Discards++
	}
	if op == OpFlush || flags&ReqPreflush != 0 {
		f.counts.Flushes++
	}
	if f.trace {
		tf := flags
		if op == OpFlush {
			tf &^= ReqPreflush // implied by the op
		}
		f.ios = append(f.ios, IORecord{op, tf, sector, sectors})
	}
	ops := faultOps(op, flags)
	for _, r := range f.rules {
		if !r.matches(ops, sector, sectors) {
			continue
		}
		r.seen++
		if r.seen <= r.After || (r.Count > 0 && r.fired >= r.Count) {
			continue
		}
		r.fired++
		if r.CorruptBits > 0 && op == OpRead {
			f.counts.Corrupted++
		} else {
			f.counts.Failed++
		}
		return r
	}
	return nil
}

// errOf is the errno a fired rule completes an I/O with.
func (r *Fault) errOf() error {
	if r.Err != 0 {
		return r.Err
	}
	return linuxerr.EIO
}

// submit decides a bio's fate before the disk runs it: a non-nil error
// fails it; corrupt, after a successful read, flips bits in its data.
func (f *Faults) submit(bio *Bio) (corrupt func(), err error) {
	r := f.admit(bio.Op, bio.Flags, bio.Sector, bio.Sectors)
	if r == nil {
		return nil, nil
	}
	if r.CorruptBits > 0 && bio.Op == OpRead {
		return func() { f.corrupt(r, bio) }, nil
	}
	return nil, r.errOf()
}

// corrupt flips r.CorruptBits bits of bio's data inside r's range.
func (f *Faults) corrupt(r *Fault, bio *Bio) {
	lo := max(bio.Sector, r.Start)
	hi := bio.Sector + bio.Sectors
	if r.End != 0 {
		hi = min(hi, r.End)
	}
	if hi <= lo {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	base := (lo - bio.Sector) * SectorSize
	n := (hi - lo) * SectorSize * 8
	for i := 0; i < r.CorruptBits; i++ {
		bit := uint64(f.rng.Int63n(int64(n)))
		bio.Data[base+bit/8] ^= 1 << (bit % 8)
	}
}
