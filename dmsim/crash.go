package dmsim

import (
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"sort"
	"strings"
	"sync"
)

// The persistence contract of a disk with a volatile write cache, as the
// block layer states it (Documentation/block/writeback_cache_control.rst),
// and the crash states it allows.
//
//   - A completed write is volatile: it may or may not survive a power cut.
//   - An empty flush (or the REQ_PREFLUSH of a write) makes every write
//     completed before it durable. Flushes cut the bio stream into epochs.
//   - REQ_FUA makes the bio's own data durable when it completes. virtio_blk
//     in 6.1 has no native FUA (queue/fua 0): the flush machinery
//     (block/blk-flush.c) sends the data as a plain write and then a flush,
//     so a FUA write also makes every earlier write durable. A disk with
//     native FUA (DiskSpec.NativeFUA) keeps only the FUA write itself.
//   - A discard zeroes its range (qemu discard=unmap on a raw image), and is
//     as volatile as a write.
//   - A crash keeps any subset of the current epoch's writes, applied in
//     their order (prefix mode: only a prefix of it), on top of the image
//     the last flush made durable. A torn write keeps part of its sectors:
//     writes tear only at 512-byte boundaries.
//
// A disk with a bio log (DiskSpec.BioLog) records every bio it executes;
// CrashStates enumerates the durable images the log allows.

// BioRecord is one bio a disk executed successfully, as its bio log keeps
// it. Bios an injected fault failed never reached the medium and are not
// recorded; neither are empty flushes the block layer completed itself.
type BioRecord struct {
	// Seq orders records across every disk of a kernel.
	Seq     uint64
	Op      Op
	Flags   BioFlags
	Sector  uint64
	Sectors uint64
	// Hash is the FNV-1a hash of the data written or read (0 for flushes
	// and discards).
	Hash uint64

	data []byte // writes: a private copy of the payload
}

// Data is the payload of a write record (nil for other records); callers
// must not modify it.
func (r BioRecord) Data() []byte { return r.data }

// String is the record in the notation of the crash-injection spec:
// "W8+8", "W0+8 FUA", "R0+1", "D64+8", "F".
func (r BioRecord) String() string {
	var s string
	switch r.Op {
	case OpFlush:
		return "F"
	case OpRead:
		s = fmt.Sprintf("R%d+%d", r.Sector, r.Sectors)
	case OpWrite:
		s = fmt.Sprintf("W%d+%d", r.Sector, r.Sectors)
	case OpDiscard:
		s = fmt.Sprintf("D%d+%d", r.Sector, r.Sectors)
	}
	if r.Flags&ReqPreflush != 0 {
		s += " PREFLUSH"
	}
	if r.Flags&ReqFUA != 0 {
		s += " FUA"
	}
	return s
}

// FormatBioLog joins records with spaces; readsToo keeps read records.
func FormatBioLog(recs []BioRecord, readsToo bool) string {
	var parts []string
	for _, r := range recs {
		if r.Op == OpRead && !readsToo {
			continue
		}
		parts = append(parts, r.String())
	}
	return strings.Join(parts, " ")
}

func dataHash(p []byte) uint64 {
	h := fnv.New64a()
	h.Write(p)
	return h.Sum64()
}

// bioLog is a disk's in-memory record of the bios it executed, plus what
// the image held before the log started (the base of every crash state).
type bioLog struct {
	mu   sync.Mutex
	recs []BioRecord
	// undo holds, for every sector the image file changed since the log
	// started, its content at that time (zeroSector when it read as zero).
	undo map[uint64][]byte
}

var zeroSector = make([]byte, SectorSize)

// CrashMode selects which subsets of an epoch a crash may keep.
type CrashMode int

const (
	// CrashPrefix keeps a prefix of the epoch's writes (the dm-log-writes /
	// replay-log model).
	CrashPrefix CrashMode = iota
	// CrashSubset keeps any order-preserving subset of them (CrashMonkey's).
	CrashSubset
	// CrashTorn is CrashPrefix plus, for each write of more than one sector,
	// the states where the writes before it persisted and it persisted
	// torn: only its first k sectors, or only its last n-k, 0 < k < n.
	CrashTorn
)

