package thinsync

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/dmsim/dmsim/linuxerr"
)

// RecvOpts are recv's options.
type RecvOpts struct {
	Pool   string
	ID     uint64
	Base   int64 // -1: a full stream into a new thin
	In     string
	State  string // file or device for resume state ("" : none)
	Resume bool
	Abort  bool
	Verify string // root or none
	// Manifests: see SendOpts; the base's manifest spares reading the base
	// for its identity and the unchanged granules for verification.
	Manifests string
	// NoFlush (a test hook) skips the fsync after END: what a receiver
	// without one risks (the pool commits only every second otherwise).
	NoFlush bool
	// To and Undo: an in-place receive onto a file or device (RecvInPlace).
	To, Undo string
	// StopAfter (a test hook) exits after that many DATA/ZERO records,
	// without any cleanup, as if the process had been killed.
	StopAfter uint64
	// R, when set, is the stream instead of In (in-process use).
	R io.Reader
}

// RecvStats is what recv did.
type RecvStats struct {
	Records, Written, Zeroed, Discarded, Skipped uint64
	Root                                         [32]byte
}

var errStopped = errors.New("stopped")

func (t *tool) openIn(name string) (io.Reader, func(), error) {
	if name == "" || name == "-" {
		return bufio.NewReaderSize(t.sys.Stdin(), 1<<20), func() {}, nil
	}
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return nil, nil, fail(ExitError, "%s", errText(err))
	}
	return bufio.NewReaderSize(f, 1<<20), func() { f.Close() }, nil
}

// openStream opens a stream (a file, a device or "-") and reads its BEGIN
// record.
func (t *tool) openStream(name string) (*Decoder, func(), error) {
	r, closeIn, err := t.openIn(name)
	if err != nil {
		return nil, nil, err
	}
	dec, err := NewDecoder(r)
	if err != nil {
		closeIn()
		return nil, nil, streamFail(err)
	}
	return dec, closeIn, nil
}

func streamFail(err error) error {
	var se *StreamError
	if errors.As(err, &se) {
		return fail(ExitStream, "stream refused: %v", err)
	}
	return fail(ExitError, "read stream: %s", errText(err))
}

// imageRoot reads a device's first size bytes and returns its manifest.
func (t *tool) imageRoot(dev string, size, granule uint64) (*Manifest, error) {
	f, err := t.sys.Open(dev, ORead|ODirect)
	if err != nil {
		return nil, fail(ExitError, "%s", errText(err))
	}
	defer f.Close()
	return t.readManifest(f, dev, size, granule)
}

