package thinsync

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// merge-origin copies what a thin with an external origin changed back
// onto that origin. The thin's view is what it reads: a mapped block reads
// the pool, an unmapped one reads the origin (zeros past its end,
// thin_map()). The blocks a frozen snapshot of the thin maps are copied
// onto the origin, clipped at the origin's end; nothing else differs, so
// nothing else is written. In particular a block the thin discarded
// (unmapped again) reads the origin as it is now, so it is left alone: a
// merge never changes what the thin reads, in any round.
//
// The undo file holds the state slots of state.go (phase merging, merged,
// resetting, reset or aborted; the session's generation) and, from byte
// 8192, the journal of inplace.go: before an origin block is written for
// the first time in a session (the rounds until --reset), its old data is
// appended and synced. A rerun after a crash at any point recomputes the
// same copy (the snapshot's data is in the pool, committed) and skips the
// blocks that already hold it; --abort writes the journal back.

// Exit codes of merge-origin (docs/thinsync.md).
const (
	ExitOriginShared = 13 // another table uses the origin
	ExitBeyondOrigin = 14 // mapped non-zero data beyond the origin's end
)

// MergeOpts are merge-origin's options.
type MergeOpts struct {
	Pool     string
	ID, Snap uint64
	Dev      string // the thin's active device (size, origin, freeze)
	Sectors  uint64 // the thin's size when Dev is not given
	Origin   string
	Undo     string
	Reset    bool // delete the thin and create it empty over the origin
	Truncate bool // drop mapped data beyond the origin's end
	Abort    bool // write the journal back
	// StopAfter is a test hook: the run stops after that many origin
	// writes with no cleanup (exit 137), as if the machine had died.
	StopAfter uint64
}

// MergeStats is what a merge did.
type MergeStats struct {
	Mapped    uint64 // blocks the frozen snapshot maps inside the thin
	Beyond    uint64 // of them, blocks wholly or partly past the origin's end
	Written   uint64 // blocks written onto the origin
	Bytes     uint64
	Unchanged uint64 // blocks the origin already held
	Resumed   bool   // a session was going on (a crash, or rounds)
	ResetFrom uint64 // --reset: the mapped blocks the deleted thin had
	Reset     bool
	Merged    bool // a round ran (not only the rest of a reset)
}

// sysName is the /sys/block name of a device path.
func (t *tool) sysName(dev string) (string, error) {
	if name, ok := strings.CutPrefix(dev, "/dev/mapper/"); ok {
		names, err := t.sys.ReadDir("/sys/block")
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if t.sysRead(path.Join("/sys/block", n, "dm/name")) == name {
				return n, nil
			}
		}
		return "", fail(ExitError, "no device-mapper device %s", name)
	}
	return path.Base(dev), nil
}

// sysRead reads a small sysfs file, trimmed ("" when it cannot).
func (t *tool) sysRead(name string) string {
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return ""
	}
	defer f.Close()
	var buf [256]byte
	n, _ := f.Read(buf[:])
	return strings.TrimSpace(string(buf[:n]))
}