func (m CrashMode) String() string {
	switch m {
	case CrashPrefix:
		return "prefix"
	case CrashSubset:
		return "subset"
	case CrashTorn:
		return "torn"
	}
	return fmt.Sprintf("CrashMode(%d)", int(m))
}

// DefaultMaxSubset is the largest epoch (in writes free to be lost) whose
// subsets CrashSubset enumerates exhaustively; larger epochs fall back to
// prefixes.
const DefaultMaxSubset = 12

// CrashOptions configure CrashStates.
type CrashOptions struct {
	Mode CrashMode
	// AllPoints enumerates a crash just before each flush completes, as well
	// as at the end of the log; otherwise only a crash after the last record.
	AllPoints bool
	// NativeFUA: a FUA write is durable on its own (the disk honours FUA);
	// otherwise it is a write followed by a flush (virtio in 6.1).
	NativeFUA bool
	// MaxSubset bounds exhaustive subsets (0: DefaultMaxSubset).
	MaxSubset int
	// MaxPrefix, if not 0, bounds the prefixes of an epoch of more writes
	// than that: MaxPrefix+1 prefix lengths evenly spread from 0 to all.
	MaxPrefix int
	// TearOnly, if set, limits CrashTorn's tears to the writes it accepts
	// (by Seq), e.g. the superblock writes.
	TearOnly func(seq uint64) bool
}

// Tear is the part of a torn write that persisted.
type Tear struct {
	Seq             uint64 // the torn write
	Sector, Sectors uint64 // the sectors of it that persisted
}

// CrashState is one durable image a crash may leave.
type CrashState struct {
	// Point is the crash point: the crash comes before flush number Point
	// (counting from 0) completed; Point equals the number of flushes when
	// the crash comes after the last record.
	Point int
	// At is the Seq of the record whose completion the crash comes before
	// (the flush, the PREFLUSH write, the FUA write's post-flush): the
	// records of other disks with a lower Seq completed before the crash.
	// ^uint64(0) for the crash after the last record.
	At uint64
	// Epoch are the Seq numbers of the epoch's writes and discards, in
	// order: the records a crash at Point may keep (Kept is a subset).
	Epoch []uint64
	// Kept are the Seq numbers of the current epoch's writes and discards
	// the state keeps, in order (pinned native-FUA writes included).
	Kept []uint64
	// Tear, if not nil, is a write that persisted only in part (its Seq is
	// not in Kept).
	Tear *Tear

	img *CrashImage
}

// Image is the durable image of the state.
func (s *CrashState) Image() *CrashImage { return s.img }

// String is a short description: "point 3 keep [12 14] tear 15:0+1".
func (s *CrashState) String() string {
	str := fmt.Sprintf("point %d keep %v", s.Point, s.Kept)
	if s.Tear != nil {
		str += fmt.Sprintf(" tear %d:%d+%d", s.Tear.Seq, s.Tear.Sector, s.Tear.Sectors)
	}
	return str
}

// sectorMap is sector -> 512 bytes (zeroSector for a discarded sector); the
// slices are shared and never modified.
type sectorMap map[uint64][]byte

func (m sectorMap) apply(r *BioRecord, lo, hi uint64) {
	for i := lo; i < hi; i++ {
		if r.Op == OpDiscard {
			m[r.Sector+i] = zeroSector
		} else {
			m[r.Sector+i] = r.data[i*SectorSize : (i+1)*SectorSize]
		}
	}
}

// durableImage is the image the flushes so far made durable: the log's
// base plus every sector written since.
type durableImage struct {
	base    io.ReaderAt // nil: zeros
	sectors uint64
	m       sectorMap
	fp      uint64      // Fingerprint of the image relative to base
	memo    *sectorMemo // shared by every image of one CrashStates
}