// Recv receives a stream into a new thin (a snapshot of Base for an
// incremental), publishing it only after END, a flush and verification.
func (t *tool) Recv(o *RecvOpts) (st *RecvStats, err error) {
	p, err := t.pool(o.Pool)
	if err != nil {
		return nil, err
	}
	granule := p.blockSize * 512
	var prev *State
	if o.State != "" {
		if prev, err = t.loadState(o.State); err != nil {
			return nil, err
		}
	}
	recvName := fmt.Sprintf("thinsync-%s-%d-recv", o.Pool, o.ID)
	if o.Abort {
		if prev == nil || prev.get("phase") != "receiving" || prev.get("pool") != o.Pool || prev.num("id") != o.ID {
			return nil, fail(ExitState, "nothing to abort for pool %s thin %d", o.Pool, o.ID)
		}
		t.exec(true, "dmsetup", "remove", recvName) // left by a kill; absent after a reboot
		if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", o.ID)); err != nil && prev.num("pos") != 0 {
			return nil, err // at pos 0 the crash may have come before the thin was created
		}
		s := &State{KV: map[string]string{"phase": "aborted", "pool": o.Pool, "id": fmt.Sprint(o.ID), "stream": prev.get("stream")}}
		return &RecvStats{}, t.saveState(o.State, prev, s)
	}
	if o.Resume && (prev == nil || prev.get("phase") != "receiving" || prev.get("pool") != o.Pool || prev.num("id") != o.ID) {
		return nil, fail(ExitState, "nothing to resume for pool %s thin %d", o.Pool, o.ID)
	}

	var dec *Decoder
	closeIn := func() {}
	if o.R != nil {
		if dec, err = NewDecoder(o.R); err != nil {
			err = streamFail(err)
		}
	} else {
		dec, closeIn, err = t.openStream(o.In)
	}
	if err != nil {
		return nil, err
	}
	defer closeIn()
	b := dec.Begin
	id := hex.EncodeToString(dec.ID[:])
	switch {
	case b.Granule != granule:
		return nil, fail(ExitGeometry, "stream granule %d bytes, pool %s block %d bytes", b.Granule, o.Pool, granule)
	case b.Kind == "incremental" && o.Base < 0:
		return nil, fail(ExitWrongBase, "an incremental stream needs --base")
	case b.Kind == "full" && o.Base >= 0:
		return nil, fail(ExitUsage, "a full stream takes no --base")
	case o.Resume && prev.get("stream") != id:
		return nil, fail(ExitState, "the state is for stream %s, not %s", prev.get("stream")[:16], id[:16])
	}
	var bm *Manifest
	if o.Base >= 0 {
		bm = t.loadManifest(o.Manifests, o.Pool, uint64(o.Base), b.BaseSize, granule)
	}
	resumeAt := int64(-1)
	if o.Resume {
		resumeAt = int64(prev.num("pos"))
	} else {
		// The base must be the image the stream was made against.
		if bm != nil {
			if got := Hex(bm.Root()); got != b.BaseRoot {
				return nil, fail(ExitWrongBase, "thin %d is not the stream's base: root %s, stream wants %s", o.Base, got[:16], b.BaseRoot[:16])
			}
		} else if o.Base >= 0 {
			a, err := t.activate(fmt.Sprintf("thinsync-%s-%d-base", o.Pool, o.Base), o.Pool, uint64(o.Base), b.BaseSize/512, true)
			if err != nil {
				return nil, err
			}
			m, err := t.imageRoot(a.dev, b.BaseSize, granule)
			t.deactivate(a)
			if err != nil {
				return nil, err
			}
			if got := Hex(m.Root()); got != b.BaseRoot {
				return nil, fail(ExitWrongBase, "thin %d is not the stream's base: root %s, stream wants %s", o.Base, got[:16], b.BaseRoot[:16])
			}
		}
	}
	state := func(pos int64) error {
		if o.State == "" {
			return nil
		}
		s := &State{KV: map[string]string{"phase": "receiving", "pool": o.Pool, "id": fmt.Sprint(o.ID),
			"base": fmt.Sprint(o.Base), "stream": id, "pos": fmt.Sprint(pos)}}
		err := t.saveState(o.State, prev, s)
		prev = s
		return err
	}
	aborted := func() {
		if o.State != "" {
			s := &State{KV: map[string]string{"phase": "aborted", "pool": o.Pool, "id": fmt.Sprint(o.ID), "stream": id}}
			t.saveState(o.State, prev, s)
		}
	}
	create := func() error {
		msg := fmt.Sprintf("create_thin %d", o.ID)
		if o.Base >= 0 {
			msg = fmt.Sprintf("create_snap %d %d", o.ID, o.Base)
		}
		return t.poolMessage(o.Pool, msg)
	}
	if !o.Resume {
		// The state names the thin before it exists: a crash between the two
		// leaves a state that --resume (which creates it) or --abort handle.
		if err := state(0); err != nil {
			return nil, err
		}
		if err := create(); err != nil {
			aborted() // the id is someone else's: never ours to delete
			return nil, fail(ExitBusy, "%v", err)
		}
	}
	st = &RecvStats{}
	var a *activation
	keep := false // leave the partial receive for --resume
	defer func() {
		if keep || err == nil {
			return
		}
		if a != nil {
			t.deactivate(a)
		}
		t.cleanup("message", o.Pool, "0", fmt.Sprintf("delete %d", o.ID))
		aborted()
	}()
	if o.Resume {
		t.exec(true, "dmsetup", "remove", recvName) // left by a kill; absent after a reboot
	}
	a, err = t.activate(recvName, o.Pool, o.ID, b.Size/512, false)
	if err != nil && o.Resume && resumeAt == 0 && create() == nil {
		// the crash came before create_snap was committed
		a, err = t.activate(recvName, o.Pool, o.ID, b.Size/512, false)
	}
	if err != nil {
		return nil, err
	}
	f, err := t.sys.Open(a.dev, ORdWr|ODirect|OExcl)
	if err != nil {
		return nil, fail(ExitBusy, "%s", errText(err))
	}
	closed := false
	defer func() {
		if !closed {
			f.Close()
		}
	}()
	zero := alignedBuf(int(granule))
	touched := granuleSet{}
	writeErr := func(op string, off uint64, err error) error { return ioFail(op, a.dev, off, err) }
	zeroRange := func(off, n uint64) error {
		lo := (off + granule - 1) / granule * granule
		hi := (off + n) / granule * granule
		if lo < hi {
			if err := f.Discard(int64(lo), int64(hi-lo)); err == nil {
				st.Discarded += hi - lo
			} else {
				lo, hi = off, off // no discards: write zeros over the lot
			}
		} else {
			lo, hi = off, off
		}
		for _, r := range [][2]uint64{{off, lo}, {hi, off + n}} {
			for x := r[0]; x < r[1]; {
				k := min(granule-x%granule, r[1]-x)
				if _, err := f.WriteAt(zero[:k], int64(x)); err != nil {
					return writeErr("write", x, err)
				}
				st.Zeroed += k
				x += k
			}
		}
		return nil
	}
	err = t.applyRecords(st, &recordLoop{dec: dec, resumeAt: resumeAt, stopAfter: o.StopAfter, skipAll: true,
		seen: func(rec *Record) {
			for g := rec.Offset / granule; g*granule < rec.Offset+rec.Length; g++ {
				touched[g] = true
			}
		},
		data: func(rec *Record) error {
			// The decoder's buffers are aligned for O_DIRECT: no copy.
			if _, err := f.WriteAt(rec.Data, int64(rec.Offset)); err != nil {
				return writeErr("write", rec.Offset, err)
			}
			return nil
		},
		zero: zeroRange,
		checkpoint: func(pos int64) error {
			if o.State == "" {
				return nil
			}
			if err := f.Sync(); err != nil {
				return writeErr("flush", 0, err)
			}
			return state(pos)
		},
	})
	if err != nil {
		keep = errors.Is(err, errStopped) || errors.Is(err, errKilled) && o.State != ""
		return nil, err
	}
	// END is checked: flush, so the pool commits (a REQ_PREFLUSH), then
	// verify the image against END's root.
	if !o.NoFlush {
		if err := f.Sync(); err != nil {
			return nil, writeErr("flush", 0, err)
		}
	}
	closed = true
	f.Close()
	st.Root = dec.End.Root
	var m *Manifest
	if o.Verify != "none" || o.Manifests != "" {
		if m, err = t.verifyRoot(a.dev, b, bm, touched); err != nil {
			return nil, err
		}
		if m.Root() != dec.End.Root {
			return nil, fail(ExitVerify, "thin %d does not verify: root %s, stream says %s", o.ID, Hex(m.Root())[:16], Hex(dec.End.Root)[:16])
		}
	}
	t.deactivate(a)
	a = nil
	if m != nil {
		if err := t.saveManifest(o.Manifests, o.Pool, o.ID, m); err != nil {
			return nil, err
		}
	}
	if o.State != "" {
		s := &State{KV: map[string]string{"phase": "published", "pool": o.Pool, "id": fmt.Sprint(o.ID), "stream": id,
			"root": Hex(dec.End.Root)}}
		if err := t.saveState(o.State, prev, s); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// recordLoop is what a receive does with a stream's records (applyRecords).
type recordLoop struct {
	dec       *Decoder
	resumeAt  int64  // records before this stream position were applied before a crash
	stopAfter uint64 // the test hook: errStopped after that many DATA/ZERO records
	// skipAll counts every record before resumeAt as skipped (a receive
	// into a pool), else only DATA and ZERO records (in place).
	skipAll bool
	seen    func(rec *Record) // every DATA and ZERO record, skipped or not (may be nil)
	data    func(rec *Record) error
	zero    func(off, n uint64) error
	// checkpoint persists the position of a CHECKPOINT record.
	checkpoint func(pos int64) error
}

// applyRecords reads and checks the stream up to END and applies its
// records from l.resumeAt on. A termination signal ends it with errKilled.
func (t *tool) applyRecords(st *RecvStats, l *recordLoop) error {
	l.dec.SkipBefore = l.resumeAt // written before the crash: not decompressed
	for {
		if t.sys.Killed() {
			return errKilled
		}
		rec, err := l.dec.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return streamFail(err)
		}
		isRange := rec.Type == RecData || rec.Type == RecZero
		if isRange && l.seen != nil {
			l.seen(rec)
		}
		if rec.Pos < l.resumeAt {
			if isRange || l.skipAll {
				st.Skipped++
			}
			continue
		}
		switch rec.Type {
		case RecData:
			err = l.data(rec)
			st.Written += rec.Length
		case RecZero:
			err = l.zero(rec.Offset, rec.Length)
		case RecCheckpoint:
			err = l.checkpoint(rec.Pos)
		}
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		st.Records++
		if l.stopAfter > 0 && st.Records >= l.stopAfter {
			return errStopped
		}
	}
}

