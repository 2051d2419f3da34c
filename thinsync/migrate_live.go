package thinsync

import (
	"fmt"
	"strings"
)

// Phases of a live migration, as its state records them.
const (
	livePrecopy  = "precopy"  // pre-copy round `round` into snapshot `snap` is under way
	liveFinal    = "final"    // the final round into the target thin is under way
	liveSwitched = "switched" // the target thin is published: the table swap (and cleanup) remain
	liveDone     = "done"
)

// liveRun is a live migration in progress: its options and state.
type liveRun struct {
	t       *tool
	o       *MigrateOpts
	id, id2 uint64
	sectors uint64
	granule uint64
	block   uint64
	prev    *State
	kv      map[string]string
}

func (l *liveRun) get(k string) string { return l.kv[k] }

func (l *liveRun) num(k string) int64 {
	var n int64 = -1
	fmt.Sscan(l.kv[k], &n)
	return n
}

// save records the state (when there is a state file or device): fsynced,
// in the other slot than the last.
func (l *liveRun) save(kv map[string]string) error {
	for k, v := range kv {
		l.kv[k] = v
	}
	if l.o.State == "" {
		return nil
	}
	s := &State{KV: map[string]string{}}
	for k, v := range l.kv {
		s.KV[k] = v
	}
	if err := l.t.saveState(l.o.State, l.prev, s); err != nil {
		return err
	}
	l.prev = s
	return nil
}

// other is the scratch snapshot id that is not base.
func (l *liveRun) other(base int64) uint64 {
	if base == int64(l.o.Snaps[0]) {
		return l.o.Snaps[1]
	}
	return l.o.Snaps[0]
}

// forget deletes a thin a run interrupted may have left (a kill leaves
// activations; a power cut only the thin), ignoring that it is absent.
func (l *liveRun) forget(pool string, id uint64) {
	t := l.t
	for _, suffix := range []string{"src", "base", "recv"} {
		t.exec(true, "dmsetup", "remove", fmt.Sprintf("thinsync-%s-%d-%s", pool, id, suffix))
	}
	t.exec(true, "dmsetup", "message", pool, "0", fmt.Sprintf("delete %d", id))
}

// releaseOrphan releases a metadata snapshot held on the source when the
// state says a transfer (which holds one while thin_dump and thin_delta
// run) was interrupted: a power cut leaves the hold in the superblock.
func (l *liveRun) releaseOrphan() error {
	held, err := l.t.heldRoot(l.o.From)
	if err != nil || held == "-" {
		return err
	}
	fmt.Fprintf(l.t.sys.Stdout(), "thinsync: releasing the metadata snapshot (root %s) an interrupted round left on %s\n", held, l.o.From)
	if err := l.t.poolMessage(l.o.From, "release_metadata_snap"); err != nil {
		// A cut during the commit after reserve_metadata_snap can leave a
		// superblock whose held root was never written: the release fails,
		// but __release_metadata_snap() has cleared the held root first.
		if held, err2 := l.t.heldRoot(l.o.From); err2 != nil || held != "-" {
			return err
		}
	}
	return nil
}

// exists reports whether a dm device exists.
func (l *liveRun) exists(dev string) bool {
	_, _, st := l.t.sys.Exec([]string{"dmsetup", "info", dev}, true)
	return st == 0
}

// snapshot takes create_snap snap of the live thin, with its device
// suspended (thin-provisioning.rst: an active origin must be suspended).
func (l *liveRun) snapshot(snap uint64, resume bool) error {
	t, o := l.t, l.o
	if l.exists(o.Live) {
		if _, err := t.dmsetup("suspend", o.Live); err != nil {
			return err
		}
		if resume {
			defer t.cleanup("resume", o.Live)
		}
	}
	return t.poolMessage(o.From, fmt.Sprintf("create_snap %d %d", snap, l.id))
}