// sectorMemo caches sector hashes: of the base image's sectors, and of
// the records' payload sectors (by the address of their first byte, as
// sectorMap's slices are shared and never modified).
type sectorMemo struct {
	mu   sync.Mutex
	base map[uint64]uint64
	data map[*byte]uint64
}

// sectorHash is the hash of sector s holding b.
func sectorHash(s uint64, b []byte) uint64 {
	h := fnv.New64a()
	var n [8]byte
	for i := range n {
		n[i] = byte(s >> (8 * i))
	}
	h.Write(n[:])
	h.Write(b)
	return h.Sum64()
}

// hashOf is sectorHash of sector s holding b (a sectorMap value).
func (m *sectorMemo) hashOf(s uint64, b []byte) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.data[&b[0]]; ok && &b[0] != &zeroSector[0] {
		return v
	}
	v := sectorHash(s, b)
	if &b[0] != &zeroSector[0] {
		m.data[&b[0]] = v
	}
	return v
}

// baseHash is sectorHash of sector s of the base image.
func (d *durableImage) baseHash(s uint64) uint64 {
	d.memo.mu.Lock()
	v, ok := d.memo.base[s]
	d.memo.mu.Unlock()
	if ok {
		return v
	}
	b := make([]byte, SectorSize)
	if d.base != nil {
		readSectorPart(d.base, b, int64(s)*SectorSize)
	}
	v = sectorHash(s, b)
	d.memo.mu.Lock()
	d.memo.base[s] = v
	d.memo.mu.Unlock()
	return v
}

// current is the hash of sector s of the durable image.
func (d *durableImage) current(s uint64) uint64 {
	if b, ok := d.m[s]; ok {
		return d.memo.hashOf(s, b)
	}
	return d.baseHash(s)
}

// clone is a copy of d to make more writes durable in (d is shared with
// the states already yielded).
func (d *durableImage) clone() *durableImage {
	m := make(sectorMap, len(d.m))
	for k, v := range d.m {
		m[k] = v
	}
	return &durableImage{base: d.base, sectors: d.sectors, m: m, fp: d.fp, memo: d.memo}
}

// applyRecord makes a record's sectors [lo, hi) durable, keeping fp.
func (d *durableImage) applyRecord(r *BioRecord, lo, hi uint64) {
	for i := lo; i < hi; i++ {
		s := r.Sector + i
		old := d.current(s)
		v := zeroSector
		if r.Op != OpDiscard {
			v = r.data[i*SectorSize : (i+1)*SectorSize]
		}
		d.m[s] = v
		d.fp ^= old ^ d.memo.hashOf(s, v)
	}
}

// CrashImage is a crash state's disk image: an overlay of the epoch's kept
// writes over the durable image, which it shares with other states (a state
// costs no copy of the disk).
type CrashImage struct {
	d    *durableImage
	over sectorMap
}

// Size is the image size in bytes.
func (c *CrashImage) Size() int64 { return int64(c.d.sectors) * SectorSize }

// Fingerprint is a hash of the image's content: images of the same disk
// log with equal content have equal fingerprints, whatever writes made
// them. It is the XOR of a hash of every sector (number and bytes), kept
// relative to the base image, so it costs one hash per sector written.
func (c *CrashImage) Fingerprint() uint64 {
	fp := c.d.fp
	for s, v := range c.over {
		fp ^= c.d.current(s) ^ c.d.memo.hashOf(s, v)
	}
	return fp
}

// ReadAt reads the image (io.ReaderAt).
func (c *CrashImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.Size() {
			return n, io.EOF
		}
		s, o := uint64(pos/SectorSize), int(pos%SectorSize)
		c2 := min(SectorSize-o, len(p)-n)
		if b, ok := c.over[s]; ok {
			copy(p[n:n+c2], b[o:])
		} else if b, ok := c.d.m[s]; ok {
			copy(p[n:n+c2], b[o:])
		} else if c.d.base != nil {
			if _, err := readSectorPart(c.d.base, p[n:n+c2], pos); err != nil {
				return n, err
			}
		} else {
			clear(p[n : n+c2])
		}
		n += c2
	}
	return n, nil
}

