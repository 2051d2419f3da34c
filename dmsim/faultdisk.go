package dmsim

import (
	"math/rand"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// Faults is a fault injector for a virtio disk (DiskSpec.Faults): every bio
// the disk accepts, and every Flush() call (blkdev_issue_flush), passes
// through it. A Fault rule fires for the k-th and following matching I/Os
// and does what its Kind says: fail the I/O with an errno, flip bits in
// what a read returns or a write stores, keep latent sector errors (reads
// fail until a write heals the sector), send a write elsewhere, tear it at
// a sector boundary, or drop a write or a flush while acknowledging it. The
// injector also counts I/Os by kind and can keep a trace of them. Rules are
// matched in the order they were added; the first that fires decides.
// Corruption is drawn from a generator seeded by NewFaults, so a run is
// reproducible.
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
	// Kind is what the rule does to an I/O it fires for (FaultFail when
	// zero).
	Kind FaultKind
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
	// the data read from the matched range, instead of failing the read
	// (FaultFail); for FaultBitFlip, of a read's data or of the data a
	// write stores (1 when 0).
	CorruptBits int
	// To is where a FaultMisdirect write lands: its sectors are shifted
	// by To-Start (a write of block Start/8 goes to block To/8).
	To uint64
	// Keep is how many sectors of a FaultTorn write reach the disk: the
	// first Keep, or the last Keep with KeepTail.
	Keep     uint64
	KeepTail bool

	seen, fired int
	healed      map[uint64]bool // FaultLatent: sectors a write has healed
}

// FaultKind is what a Fault does to an I/O it fires for.
type FaultKind uint8

const (
	// FaultFail completes the I/O with Err (EIO when 0) without running
	// it; with CorruptBits, reads run and are corrupted instead.
	FaultFail FaultKind = iota
	// FaultBitFlip flips CorruptBits random bits of the matched range: of
	// the data a read returns (the image keeps its bytes), or of the data
	// a write stores (the caller's buffer keeps its bytes). Bit rot.
	FaultBitFlip
	// FaultLatent is a latent sector error over [Start, End) (dm-dust's
	// bad blocks): a read touching a bad sector fails with Err (EIO); a
	// write heals the sectors it covers, unless Ops has FaultWrite, when
	// it fails too. End must be set.
	FaultLatent
	// FaultMisdirect sends a write to the wrong place: it lands at To
	// (shifted as its start is from Start) and its own sectors keep
	// their old contents. The write completes with success.
	FaultMisdirect
	// FaultTorn persists only Keep sectors of a write (the first, or the
	// last with KeepTail): a tear at a 512-byte boundary. It completes
	// with Err, or success when Err is 0.
	FaultTorn
	// FaultDrop acknowledges and drops: a write or discard never reaches
	// the disk (a lost write, flakey's drop_writes); a flush does nothing
	// (a lost flush: a volatile cache keeps its writes), and a PREFLUSH
	// write matched as a flush runs without its flush.
	FaultDrop
)

var faultKindNames = [...]string{"fail", "bitflip", "latent", "misdirect", "torn", "drop"}

func (k FaultKind) String() string {
	if int(k) < len(faultKindNames) {
		return faultKindNames[k]
	}
	return "FaultKind(?)"
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
	// Misdirected, Torn and Dropped count I/Os that completed but did not
	// do what they said.
	Misdirected, Torn, Dropped int
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
	if r.Kind == FaultLatent {
		// Reads and writes of a bad sector, whatever Ops says: Ops only
		// decides whether writes fail or heal.
		if ops&(FaultRead|FaultWrite) == 0 {
			return false
		}
		return r.bad(sector, sectors)
	}
	if r.Ops&ops == 0 {
		return false
	}
	if ops == FaultFlush { // no range
		return true
	}
	return sector+sectors > r.Start && (r.End == 0 || sector < r.End)
}

// bad reports whether [sector, sector+sectors) holds a sector of a latent
// error that no write has healed.
func (r *Fault) bad(sector, sectors uint64) bool {
	lo, hi := max(sector, r.Start), min(sector+sectors, r.End)
	for s := lo; s < hi; s++ {
		if !r.healed[s] {
			return true
		}
	}
	return false
}