// originUsers lists the dm devices whose tables hold the origin open
// (/sys/block/ORIGIN/holders, bd_link_disk_holder()) other than
// activations of thin ID of the pool over that origin.
func (t *tool) originUsers(pool string, id uint64, origin string) (others, own []string, err error) {
	on, err := t.sysName(origin)
	if err != nil {
		return nil, nil, err
	}
	odev := t.sysRead(path.Join("/sys/block", on, "dev"))
	if odev == "" {
		return nil, nil, fail(ExitError, "origin %s: not a block device", origin)
	}
	pn, err := t.sysName("/dev/mapper/" + pool)
	if err != nil {
		return nil, nil, err
	}
	pdev := t.sysRead(path.Join("/sys/block", pn, "dev"))
	holders, err := t.sys.ReadDir(path.Join("/sys/block", on, "holders"))
	if err != nil {
		return nil, nil, fail(ExitError, "origin %s: %s", origin, errText(err))
	}
	for _, h := range holders {
		name := t.sysRead(path.Join("/sys/block", h, "dm/name"))
		if name == "" {
			others = append(others, h)
			continue
		}
		out, err := t.dmsetup("table", name)
		if err != nil {
			return nil, nil, err
		}
		mine := true
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || f[2] != "thin" || f[3] != pdev || f[4] != strconv.FormatUint(id, 10) || f[5] != odev {
				mine = false
			}
		}
		if mine {
			own = append(own, name)
		} else {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	sort.Strings(own)
	return others, own, nil
}

// sessionActive reports whether an undo state is a merge under way.
func sessionActive(s *State) bool {
	if s == nil {
		return false
	}
	switch s.get("phase") {
	case "merging", "merged", "resetting":
		return true
	}
	return false
}

// MergeOrigin runs one merge round (and --reset, or --abort).
func (t *tool) MergeOrigin(o *MergeOpts) (st *MergeStats, err error) {
	p, err := t.pool(o.Pool)
	if err != nil {
		return nil, err
	}
	meta, err := t.devPath(p.metaDev)
	if err != nil {
		return nil, err
	}
	sectors, origin := o.Sectors, o.Origin
	if o.Dev != "" {
		if sectors, err = t.tableSectors(o.Dev); err != nil {
			return nil, err
		}
		if origin == "" {
			if origin, err = t.tableOrigin(o.Dev); err != nil {
				return nil, err
			}
			if origin == "" {
				return nil, fail(ExitUsage, "merge-origin: %s has no external origin", o.Dev)
			}
		}
	}
	if origin != "" {
		if origin, err = t.devPath(origin); err != nil {
			return nil, err
		}
	}
	if o.Snap == o.ID {
		return nil, fail(ExitUsage, "merge-origin: --snap-id must differ from --id")
	}
	if origin == "" || sectors == 0 {
		return nil, fail(ExitUsage, "merge-origin: give --dev, or --size and --origin (thinsync help)")
	}
	prev, err := t.loadState(o.Undo)
	if err != nil && !o.Abort {
		prev, err = nil, nil // a new undo file
	}
	if err != nil {
		return nil, err
	}
	active := sessionActive(prev)
	if active && (prev.get("pool") != o.Pool || prev.num("id") != o.ID || prev.get("origin") != origin) {
		return nil, fail(ExitState, "%s holds a merge of thin %s of %s into %s: --abort or finish it first",
			o.Undo, prev.get("id"), prev.get("pool"), prev.get("origin"))
	}
	phase := ""
	if active {
		phase = prev.get("phase")
	}
	switch {
	case o.Abort && (!active || phase == "resetting"):
		return nil, fail(ExitState, "nothing to abort in %s", o.Undo)
	case phase == "resetting" && !o.Reset:
		return nil, fail(ExitState, "%s holds an unfinished reset of thin %d: rerun with --reset", o.Undo, o.ID)
	}
	ms := &mergeState{t: t, name: o.Undo, prev: prev, pool: o.Pool, id: o.ID, origin: origin, meta: meta}
	save := ms.save
	// A run killed while it held the pool's metadata snapshot left it held.
	// The state says how far the reserve got: msnap=2 once the
	// reserve_metadata_snap message returned (committed: it is released),
	// msnap=1 before. A crash inside that message can leave a held root
	// whose reference counts were never committed (__reserve_metadata_snap()
	// sets held_root in the superblock buffer, which the commit's first
	// flush writes with the old space-map roots): releasing it would free
	// blocks still in use. That hold is left alone, and the merge runs
	// without the metadata, comparing every block of the thin's view.
	if held, err := t.heldRoot(o.Pool); err != nil {
		return nil, err
	} else if held != "-" && prev != nil {
		switch prev.get("msnap") {
		case "2":
			// __release_metadata_snap() clears the held root before it
			// reads the held copy: when the crash lost the copy's block
			// (EILSEQ), the release fails but the hold is gone all the same.
			err := t.poolMessage(o.Pool, "release_metadata_snap")
			if held, herr := t.heldRoot(o.Pool); herr != nil {
				return nil, herr
			} else if held != "-" {
				return nil, err
			}
			fmt.Fprintf(t.sys.Stderr(), "thinsync: released the metadata snapshot a killed merge left held\n")
		case "1":
			ms.blind = true
			fmt.Fprintf(t.sys.Stderr(), "thinsync: pool %s holds a metadata snapshot a crash left inside reserve_metadata_snap: "+
				"leaving it (check the pool with thin_check before releasing it); comparing every block instead\n", o.Pool)
		}
	}

	// Nothing else may use the origin: its users would see it change.
	others, own, err := t.originUsers(o.Pool, o.ID, origin)
	if err != nil {
		return nil, err
	}
	if len(others) > 0 {
		return nil, fail(ExitOriginShared, "origin %s is also used by %s: refusing to change it under them", origin, strings.Join(others, ", "))
	}
	if o.Reset && len(own) > 0 {
		return nil, fail(ExitBusy, "thin %d is active as %s: --reset needs it inactive", o.ID, strings.Join(own, ", "))
	}
	// Without a table holding it, O_EXCL refuses a mounted or open origin
	// and keeps it ours until we are done.
	flag := ORdWr | ODirect
	if len(own) == 0 && !ms.blind { // blind, the snapshot's activation holds the origin
		flag |= OExcl
	}
	of, err := t.sys.Open(origin, flag)
	if err != nil {
		if linuxerr.ToErrno(err) == linuxerr.EBUSY {
			return nil, fail(ExitBusy, "%s is open or mounted: %s", origin, errText(err))
		}
		return nil, fail(ExitError, "%s", errText(err))
	}
	defer of.Close()
	osz, err := of.Size()
	if err != nil {
		return nil, fail(ExitError, "%s: %s", origin, errText(err))
	}
	originSize := uint64(osz)
	bs := p.blockSize * 512
	gen := uint32(1)
	if prev != nil {
		gen = uint32(prev.Seq + 1)
	}
	if active {
		gen = uint32(prev.num("gen"))
	}
	st = &MergeStats{Resumed: active}

	if o.Abort {
		u, err := t.openUndo(o.Undo, false)
		if err != nil {
			return nil, err
		}
		defer u.Close()
		if err := t.rollback(of, origin, u, gen, bs); err != nil {
			return nil, err
		}
		if err := ms.dropSnap(o.Snap); err != nil {
			return nil, err
		}
		return st, save(map[string]string{"phase": "aborted"})
	}

	if phase != "resetting" {
		if err := t.mergeRound(o, st, ms, of, originSize, sectors, bs, gen, active); err != nil {
			return nil, err
		}
		st.Merged = true
		if !o.Reset {
			return st, nil
		}
		if err := save(map[string]string{"phase": "resetting", "gen": fmt.Sprint(gen)}); err != nil {
			return nil, err
		}
	}
	// --reset: the origin holds the thin's view now; the thin is deleted and
	// created empty over it, which reads the same (pool_message(): delete,
	// create_thin, each its own transaction).
	if ms.blind {
		ms.tryMessage(fmt.Sprintf("delete %d", o.ID))
	} else {
		dump, err := ms.dump()
		if err != nil {
			return nil, err
		}
		if d := dump.Devs[o.ID]; d != nil {
			for _, r := range d.Mapped {
				st.ResetFrom += r.Length
			}
			if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", o.ID)); err != nil {
				return nil, fail(ExitBusy, "delete thin %d: %v", o.ID, err)
			}
		}
	}
	if err := t.poolMessage(o.Pool, fmt.Sprintf("create_thin %d", o.ID)); err != nil {
		return nil, err
	}
	st.Reset = true
	return st, save(map[string]string{"phase": "reset"})
}