// ioFail is a failed write or flush of a receive's target: exit 9 when
// the pool ran out of space (ENOSPC), else 1.
func ioFail(op, dev string, off uint64, err error) error {
	if linuxerr.ToErrno(err) == linuxerr.ENOSPC {
		return fail(ExitNoSpace, "%s %s at %d: %s", op, dev, off, errText(err))
	}
	return fail(ExitError, "%s %s at %d: %s", op, dev, off, errText(err))
}

// verifyRoot reads the received image back after its flush: every granule
// when there is no base manifest, else only the granules the stream
// touched (a new thin, or a snapshot of a base that matched the manifest,
// reads the base's data everywhere else).
func (t *tool) verifyRoot(dev string, b *Begin, bm *Manifest, touched granuleSet) (*Manifest, error) {
	if bm == nil && b.Kind == "incremental" {
		return t.imageRoot(dev, b.Size, b.Granule)
	}
	m := NewManifest(b.Size, b.Granule)
	if bm != nil {
		m = bm.Resized(b.Size)
	}
	f, err := t.sys.Open(dev, ORead|ODirect)
	if err != nil {
		return nil, fail(ExitError, "%s", errText(err))
	}
	defer f.Close()
	idx := make([]uint64, 0, len(touched))
	for g := range touched {
		idx = append(idx, g)
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	if err := t.hashGranules(f, dev, m, idx); err != nil {
		return nil, err
	}
	return m, nil
}