// heal marks the sectors a write covered as good again.
func (r *Fault) heal(sector, sectors uint64) {
	if r.healed == nil {
		r.healed = map[uint64]bool{}
	}
	for s := max(sector, r.Start); s < min(sector+sectors, r.End); s++ {
		r.healed[s] = true
	}
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
		if r.Kind == FaultLatent && op == OpWrite && r.Ops&FaultWrite == 0 {
			// The write goes through and heals what it covers.
			r.heal(sector, sectors)
			continue
		}
		r.seen++
		if r.seen <= r.After || (r.Count > 0 && r.fired >= r.Count) {
			continue
		}
		r.fired++
		switch {
		case r.Kind == FaultBitFlip, r.Kind == FaultFail && r.CorruptBits > 0 && op == OpRead:
			f.counts.Corrupted++
		case r.Kind == FaultMisdirect:
			f.counts.Misdirected++
		case r.Kind == FaultTorn:
			f.counts.Torn++
		case r.Kind == FaultDrop:
			f.counts.Dropped++
		default:
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

// faultAction is what the disk does with a bio the injector saw.
type faultAction struct {
	fail  error  // complete with this, running nothing
	run   *Bio   // run this instead of the bio (nil: the bio itself)
	drop  bool   // run nothing, complete with success
	after func() // after a successful run (read corruption)
	ack   error  // complete with this after a successful run
}

// submit decides a bio's fate before the disk runs it.
func (f *Faults) submit(bio *Bio) faultAction {
	r := f.admit(bio.Op, bio.Flags, bio.Sector, bio.Sectors)
	if r == nil {
		return faultAction{}
	}
	isData := bio.Op == OpWrite || bio.Op == OpDiscard
	switch r.Kind {
	case FaultFail:
		if r.CorruptBits > 0 && bio.Op == OpRead {
			return faultAction{after: func() { f.corrupt(r, r.CorruptBits, bio.Sector, bio.Data) }}
		}
	case FaultLatent:
		return faultAction{fail: r.errOf()}
	case FaultBitFlip:
		bits := max(r.CorruptBits, 1)
		switch bio.Op {
		case OpRead:
			return faultAction{after: func() { f.corrupt(r, bits, bio.Sector, bio.Data) }}
		case OpWrite:
			data := append([]byte(nil), bio.Data...)
			f.corrupt(r, bits, bio.Sector, data)
			return faultAction{run: cloneBio(bio, bio.Sector, data)}
		}
		return faultAction{}
	case FaultMisdirect:
		if bio.Op != OpWrite {
			return faultAction{}
		}
		to := int64(bio.Sector) + int64(r.To) - int64(r.Start)
		if to < 0 || uint64(to)+bio.Sectors > bio.Dev.Size() {
			return faultAction{fail: linuxerr.EIO}
		}
		return faultAction{run: cloneBio(bio, uint64(to), bio.Data)}
	case FaultTorn:
		var ack error
		if r.Err != 0 {
			ack = r.Err
		}
		if bio.Op != OpWrite || r.Keep >= bio.Sectors {
			return faultAction{ack: ack}
		}
		if r.Keep == 0 {
			return faultAction{drop: true, ack: ack}
		}
		sector, data := bio.Sector, bio.Data[:r.Keep*SectorSize]
		if r.KeepTail {
			sector = bio.Sector + bio.Sectors - r.Keep
			data = bio.Data[(bio.Sectors-r.Keep)*SectorSize:]
		}
		return faultAction{run: cloneBio(bio, sector, data), ack: ack}
	case FaultDrop:
		if isData && r.Ops&(FaultWrite|FaultDiscard) != 0 || bio.Op == OpFlush {
			return faultAction{drop: true}
		}
		// Matched as a flush: the data goes, the flush does not.
		nb := cloneBio(bio, bio.Sector, bio.Data)
		nb.Flags &^= ReqPreflush
		return faultAction{run: nb}
	}
	return faultAction{fail: r.errOf()}
}

// cloneBio is a bio like b (same op and flags) for sectors from sector,
// carrying data; the disk runs it in b's place.
func cloneBio(b *Bio, sector uint64, data []byte) *Bio {
	nb := NewBio(b.Op, b.Dev, sector, data, nil)
	nb.Flags = b.Flags
	if b.Op == OpDiscard || b.Op == OpFlush {
		nb.Sectors = b.Sectors
	}
	return nb
}

// corrupt flips bits random bits of data (which starts at sector) inside
// r's range.
func (f *Faults) corrupt(r *Fault, bits int, sector uint64, data []byte) {
	lo := max(sector, r.Start)
	hi := sector + uint64(len(data))/SectorSize
	if r.End != 0 {
		hi = min(hi, r.End)
	}
	if hi <= lo {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	base := (lo - sector) * SectorSize
	n := (hi - lo) * SectorSize * 8
	for i := 0; i < bits; i++ {
		bit := uint64(f.rng.Int63n(int64(n)))
		data[base+bit/8] ^= 1 << (bit % 8)
	}
}