// mergeState is the undo file's state during a merge.
type mergeState struct {
	t                  *tool
	name               string
	prev               *State
	pool, origin, meta string
	id                 uint64
	// blind: a crash left the pool's metadata snapshot held in a state
	// that is not safe to release; no metadata is read.
	blind bool
}

// save writes the state kv (with the pool, thin and origin) into the
// next slot.
func (m *mergeState) save(kv map[string]string) error {
	kv["pool"], kv["id"], kv["origin"] = m.pool, fmt.Sprint(m.id), m.origin
	if m.blind {
		kv["msnap"] = "1" // reruns stay blind while the hold is there
	}
	s := &State{KV: kv}
	err := m.t.saveState(m.name, m.prev, s)
	m.prev = s
	return err
}

// dump is thin_dump -m of the pool under a metadata snapshot it takes
// and releases (as send's metadata()); the state says msnap=1 before the
// reserve and msnap=2 once it returned, so that a rerun after a crash
// knows whether a hold it finds is safe to release.
func (m *mergeState) dump() (*Dump, error) {
	t := m.t
	mark := func(v string) error {
		kv := map[string]string{}
		if m.prev != nil {
			for k, v := range m.prev.KV {
				kv[k] = v
			}
		}
		delete(kv, "msnap")
		if v != "" {
			kv["msnap"] = v
		}
		return m.save(kv)
	}
	held, err := t.heldRoot(m.pool)
	if err != nil {
		return nil, err
	}
	if held != "-" {
		return nil, fail(ExitHeld, "pool %s: a metadata snapshot is already held, not by thinsync: leaving it", m.pool)
	}
	if err := mark("1"); err != nil {
		return nil, err
	}
	if err := t.poolMessage(m.pool, "reserve_metadata_snap"); err != nil {
		return nil, fail(ExitHeld, "pool %s: cannot reserve the metadata snapshot: %v", m.pool, err)
	}
	if err := mark("2"); err != nil {
		t.cleanup("message", m.pool, "0", "release_metadata_snap")
		return nil, err
	}
	out, err := t.exec(false, "thin_dump", "-m", m.meta)
	t.cleanup("message", m.pool, "0", "release_metadata_snap")
	if err != nil {
		return nil, err
	}
	d, err := ParseDump(out)
	if err != nil {
		return nil, err
	}
	return d, mark("")
}