func readSectorPart(r io.ReaderAt, p []byte, off int64) (int, error) {
	k, err := r.ReadAt(p, off)
	if err == io.EOF {
		clear(p[k:])
		return len(p), nil
	}
	return k, err
}

// Bytes returns a copy of the whole image (tests; small disks).
func (c *CrashImage) Bytes() []byte {
	p := make([]byte, c.Size())
	c.ReadAt(p, 0)
	return p
}

// forEpochs walks a bio log in order: write adds each write or discard to
// the open flush epoch, and flush(seq) ends the epoch at a flush, before a
// REQ_PREFLUSH bio and (unless nativeFUA) after a FUA write, which is a
// write and a flush. A false from flush stops the walk, and forEpochs
// returns false.
func forEpochs(log []BioRecord, nativeFUA bool, write func(*BioRecord), flush func(seq uint64) bool) bool {
	for i := range log {
		r := &log[i]
		switch r.Op {
		case OpRead:
			continue
		case OpFlush:
			if !flush(r.Seq) {
				return false
			}
			continue
		}
		if r.Flags&ReqPreflush != 0 && !flush(r.Seq) {
			return false
		}
		write(r)
		if r.Op == OpWrite && r.Flags&ReqFUA != 0 && !nativeFUA && !flush(r.Seq) {
			return false
		}
	}
	return true
}

// CrashStates yields the durable images a crash may leave, given the bio
// log of a disk of sectors sectors whose content when the log started is
// base (nil: zeros). Order is canonical: points ascending, then prefixes by
// length, or subsets in binary counting order (bit i keeps the epoch's i-th
// write), then tears. A state equal by construction to one already yielded
// (the empty subset at a point whose previous epoch was yielded in full) is
// not yielded again.
func CrashStates(base io.ReaderAt, sectors uint64, log []BioRecord, opt CrashOptions) iter.Seq[*CrashState] {
	if opt.MaxSubset <= 0 {
		opt.MaxSubset = DefaultMaxSubset
	}
	return func(yield func(*CrashState) bool) {
		d := &durableImage{base: base, sectors: sectors, m: sectorMap{},
			memo: &sectorMemo{base: map[uint64]uint64{}, data: map[*byte]uint64{}}}
		shared := false // d was handed to a yielded state
		var epoch []*BioRecord
		point := 0
		// flush ends the epoch: its writes become durable.
		flush := func(at uint64) bool {
			if opt.AllPoints && !enumerateEpoch(d, epoch, point, at, opt, &shared, yield) {
				return false
			}
			if len(epoch) > 0 {
				if shared {
					d, shared = d.clone(), false
				}
				for _, r := range epoch {
					d.applyRecord(r, 0, r.Sectors)
				}
			}
			epoch = epoch[:0]
			point++
			return true
		}
		if !forEpochs(log, opt.NativeFUA, func(r *BioRecord) { epoch = append(epoch, r) }, flush) {
			return
		}
		// The crash after the last record.
		enumerateEpoch(d, epoch, point, ^uint64(0), opt, &shared, yield)
	}
}

