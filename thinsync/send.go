package thinsync

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"time"
)

// SendOpts are send's options.
type SendOpts struct {
	Pool       string
	ID         uint64
	Base       int64  // -1: a full stream
	Sectors    uint64 // volume size (0: from Dev's table)
	Dev        string // an active device of ID whose table length is the size
	BaseSector uint64 // the base's size (0: the same as the volume)
	Meta       string // the pool's metadata device (default: from the pool table)
	Codec      string
	Checkpoint uint64 // bytes between CHECKPOINT records (0: none)
	Out        string // file, device or "-"
	PauseHeld  time.Duration
	Progress   bool
	// Manifests is a directory of POOL-ID.manifest files: the base's
	// manifest spares reading the unchanged granules for the roots, and
	// the sent image's manifest is written there.
	Manifests string
	// Origin is the thin's external origin (a device path or major:minor):
	// its unmapped ranges read the origin's data, not zeros. Taken from
	// Dev's table when Dev is given.
	Origin string
	// Granule is the stream's granule in bytes (0: the pool block size):
	// a migration to a pool of another block size sends the target's. A
	// granule is mapped or changed when any pool block it overlaps is.
	Granule uint64
	// SkipSame leaves out of an incremental the changed granules whose
	// content is the base's (a granule smaller than the pool block: a
	// changed block's unchanged parts stay shared on the target).
	SkipSame bool
	// W, when set, receives the stream instead of Out (in-process use).
	W io.Writer
	// Track is a state of `track` whose base snapshot is ID: the stream is
	// an incremental from the state's "from" snapshot (deleted since) made
	// of the granules its changed-block map marks, with the base's root
	// from its manifest in Manifests; the map then empties and ID becomes
	// "from".
	Track string
}

// SendStats is what send did, for the summary line and tests.
type SendStats struct {
	End       End
	ReadBytes uint64 // changed data read from the source
	RootBytes uint64 // unchanged data read to compute the roots
	Root      [32]byte
	BaseRoot  [32]byte
	Size      uint64
	Tracked   bool // the changed granules came from a track map
}

// granuleSet is a set of granule indexes.
type granuleSet map[uint64]bool

// addRuns adds the blocks of runs below limit (runs from the metadata may
// go past the volume's end: the pool stores no size).
func (s granuleSet) addRuns(runs []Run, limit uint64) {
	for _, r := range runs {
		end := min(r.Begin+min(r.Length, limit), limit)
		for b := r.Begin; b < end; b++ {
			s[b] = true
		}
	}
}

// addBlockRuns adds the granules (of granule bytes) that runs of pool
// blocks (of block bytes) overlap, below limit granules.
func (s granuleSet) addBlockRuns(runs []Run, block, granule, limit uint64) {
	if block == granule {
		s.addRuns(runs, limit)
		return
	}
	for _, r := range runs {
		lo := r.Begin * block / granule
		hi := min(((r.Begin+r.Length)*block+granule-1)/granule, limit)
		for g := lo; g < hi; g++ {
			s[g] = true
		}
	}
}

// metadata reads what send needs under a metadata snapshot it takes and
// always releases: thin_dump -m (and thin_delta -m for an incremental).
func (t *tool) metadata(pool, meta string, id uint64, base int64, pause time.Duration) (*Dump, *Delta, error) {
	held, err := t.heldRoot(pool)
	if err != nil {
		return nil, nil, err
	}
	if held != "-" {
		return nil, nil, fail(ExitHeld, "pool %s: a metadata snapshot is already held, not by thinsync: leaving it", pool)
	}
	if err := t.poolMessage(pool, "reserve_metadata_snap"); err != nil {
		// someone took it between our status and our message
		return nil, nil, fail(ExitHeld, "pool %s: cannot reserve the metadata snapshot: %v", pool, err)
	}
	defer t.cleanup("message", pool, "0", "release_metadata_snap")
	if pause > 0 {
		t.sys.Sleep(pause)
	}
	if t.sys.Killed() {
		return nil, nil, errKilled
	}
	out, err := t.exec(false, "thin_dump", "-m", meta)
	if err != nil {
		return nil, nil, err
	}
	dump, err := ParseDump(out)
	if err != nil {
		return nil, nil, err
	}
	var delta *Delta
	if base >= 0 {
		out, err := t.exec(false, "thin_delta", "-m", "--snap1", fmt.Sprint(base), "--snap2", fmt.Sprint(id), meta)
		if err != nil {
			return nil, nil, err
		}
		if delta, err = ParseDelta(out); err != nil {
			return nil, nil, err
		}
	}
	return dump, delta, nil
}