// tryMessage sends a pool message whose failure is expected when its
// device does not exist (a blind rerun cannot look).
func (m *mergeState) tryMessage(msg string) {
	m.t.exec(true, "dmsetup", "message", m.pool, "0", msg)
}

// dropSnap deletes the freeze snapshot the state says a run made, when it
// still exists.
func (m *mergeState) dropSnap(snap uint64) error {
	if m.prev == nil || m.prev.get("snap") != fmt.Sprint(snap) {
		return nil
	}
	if m.blind {
		m.tryMessage(fmt.Sprintf("delete %d", snap))
		return nil
	}
	dump, err := m.dump()
	if err != nil {
		return err
	}
	if dump.Devs[snap] == nil {
		return nil
	}
	return m.t.poolMessage(m.pool, fmt.Sprintf("delete %d", snap))
}

// mergeRound freezes the thin into snapshot Snap, copies Snap's mapped
// blocks onto the origin (journaling each block's old data the first time
// the session writes it), flushes, reads back and compares, and deletes
// the snapshot.
func (t *tool) mergeRound(o *MergeOpts, st *MergeStats, ms *mergeState, of File, originSize, sectors, bs uint64, gen uint32, active bool) error {
	size, origin, save := sectors*512, ms.origin, ms.save
	// A snapshot our state names is a frozen copy of an earlier run: it goes.
	ours := active && ms.prev.get("snap") == fmt.Sprint(o.Snap)
	if ms.blind {
		if ours {
			ms.tryMessage(fmt.Sprintf("delete %d", o.Snap))
		}
	} else {
		dump, err := ms.dump()
		if err != nil {
			return err
		}
		if dump.Devs[o.ID] == nil {
			return fail(ExitError, "pool %s: no thin device %d", o.Pool, o.ID)
		}
		if dump.Devs[o.Snap] != nil {
			if !ours {
				return fail(ExitBusy, "pool %s: thin id %d is taken", o.Pool, o.Snap)
			}
			if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", o.Snap)); err != nil {
				return err
			}
		}
	}
	u, err := t.openUndo(o.Undo, !active)
	if err != nil {
		return err
	}
	defer u.Close()
	journaled := map[uint64]bool{}
	logEnd := uint64(undoLog)
	if active {
		var es []undoEntry
		es, logEnd = scanUndo(u, gen, bs)
		for _, e := range es {
			journaled[e.off] = true
		}
	}
	// The state names the snapshot before it exists: a rerun deletes it.
	if err := save(map[string]string{"phase": "merging", "gen": fmt.Sprint(gen), "snap": fmt.Sprint(o.Snap)}); err != nil {
		return err
	}
	if o.Dev != "" {
		err = t.snapshotLive(o.Pool, o.Dev, o.ID, o.Snap) // suspend, create_snap, resume
	} else {
		err = t.poolMessage(o.Pool, fmt.Sprintf("create_snap %d %d", o.Snap, o.ID))
	}
	if err != nil {
		return err
	}
	// The snapshot's mapped blocks read the pool: it is activated without
	// the origin, so that it does not hold the origin. Blind, every block
	// of its view is compared: it is activated with the origin, whose
	// blocks its unmapped blocks read, so they compare equal.
	var mapped []Run
	var withOrigin string
	if ms.blind {
		mapped = []Run{{0, (size + bs - 1) / bs}}
		withOrigin = origin
	} else {
		dump, err := ms.dump()
		if err != nil {
			return err
		}
		snap := dump.Devs[o.Snap]
		if snap == nil {
			return fail(ExitError, "pool %s: the snapshot %d is not in the metadata", o.Pool, o.Snap)
		}
		mapped = snap.Mapped
	}
	src, err := t.activate(fmt.Sprintf("thinsync-%s-%d-merge", o.Pool, o.Snap), o.Pool, o.Snap, sectors, true, withOrigin)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			t.deactivate(src)
		}
	}()
	in, err := t.sys.Open(src.dev, ORead|ODirect)
	if err != nil {
		return fail(ExitError, "%s", errText(err))
	}
	defer func() {
		if in != nil {
			in.Close()
		}
	}()
	limit := min(size, originSize)
	var blocks []uint64
	for _, r := range mapped {
		for b := r.Begin; b < r.Begin+r.Length && b*bs < size; b++ {
			blocks = append(blocks, b)
		}
	}
	st.Mapped = uint64(len(blocks))
	buf := alignedBuf(int(bs))
	old := alignedBuf(int(bs))
	read := func(f File, name string, p []byte, off uint64) error {
		if t.sys.Killed() {
			return errKilled
		}
		if _, err := f.ReadAt(p, int64(off)); err != nil {
			return fail(ExitError, "read %s at %d: %s", name, off, errText(err))
		}
		return nil
	}
	// Past the origin's end the thin's data has nowhere to go: refused
	// unless it is zeros or --truncate, before anything is written.
	for _, b := range blocks {
		off, end := b*bs, min((b+1)*bs, size)
		if end <= limit {
			continue
		}
		st.Beyond++
		from := max(off, limit)
		if err := read(in, src.dev, buf[:end-from], from); err != nil {
			return err
		}
		if !isZero(buf[:end-from]) && !o.Truncate {
			return fail(ExitBeyondOrigin, "thin %d has data past the end of origin %s (%d bytes) in block %d: --truncate drops it",
				o.ID, origin, originSize, b)
		}
	}
	// both reads block b's part inside the origin from the snapshot and
	// the origin; n is 0 for a block wholly past the origin's end.
	both := func(b uint64) (off, n uint64, same bool, err error) {
		off = b * bs
		if off >= limit {
			return off, 0, true, nil
		}
		n = min(off+bs, limit) - off
		if err := read(in, src.dev, buf[:n], off); err != nil {
			return off, n, false, err
		}
		if err := read(of, origin, old[:n], off); err != nil {
			return off, n, false, err
		}
		return off, n, string(buf[:n]) == string(old[:n]), nil
	}
	for _, b := range blocks {
		off, n, same, err := both(b)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if same {
			st.Unchanged++
			continue
		}
		if !journaled[off] {
			if _, err := u.WriteAt(encodeUndo(gen, off, old[:n]), int64(logEnd)); err != nil {
				return fail(ExitState, "undo %s: %s", o.Undo, errText(err))
			}
			if err := u.Sync(); err != nil {
				return fail(ExitState, "undo %s: %s", o.Undo, errText(err))
			}
			logEnd += undoHdr + n
			journaled[off] = true
		}
		if _, err := of.WriteAt(buf[:n], int64(off)); err != nil {
			return ioFail("write", origin, off, err)
		}
		st.Written++
		st.Bytes += n
		if o.StopAfter > 0 && st.Written >= o.StopAfter {
			stopped = true
			return errStopped
		}
	}
	if err := of.Sync(); err != nil {
		return ioFail("flush", origin, 0, err)
	}
	// Read back: every mapped block inside the origin holds the snapshot's data.
	for _, b := range blocks {
		if _, _, same, err := both(b); err != nil {
			return err
		} else if !same {
			return fail(ExitVerify, "origin %s does not hold block %d of thin %d after the flush", origin, b, o.ID)
		}
	}
	in.Close()
	in = nil
	t.deactivate(src)
	src = nil
	if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", o.Snap)); err != nil {
		return err
	}
	return save(map[string]string{"phase": "merged", "gen": fmt.Sprint(gen)})
}