// enumerateEpoch yields the states of a crash at point, before the epoch's
// writes were made durable.
func enumerateEpoch(d *durableImage, epoch []*BioRecord, point int, at uint64, opt CrashOptions, shared *bool, yield func(*CrashState) bool) bool {
	var free []int // indices into epoch of writes a crash may lose
	pinned := false
	for i, r := range epoch {
		if opt.NativeFUA && r.Op == OpWrite && r.Flags&ReqFUA != 0 {
			pinned = true
			continue
		}
		free = append(free, i)
	}
	// The empty subset equals the previous point's full state.
	skipEmpty := opt.AllPoints && point > 0 && !pinned
	seqs := make([]uint64, len(epoch))
	for i, r := range epoch {
		seqs[i] = r.Seq
	}
	emit := func(keep func(j int) bool, tear *Tear, tearRec *BioRecord) bool {
		st := &CrashState{Point: point, At: at, Epoch: seqs, Tear: tear}
		over := sectorMap{}
		fi := 0
		for i, r := range epoch {
			isFree := fi < len(free) && free[fi] == i
			if isFree {
				fi++
			}
			if !isFree || keep(fi-1) {
				st.Kept = append(st.Kept, r.Seq)
				over.apply(r, 0, r.Sectors)
			} else if r == tearRec {
				over.apply(r, tear.Sector-r.Sector, tear.Sector-r.Sector+tear.Sectors)
			}
		}
		if skipEmpty && len(st.Kept) == 0 && tear == nil {
			return true
		}
		st.img = &CrashImage{d: d, over: over}
		*shared = true
		return yield(st)
	}
	m := len(free)
	prefixes := func() bool {
		for k := 0; k <= m; k++ {
			if opt.MaxPrefix > 0 && m > opt.MaxPrefix && k != m && k*opt.MaxPrefix/m == (k-1)*opt.MaxPrefix/m && k > 0 {
				continue // between two of the MaxPrefix+1 lengths kept
			}
			if !emit(func(j int) bool { return j < k }, nil, nil) {
				return false
			}
		}
		return true
	}
	switch {
	case opt.Mode == CrashSubset && m <= opt.MaxSubset:
		for mask := uint64(0); mask < 1<<m; mask++ {
			if !emit(func(j int) bool { return mask&(1<<j) != 0 }, nil, nil) {
				return false
			}
		}
	case opt.Mode == CrashTorn:
		if !prefixes() {
			return false
		}
		for j := 0; j < m; j++ {
			r := epoch[free[j]]
			if r.Op != OpWrite || r.Sectors < 2 || (opt.TearOnly != nil && !opt.TearOnly(r.Seq)) {
				continue
			}
			for _, head := range []bool{true, false} {
				for k := uint64(1); k < r.Sectors; k++ {
					t := &Tear{Seq: r.Seq, Sector: r.Sector, Sectors: k}
					if !head {
						t.Sector, t.Sectors = r.Sector+k, r.Sectors-k
					}
					if !emit(func(i int) bool { return i < j }, t, r) {
						return false
					}
				}
			}
		}
	default:
		return prefixes()
	}
	return true
}

// DurableImages returns, for a disk's bio log, the durable image a crash at
// instant at leaves when it drops every write no flush (or FUA) covered
// before at: what a disk keeps while another disk's crash states are
// enumerated. The images are built in one pass over the log, copy-on-write
// at each flush, and share one sector-hash memo, so each costs what its
// flush epoch wrote.
// A FUA write is a write and a flush, as CrashStates takes it without
// NativeFUA.
func DurableImages(base io.ReaderAt, sectors uint64, log []BioRecord) func(at uint64) *CrashImage {
	type durableAfter struct {
		seq uint64 // the flush (or FUA write, PREFLUSH write) completed
		img *CrashImage
	}
	memo := &sectorMemo{base: map[uint64]uint64{}, data: map[*byte]uint64{}}
	d := &durableImage{base: base, sectors: sectors, m: sectorMap{}, memo: memo}
	first := &CrashImage{d: d}
	var points []durableAfter
	var epoch []*BioRecord
	flush := func(seq uint64) bool {
		if len(epoch) > 0 {
			d = d.clone()
			for _, r := range epoch {
				d.applyRecord(r, 0, r.Sectors)
			}
			epoch = epoch[:0]
		}
		points = append(points, durableAfter{seq, &CrashImage{d: d}})
		return true
	}
	forEpochs(log, false, func(r *BioRecord) { epoch = append(epoch, r) }, flush)
	return func(at uint64) *CrashImage {
		n := sort.Search(len(points), func(i int) bool { return points[i].seq >= at })
		if n == 0 {
			return first
		}
		return points[n-1].img
	}
}