func (t *tool) migrateLive(o *MigrateOpts) error {
	l := &liveRun{t: t, o: o, id: o.IDs[0], id2: o.ToIDs[0], kv: map[string]string{}}
	w := t.sys.Stdout()
	var err error
	if l.block, l.granule, err = t.geometry(o.From, o.To); err != nil {
		return err
	}
	ident := map[string]string{"from": o.From, "to": o.To, "id": fmt.Sprint(l.id), "id2": fmt.Sprint(l.id2), "dev": o.Live}
	if o.State != "" {
		if l.prev, err = t.loadState(o.State); err != nil {
			return err
		}
	}
	if o.Resume {
		p := l.prev
		if p == nil || (p.get("phase") != livePrecopy && p.get("phase") != liveFinal && p.get("phase") != liveSwitched) {
			return fail(ExitState, "nothing to resume in %s", o.State)
		}
		for k, v := range ident {
			if p.get(k) != v {
				return fail(ExitState, "the state is for another migration (%s=%s)", k, p.get(k))
			}
		}
		for k, v := range p.KV {
			l.kv[k] = v
		}
		o.Snaps = nil
		for _, k := range []string{"snap_a", "snap_b"} {
			o.Snaps = append(o.Snaps, uint64(l.num(k)))
		}
		l.sectors = uint64(l.num("sectors"))
		fmt.Fprintf(w, "thinsync: resuming the live migration of %s (%s, round %s)\n", o.Live, l.get("phase"), l.get("round"))
	} else {
		if p := l.prev; p != nil && (p.get("phase") == livePrecopy || p.get("phase") == liveFinal || p.get("phase") == liveSwitched) {
			return fail(ExitState, "%s holds an unfinished migration: --resume it", o.State)
		}
		if err := l.start(ident); err != nil {
			return err
		}
	}

	sp := &spool{name: o.Spool}
	for l.get("phase") == livePrecopy {
		round := int(l.num("round"))
		base := l.num("base")
		snap := uint64(l.num("snap"))
		if o.Resume {
			l.forget(o.From, snap)
			l.forget(o.To, snap)
			if err := l.releaseOrphan(); err != nil {
				return err
			}
		}
		if err := l.snapshot(snap, true); err != nil {
			return err
		}
		baseSectors := uint64(0)
		if base >= 0 {
			baseSectors = l.sectors
		}
		sst, _, err := t.transfer(o, sp, snap, base, l.sectors, baseSectors, snap, base, l.granule, l.granule < l.block)
		if err != nil {
			return err
		}
		kind := "full"
		if base >= 0 {
			kind = fmt.Sprintf("delta from snapshot %d", base)
		}
		e := sst.End
		fmt.Fprintf(w, "thinsync: round %d (snapshot %d, %s): %d bytes of data, %d zero\n", round, snap, kind, e.DataBytes, e.ZeroBytes)
		// The next round's snapshot id is this round's base: a resumed
		// round deletes it first if a cut came before the deletes below.
		next := map[string]string{"phase": livePrecopy, "round": fmt.Sprint(round + 1), "base": fmt.Sprint(snap),
			"snap": fmt.Sprint(l.other(int64(snap)))}
		if e.DataBytes <= o.FinalBelow || round >= o.Rounds {
			next["phase"] = liveFinal
		}
		if err := l.save(next); err != nil {
			return err
		}
		if base >= 0 {
			t.cleanup("message", o.From, "0", fmt.Sprintf("delete %d", base))
			t.cleanup("message", o.To, "0", fmt.Sprintf("delete %d", base))
		}
		if o.StopAfterRound > 0 && round >= o.StopAfterRound {
			return errStopped
		}
		if o.Between != "" {
			argv := strings.Fields(strings.ReplaceAll(o.Between, "{round}", fmt.Sprint(round)))
			if _, err := t.exec(false, argv...); err != nil {
				return err
			}
		}
		o.Resume = false
	}
	if l.get("phase") == liveFinal {
		if err := l.final(sp); err != nil {
			return err
		}
	}
	if l.get("phase") == liveSwitched {
		if err := l.swap(); err != nil {
			return err
		}
	}
	return nil
}

