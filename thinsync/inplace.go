package thinsync

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/dmsim/dmsim/linuxerr"
)

// In-place receive (recv --to DEV --undo FILE): the stream is written
// straight onto a file or a non-thin device, and the undo file keeps the
// data it overwrites (lvmsync's snapback), so that a receive that did not
// reach its end can be rolled back (--abort) or continued (--resume).
//
// The undo file: the two state slots of state.go in its first 8 KiB, then
// a log of entries from offset 8192, each a 32-byte header — "THNU", the
// receive's generation u32 (the state sequence that began it: entries
// left by an earlier receive on a reused device are not this one's),
// volume offset u64, length u64, CRC-32C u32 of the data, CRC-32C u32 of
// the header's first 28 bytes — and the old data. An entry is synced
// before the target is written: a crash leaves at most a torn last entry,
// whose write never started. Rolling back applies the entries newest
// first, so the oldest copy of a range (the data before the receive) wins
// when a resume logged the range again.
const (
	undoMagic = "THNU"
	undoLog   = 2 * slotSize
	undoHdr   = 32
)

// undoEntry is one logged range: the old data sits at pos+undoHdr.
type undoEntry struct{ pos, off, n uint64 }

func encodeUndo(gen uint32, off uint64, data []byte) []byte {
	h := make([]byte, undoHdr)
	copy(h, undoMagic)
	binary.LittleEndian.PutUint32(h[4:], gen)
	binary.LittleEndian.PutUint64(h[8:], off)
	binary.LittleEndian.PutUint64(h[16:], uint64(len(data)))
	binary.LittleEndian.PutUint32(h[24:], crc32.Checksum(data, castagnoli))
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return append(h, data...)
}

// scanUndo returns the whole entries of the log, in order, and where the
// next one goes.
func scanUndo(u File, gen uint32, maxLen uint64) ([]undoEntry, uint64) {
	var es []undoEntry
	pos := uint64(undoLog)
	h := make([]byte, undoHdr)
	for {
		if n, _ := u.ReadAt(h, int64(pos)); n < undoHdr || string(h[:4]) != undoMagic || binary.LittleEndian.Uint32(h[4:]) != gen ||
			crc32.Checksum(h[:28], castagnoli) != binary.LittleEndian.Uint32(h[28:]) {
			return es, pos
		}
		off, n := binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:])
		if n == 0 || n > maxLen {
			return es, pos
		}
		data := make([]byte, n)
		if k, _ := u.ReadAt(data, int64(pos+undoHdr)); uint64(k) < n ||
			crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(h[24:]) {
			return es, pos
		}
		es = append(es, undoEntry{pos, off, n})
		pos += undoHdr + n
	}
}

// rollback writes the logged old data back, newest entry first, and
// syncs the target.
func (t *tool) rollback(f File, to string, u File, gen uint32, granule uint64) error {
	es, _ := scanUndo(u, gen, granule)
	buf := alignedBuf(int(granule))
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if _, err := u.ReadAt(buf[:e.n], int64(e.pos+undoHdr)); err != nil {
			return fail(ExitError, "undo: %s", errText(err))
		}
		if _, err := f.WriteAt(buf[:e.n], int64(e.off)); err != nil {
			return fail(ExitError, "roll back %s at %d: %s", to, e.off, errText(err))
		}
	}
	if err := f.Sync(); err != nil {
		return fail(ExitError, "flush %s: %s", to, errText(err))
	}
	return nil
}