// sameAsBase reports whether granule g's data is the base's (by the
// base manifest's hash; no hash: all zeros).
func sameAsBase(bm *Manifest, g uint64, data []byte) bool {
	h, ok := bm.Hashes[g]
	if !ok {
		return isZero(data)
	}
	return h == sha256.Sum256(data)
}

// openOut opens send's output: stdout, a block device (written in place)
// or a file (truncated).
func (t *tool) openOut(name string) (io.Writer, func() error, error) {
	if name == "" || name == "-" {
		bw := bufio.NewWriterSize(t.sys.Stdout(), 1<<20)
		return bw, bw.Flush, nil
	}
	flag := OWrite
	if !t.sys.IsDevice(name) {
		flag |= OCreate | OTrunc
	}
	f, err := t.sys.Open(name, flag)
	if err != nil {
		return nil, nil, fail(ExitError, "%s", errText(err))
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	return bw, func() error {
		err := bw.Flush()
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(ExitError, "write %s: %s", name, errText(err))
		}
		return nil
	}, nil
}

// Send writes a stream of thin ID (incremental from Base) of pool Pool.
func (t *tool) Send(o *SendOpts) (st *SendStats, err error) {
	p, err := t.pool(o.Pool)
	if err != nil {
		return nil, err
	}
	meta := o.Meta
	if meta == "" {
		if meta, err = t.devPath(p.metaDev); err != nil {
			return nil, err
		}
	}
	sectors := o.Sectors
	if sectors == 0 && o.Dev != "" {
		if sectors, err = t.tableSectors(o.Dev); err != nil {
			return nil, err
		}
	}
	origin := o.Origin
	if origin == "" && o.Dev != "" {
		if origin, err = t.tableOrigin(o.Dev); err != nil {
			return nil, err
		}
	}
	block := p.blockSize * 512
	granule := block
	if o.Granule != 0 {
		if o.Granule%512 != 0 || o.Granule > MaxPayload || o.Track != "" {
			return nil, fail(ExitUsage, "send: bad granule %d", o.Granule)
		}
		granule = o.Granule
	}
	var track *State
	var trackMap []byte
	var bm *Manifest
	if o.Track != "" {
		if track, trackMap, bm, err = t.sendTrack(o, granule); err != nil {
			return nil, err
		}
		if o.Sectors == 0 {
			sectors = track.num("size") / 512 // the snapshot's, taken by track
		}
		o.BaseSector = bm.Size / 512
	}
	if sectors == 0 {
		return nil, fail(ExitUsage, "send: give --size or --dev")
	}
	baseSectors := o.BaseSector
	if baseSectors == 0 {
		baseSectors = sectors
	}
	// Keep the source open (activated) while we read it, so that it cannot
	// be deleted under us (the metadata snapshot pins metadata, not data).
	src, err := t.activate(fmt.Sprintf("thinsync-%s-%d-src", o.Pool, o.ID), o.Pool, o.ID, sectors, true, origin)
	if err != nil {
		return nil, err
	}
	defer t.deactivate(src)
	if o.Base >= 0 && bm == nil {
		bm = t.loadManifest(o.Manifests, o.Pool, uint64(o.Base), baseSectors*512, granule)
	}
	var basea *activation
	if o.Base >= 0 && bm == nil {
		if basea, err = t.activate(fmt.Sprintf("thinsync-%s-%d-base", o.Pool, o.Base), o.Pool, uint64(o.Base), baseSectors, true, origin); err != nil {
			return nil, err
		}
		defer t.deactivate(basea)
	}
	if t.sys.Killed() {
		return nil, errKilled
	}
	deltaBase := o.Base
	if track != nil {
		deltaBase = -1 // the map is the delta; the base snapshot is gone
	}
	dump, delta, err := t.metadata(o.Pool, meta, o.ID, deltaBase, o.PauseHeld)
	if err != nil {
		return nil, err
	}
	if dump.BlockSize != p.blockSize {
		return nil, fail(ExitError, "pool %s: metadata says block size %d, the table %d", o.Pool, dump.BlockSize, p.blockSize)
	}
	dev := dump.Devs[o.ID]
	if dev == nil {
		return nil, fail(ExitError, "pool %s: no thin device %d", o.Pool, o.ID)
	}
	var bdev *DumpDev
	if delta != nil {
		if bdev = dump.Devs[uint64(o.Base)]; bdev == nil {
			return nil, fail(ExitError, "pool %s: no thin device %d", o.Pool, o.Base)
		}
	}

	size, baseSize := sectors*512, baseSectors*512
	newMan := NewManifest(size, granule)
	baseMan := NewManifest(baseSize, granule)
	mapped := granuleSet{}
	limit := max(newMan.Granules(), baseMan.Granules())
	mapped.addBlockRuns(dev.Mapped, block, granule, limit)
	changed := granuleSet{}
	baseMapped := granuleSet{}
	if delta != nil {
		for _, tag := range []string{"different", "left_only", "right_only"} {
			changed.addBlockRuns(delta.Ranges[tag], block, granule, limit)
		}
		baseMapped.addBlockRuns(bdev.Mapped, block, granule, limit)
	}
	if track != nil {
		changed.addRuns(bitmapRuns(trackMap, min(track.num("granules"), limit)), limit)
	}
	if origin != "" {
		// thin_map(): an unmapped block of a thin with an external origin
		// reads the origin (zeros past its end): every granule is data,
		// read through the device; left_only ranges are DATA, not ZERO.
		for g := uint64(0); g < limit; g++ {
			mapped[g], baseMapped[g] = true, true
		}
	}
	b := &Begin{Version: 1, Kind: "full", Size: size, Granule: granule, Codec: o.Codec, Checkpoint: o.Checkpoint,
		DevID: o.ID, BaseID: o.Base, Transaction: dump.Transaction, Time: dump.Time, SnapTime: dev.SnapTime}

	in, err := t.sys.Open(src.dev, ORead|ODirect)
	if err != nil {
		return nil, fail(ExitError, "%s", errText(err))
	}
	defer in.Close()
	var bin File
	if basea != nil {
		if bin, err = t.sys.Open(basea.dev, ORead|ODirect); err != nil {
			return nil, fail(ExitError, "%s", errText(err))
		}
		defer bin.Close()
	}
	buf := alignedBuf(int(granule))
	read := func(f File, name string, off, n uint64) ([]byte, error) {
		if t.sys.Killed() {
			return nil, errKilled
		}
		if _, err := f.ReadAt(buf[:n], int64(off)); err != nil {
			return nil, fail(ExitError, "read %s at %d: %s", name, off, errText(err))
		}
		return buf[:n], nil
	}
	st = &SendStats{Size: size}

	// An incremental needs the base's root before BEGIN: unchanged granules
	// hash the same in both images ("same" in thin_delta means the same
	// data block), changed ones are read from the base.
	incremental := o.Base >= 0
	isChanged := func(g uint64) bool {
		if !incremental {
			return true
		}
		end := (g + 1) * granule
		return changed[g] || end > size || end > baseSize
	}
	if incremental && bm != nil {
		// Unchanged granules hash as in the base's manifest.
		baseMan = bm
		for g := uint64(0); g < newMan.Granules(); g++ {
			if h, ok := bm.Hashes[g]; ok && !isChanged(g) {
				newMan.Hashes[g] = h
			}
		}
	}
	if incremental {
		b.Kind, b.BaseSize = "incremental", baseSize
		for g := uint64(0); g < baseMan.Granules() && bm == nil; g++ {
			off, n := baseMan.Span(g)
			switch {
			case isChanged(g) && baseMapped[g]:
				data, err := read(bin, basea.dev, off, n)
				if err != nil {
					return nil, err
				}
				st.RootBytes += n
				baseMan.Set(g, data)
			case !isChanged(g) && mapped[g]:
				data, err := read(in, src.dev, off, n)
				if err != nil {
					return nil, err
				}
				st.RootBytes += n
				baseMan.Set(g, data)
				newMan.Set(g, data)
			}
		}
		st.BaseRoot = baseMan.Root()
		b.BaseRoot = Hex(st.BaseRoot)
	}

	w, closeOut, err := t.openOut(o.Out)
	if o.W != nil {
		w, closeOut, err = o.W, func() error { return nil }, nil
	}
	if err != nil {
		return nil, err
	}
	enc, err := NewEncoder(w, b)
	if err != nil {
		closeOut()
		return nil, fail(ExitError, "write stream: %s", errText(err))
	}
	var zeroOff, zeroLen uint64
	flushZero := func() error {
		if zeroLen == 0 {
			return nil
		}
		err := enc.Zero(zeroOff, zeroLen)
		zeroLen = 0
		return err
	}
	prog := t.newProgress(o.Progress, size)
	// The granules' SHA-256 for the root runs beside the encoder (the pipe
	// and the encoder only read a buffer; it is read into again only once
	// both are done with it).
	hp := newHashPipe(newMan, int(granule))
	defer hp.Wait()
	for g := uint64(0); g < newMan.Granules(); g++ {
		off, n := newMan.Span(g)
		if !isChanged(g) {
			continue
		}
		prog.update(off)
		var data []byte
		if mapped[g] {
			if t.sys.Killed() {
				closeOut()
				return nil, errKilled
			}
			hbuf := hp.Buf()
			if _, err := in.ReadAt(hbuf[:n], int64(off)); err != nil {
				closeOut()
				return nil, fail(ExitError, "read %s at %d: %s", src.dev, off, errText(err))
			}
			data = hbuf[:n]
			st.ReadBytes += n
			same := o.SkipSame && delta != nil && (g+1)*granule <= min(size, baseSize) && sameAsBase(baseMan, g, data)
			hp.Set(g, hbuf, data)
			if same {
				continue
			}
		}
		if data == nil || isZero(data) {
			if zeroLen > 0 && zeroOff+zeroLen == off {
				zeroLen += n
			} else {
				if err := flushZero(); err != nil {
					break
				}
				zeroOff, zeroLen = off, n
			}
			continue
		}
		if err := flushZero(); err != nil {
			break
		}
		if err := enc.Data(off, data); err != nil {
			break
		}
	}
	prog.done()
	flushZero()
	hp.Wait()
	st.Root = newMan.Root()
	enc.Close(st.Root)
	st.End = enc.End
	if enc.err != nil {
		closeOut()
		return nil, fail(ExitError, "write stream: %s", errText(enc.err))
	}
	if err := closeOut(); err != nil {
		return nil, err
	}
	if err := t.saveManifest(o.Manifests, o.Pool, o.ID, newMan); err != nil {
		return nil, err
	}
	if track != nil {
		// The stream holds every change up to ID: the map starts again
		// from there.
		st.Tracked = true
		kv := maps.Clone(track.KV)
		kv["from"] = fmt.Sprint(o.ID)
		if _, err := t.saveTrack(o.Track, track, kv, make([]byte, len(trackMap))); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// sendTrack loads send --track's state, its map and the manifest of the
// snapshot the map counts from.
func (t *tool) sendTrack(o *SendOpts, granule uint64) (*State, []byte, *Manifest, error) {
	if o.Base >= 0 || o.Manifests == "" {
		return nil, nil, nil, fail(ExitUsage, "send: --track takes --manifests and no --base (the state names the base)")
	}
	s, err := t.loadState(o.Track)
	if err != nil {
		return nil, nil, nil, err
	}
	if s == nil || s.get("phase") != "tracking" || s.get("pool") != o.Pool {
		return nil, nil, nil, fail(ExitState, "state %s does not track a thin of pool %s", o.Track, o.Pool)
	}
	if s.num("base") != o.ID || s.get("next") != "" || s.get("old") != "" {
		return nil, nil, nil, fail(ExitState, "state %s: thin %s is tracked up to snapshot %s, not %d (or a track run did not finish: run it again)",
			o.Track, s.get("id"), s.get("base"), o.ID)
	}
	if s.num("granule") != granule {
		return nil, nil, nil, fail(ExitGeometry, "state %s counts %s-byte granules, the pool's are %d", o.Track, s.get("granule"), granule)
	}
	bitmap, err := t.loadTrackMap(o.Track, s)
	if err != nil {
		return nil, nil, nil, err
	}
	from := s.num("from")
	bm := t.loadManifest(o.Manifests, o.Pool, from, 0, granule)
	if bm == nil {
		return nil, nil, nil, fail(ExitWrongBase, "send: no manifest of snapshot %d (the map counts from it) in %s: send a full stream and track --reset", from, o.Manifests)
	}
	o.Base = int64(from)
	return s, bitmap, bm, nil
}