// start checks the pools and ids of a new live migration and records its
// first round.
func (l *liveRun) start(ident map[string]string) error {
	t, o := l.t, l.o
	_, dst, err := t.checkPools(o.From, o.To)
	if err != nil {
		return err
	}
	if l.sectors, err = t.tableSectors(o.Live); err != nil {
		return err
	}
	sd, err := t.poolDump(o.From)
	if err != nil {
		return err
	}
	td, err := t.poolDump(o.To)
	if err != nil {
		return err
	}
	if sd.Devs[l.id] == nil {
		return fail(ExitError, "pool %s: no thin device %d", o.From, l.id)
	}
	if len(o.Snaps) == 0 {
		// the two smallest ids above every id of both pools
		var top uint64
		for _, d := range []*Dump{sd, td} {
			for id := range d.Devs {
				top = max(top, id+1)
			}
		}
		o.Snaps = []uint64{top, top + 1}
	}
	if td.Devs[l.id2] != nil {
		return fail(ExitBusy, "thin device %d exists on the target pool %s", l.id2, o.To)
	}
	for _, s := range o.Snaps {
		if s == l.id2 || s == l.id {
			return fail(ExitUsage, "migrate: --snap-ids must differ from the thins' ids")
		}
		if sd.Devs[s] != nil || td.Devs[s] != nil {
			return fail(ExitBusy, "snapshot id %d is taken on %s or %s (--snap-ids)", s, o.From, o.To)
		}
	}
	need, mapped, err := t.familyNeed(o.From, o.IDs, []uint64{l.sectors}, l.block, l.granule)
	if err != nil {
		return err
	}
	if free := dst.totalData - dst.usedData; need > free {
		return fail(ExitTooSmall, "target pool %s is too small: thin %d maps %d blocks of %d sectors, needing up to %d blocks of %d sectors; %d are free",
			o.To, l.id, mapped, l.block/512, need, l.granule/512, free)
	}
	kv := map[string]string{"phase": livePrecopy, "round": "1", "base": "-1", "snap": fmt.Sprint(o.Snaps[0]),
		"snap_a": fmt.Sprint(o.Snaps[0]), "snap_b": fmt.Sprint(o.Snaps[1]), "sectors": fmt.Sprint(l.sectors)}
	for k, v := range ident {
		kv[k] = v
	}
	return l.save(kv)
}

// final is the last round: the device suspended (if it is active), the
// last snapshot and delta received into the target thin, flushed and
// verified by recv. On a failure the device resumes on the source.
func (l *liveRun) final(sp *spool) (err error) {
	t, o := l.t, l.o
	base := l.num("base")
	snap := uint64(l.num("snap"))
	if o.Resume { // left by an interrupted final round, if any
		l.forget(o.From, snap)
		l.forget(o.To, snap) // the previous round's base, if its delete was cut
		l.forget(o.To, l.id2)
		if err := l.releaseOrphan(); err != nil {
			return err
		}
	}
	active := l.exists(o.Live)
	defer func() {
		if err != nil && active {
			t.cleanup("resume", o.Live)
		}
	}()
	if err := l.snapshot(snap, false); err != nil {
		return err
	}
	sst, _, err := t.transfer(o, sp, snap, base, l.sectors, l.sectors, l.id2, base, l.granule, l.granule < l.block)
	if err != nil {
		return err
	}
	e := sst.End
	fmt.Fprintf(t.sys.Stdout(), "thinsync: final round (snapshot %d, delta from snapshot %d, %s suspended): %d bytes of data, %d zero\n",
		snap, base, o.Live, e.DataBytes, e.ZeroBytes)
	return l.save(map[string]string{"phase": liveSwitched})
}

// swap loads the target thin's table into the device and resumes it (the
// same dm device, minor and open file descriptors), or creates the device
// when a power cut took it; then deletes the scratch snapshots.
func (l *liveRun) swap() error {
	t, o := l.t, l.o
	table := fmt.Sprintf("0 %d thin /dev/mapper/%s %d", l.sectors, o.To, l.id2)
	if l.exists(o.Live) {
		if _, err := t.dmsetup("load", o.Live, "--table", table); err != nil {
			return err
		}
		if _, err := t.dmsetup("resume", o.Live); err != nil {
			return err
		}
	} else if _, err := t.dmsetup("create", o.Live, "--table", table); err != nil {
		return err
	}
	base, snap := l.num("base"), l.num("snap")
	if o.Resume {
		for _, id := range []int64{base, snap} {
			l.forget(o.From, uint64(id))
		}
		l.forget(o.To, uint64(base))
	} else {
		for _, id := range []int64{base, snap} {
			t.cleanup("message", o.From, "0", fmt.Sprintf("delete %d", id))
		}
		t.cleanup("message", o.To, "0", fmt.Sprintf("delete %d", base))
	}
	if err := l.save(map[string]string{"phase": liveDone}); err != nil {
		return err
	}
	fmt.Fprintf(t.sys.Stdout(), "thinsync: %s is served by %s thin %d (%d rounds); thin %d of %s is left as it was\n",
		o.Live, o.To, l.id2, l.num("round"), l.id, o.From)
	return nil
}