// mergeOriginUsage is merge-origin's part of the usage text (cli.go's
// usage), shown alone with merge-origin's usage errors.
const mergeOriginUsage = `  merge-origin --pool POOL --id ID --snap-id SNAP (--dev NAME | --size SIZE --origin DEV)
          --undo FILE|DEV [--reset] [--truncate] [--abort]
`

func (t *tool) cmdMergeOrigin(args []string) error {
	fs := t.flags("merge-origin")
	o := &MergeOpts{}
	var id, snap int64
	var size string
	fs.StringVar(&o.Pool, "pool", "", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.Int64Var(&snap, "snap-id", -1, "")
	fs.StringVar(&o.Dev, "dev", "", "")
	fs.StringVar(&size, "size", "", "")
	fs.StringVar(&o.Origin, "origin", "", "")
	fs.StringVar(&o.Undo, "undo", "", "")
	fs.BoolVar(&o.Reset, "reset", false, "")
	fs.BoolVar(&o.Truncate, "truncate", false, "")
	fs.BoolVar(&o.Abort, "abort", false, "")
	fs.Uint64Var(&o.StopAfter, "stop-after-writes", 0, "") // test hook
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Pool == "" || id < 0 || snap < 0 || o.Undo == "" || fs.NArg() != 0 || (o.Abort && o.Reset) {
		io.WriteString(t.sys.Stderr(), "usage: thinsync merge-origin [OPTIONS]\n"+mergeOriginUsage)
		return fail(ExitUsage, "merge-origin: --pool, --id, --snap-id and --undo are required")
	}
	var err error
	if o.Sectors, err = sectorsFlag(size); err != nil {
		return err
	}
	o.ID, o.Snap = uint64(id), uint64(snap)
	st, err := t.MergeOrigin(o)
	if err != nil {
		return err
	}
	w := t.sys.Stdout()
	if o.Abort {
		fmt.Fprintf(w, "thinsync: rolled the origin back from %s\n", o.Undo)
		return nil
	}
	if st.Merged {
		fmt.Fprintf(w, "thinsync: merged thin %d: %d mapped blocks (%d past the origin's end), wrote %d (%d bytes), %d already there; verified\n",
			o.ID, st.Mapped, st.Beyond, st.Written, st.Bytes, st.Unchanged)
	}
	if st.Reset {
		fmt.Fprintf(w, "thinsync: reset thin %d: deleted with %d mapped blocks, created empty over the origin\n", o.ID, st.ResetFrom)
	}
	return nil
}