// readManifest hashes the first size bytes of an open file or device.
func (t *tool) readManifest(f File, name string, size, granule uint64) (*Manifest, error) {
	m := NewManifest(size, granule)
	if err := t.hashGranules(f, name, m, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// hashGranules reads granules idx (every granule when nil) of an open file
// or device into m, hashing beside the reads.
func (t *tool) hashGranules(f File, name string, m *Manifest, idx []uint64) error {
	hp := newHashPipe(m, int(m.Granule))
	defer hp.Wait()
	if idx == nil {
		idx = make([]uint64, m.Granules())
		for i := range idx {
			idx[i] = uint64(i)
		}
	}
	for _, g := range idx {
		if t.sys.Killed() {
			return errKilled
		}
		off, n := m.Span(g)
		buf := hp.Buf()
		if _, err := f.ReadAt(buf[:n], int64(off)); err != nil {
			return fail(ExitError, "read %s at %d: %s", name, off, errText(err))
		}
		hp.Set(g, buf, buf[:n])
	}
	return nil
}

// openTarget opens the in-place target exclusively (EBUSY when it is
// mounted or held open exclusively) and checks its size.
func (t *tool) openTarget(to string, size uint64) (File, error) {
	f, err := t.sys.Open(to, ORdWr|ODirect|OExcl)
	if err != nil {
		if linuxerr.ToErrno(err) == linuxerr.EBUSY {
			return nil, fail(ExitBusy, "%s is open or mounted: %s", to, errText(err))
		}
		return nil, fail(ExitError, "%s", errText(err))
	}
	got, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fail(ExitError, "%s: %s", to, errText(err))
	}
	if size != 0 && uint64(got) != size {
		f.Close()
		return nil, fail(ExitGeometry, "%s is %d bytes, the stream's volume %d", to, got, size)
	}
	return f, nil
}

func (t *tool) openUndo(name string, create bool) (File, error) {
	flag := ORdWr
	if create {
		flag |= OCreate | OTrunc
	}
	u, err := t.sys.Open(name, flag)
	if err != nil {
		return nil, fail(ExitState, "undo %s: %s", name, errText(err))
	}
	return u, nil
}

// RecvInPlace receives a stream onto o.To, logging the overwritten data in
// o.Undo first; it publishes (the undo file says phase=published) only
// after END, a flush and the read-back of the whole image.
func (t *tool) RecvInPlace(o *RecvOpts) (st *RecvStats, err error) {
	prev, err := t.loadState(o.Undo)
	if err != nil && !o.Resume && !o.Abort {
		prev, err = nil, nil // a new undo file
	}
	if err != nil {
		return nil, err
	}
	pending := prev != nil && prev.get("phase") == "receiving" && prev.get("to") == o.To
	if o.Abort || o.Resume {
		if !pending {
			return nil, fail(ExitState, "nothing to %s for %s in %s", map[bool]string{true: "abort", false: "resume"}[o.Abort], o.To, o.Undo)
		}
	} else if prev != nil && prev.get("phase") == "receiving" {
		return nil, fail(ExitState, "%s holds an unfinished receive into %s: --resume or --abort it", o.Undo, prev.get("to"))
	}
	save := func(kv map[string]string) error {
		s := &State{KV: kv}
		err := t.saveState(o.Undo, prev, s)
		prev = s
		return err
	}
	if o.Abort {
		granule, size := prev.num("granule"), prev.num("size")
		f, err := t.openTarget(o.To, size)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		u, err := t.openUndo(o.Undo, false)
		if err != nil {
			return nil, err
		}
		defer u.Close()
		if err := t.rollback(f, o.To, u, uint32(prev.num("gen")), granule); err != nil {
			return nil, err
		}
		return &RecvStats{}, save(map[string]string{"phase": "aborted", "to": o.To, "stream": prev.get("stream")})
	}

	dec, closeIn, err := t.openStream(o.In)
	if err != nil {
		return nil, err
	}
	defer closeIn()
	b := dec.Begin
	id := hex.EncodeToString(dec.ID[:])
	granule := b.Granule
	if o.Resume && prev.get("stream") != id {
		return nil, fail(ExitState, "the undo file is for stream %s, not %s", prev.get("stream")[:16], id[:16])
	}
	if b.Kind == "incremental" && b.BaseSize != b.Size {
		return nil, fail(ExitGeometry, "an in-place receive needs the base's size (%d) to be the volume's (%d)", b.BaseSize, b.Size)
	}
	f, err := t.openTarget(o.To, b.Size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	resumeAt := int64(-1)
	if o.Resume {
		resumeAt = int64(prev.num("pos"))
	} else if b.Kind == "incremental" {
		// The target must hold the stream's base before anything is written.
		m, err := t.readManifest(f, o.To, b.Size, granule)
		if err != nil {
			return nil, err
		}
		if got := Hex(m.Root()); got != b.BaseRoot {
			return nil, fail(ExitWrongBase, "%s is not the stream's base: root %s, stream wants %s", o.To, got[:16], b.BaseRoot[:16])
		}
	}
	u, err := t.openUndo(o.Undo, !o.Resume)
	if err != nil {
		return nil, err
	}
	defer u.Close()
	// The generation: the sequence of the state that begins this receive.
	gen := uint32(1)
	if o.Resume {
		gen = uint32(prev.num("gen"))
	} else if prev != nil {
		gen = uint32(prev.Seq + 1)
	}
	state := func(pos int64) error {
		return save(map[string]string{"phase": "receiving", "to": o.To, "stream": id, "pos": fmt.Sprint(pos),
			"size": fmt.Sprint(b.Size), "granule": fmt.Sprint(granule), "gen": fmt.Sprint(gen)})
	}
	logEnd := uint64(undoLog)
	if o.Resume {
		_, logEnd = scanUndo(u, gen, granule)
	} else if err := state(0); err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if keep || err == nil {
			return
		}
		// Whatever went wrong, the target gets its old data back.
		if rerr := t.rollback(f, o.To, u, gen, granule); rerr != nil {
			fmt.Fprintf(t.sys.Stderr(), "thinsync: %v (the undo file is kept: --abort)\n", rerr)
			return
		}
		save(map[string]string{"phase": "aborted", "to": o.To, "stream": id})
	}()
	st = &RecvStats{}
	old := alignedBuf(int(granule))
	buf := alignedBuf(int(granule))
	zero := alignedBuf(int(granule))
	writeErr := func(op string, off uint64, err error) error { return ioFail(op, o.To, off, err) }
	// put logs the old data of [off, off+len(data)) and then writes data;
	// a range that already holds data is left alone.
	put := func(off uint64, data []byte) error {
		n := uint64(len(data))
		if _, err := f.ReadAt(old[:n], int64(off)); err != nil {
			return fail(ExitError, "read %s at %d: %s", o.To, off, errText(err))
		}
		if string(old[:n]) == string(data) {
			return nil
		}
		if _, err := u.WriteAt(encodeUndo(gen, off, old[:n]), int64(logEnd)); err != nil {
			return fail(ExitState, "undo %s: %s", o.Undo, errText(err))
		}
		if err := u.Sync(); err != nil {
			return fail(ExitState, "undo %s: %s", o.Undo, errText(err))
		}
		logEnd += undoHdr + n
		if _, err := f.WriteAt(data, int64(off)); err != nil {
			return writeErr("write", off, err)
		}
		return nil
	}
	err = t.applyRecords(st, &recordLoop{dec: dec, resumeAt: resumeAt, stopAfter: o.StopAfter,
		data: func(rec *Record) error {
			copy(buf, rec.Data)
			return put(rec.Offset, buf[:rec.Length])
		},
		zero: func(off, n uint64) error {
			for x, end := off, off+n; x < end; {
				k := min(granule-x%granule, end-x)
				if err := put(x, zero[:k]); err != nil {
					return err
				}
				st.Zeroed += k
				x += k
			}
			return nil
		},
		checkpoint: func(pos int64) error {
			if err := f.Sync(); err != nil {
				return writeErr("flush", 0, err)
			}
			return state(pos)
		},
	})
	if err != nil {
		keep = errors.Is(err, errStopped) || errors.Is(err, errKilled)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, writeErr("flush", 0, err)
	}
	st.Root = dec.End.Root
	if o.Verify != "none" {
		m, err := t.readManifest(f, o.To, b.Size, granule)
		if err != nil {
			return nil, err
		}
		if m.Root() != dec.End.Root {
			return nil, fail(ExitVerify, "%s does not verify: root %s, stream says %s", o.To, Hex(m.Root())[:16], Hex(dec.End.Root)[:16])
		}
	}
	return st, save(map[string]string{"phase": "published", "to": o.To, "stream": id, "root": Hex(dec.End.Root)})
}
