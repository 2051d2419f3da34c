package thinsync

import (
	"fmt"
	"hash/crc32"
	"maps"
	"strconv"
	"strings"
)

// track (wyng's "monitor"): each run snapshots the live thin, ORs the
// delta from the previous snapshot into a changed-granule bitmap kept on
// the state file or device, and deletes the previous snapshot. Only one
// tracking snapshot stays on the pool, so old ones stop pinning data
// blocks the live thin has since overwritten, while the bitmap still says
// everything that changed since the snapshot it counts from ("from", the
// last one sent). `send --track` sends that snapshot's successor from the
// bitmap and the manifest of "from", without the old snapshot, and then
// empties the bitmap.
//
// The state: the two slots of state.go, then the bitmaps. Each slot names
// its bitmap (map_off, map_crc); a new bitmap is written where it does not
// overlap the bitmap of the newest valid slot, and synced, before the slot
// that names it, so a crash anywhere leaves a valid slot whose bitmap is
// whole.
//
// A run writes three slots: the intent (next=NEWSNAP, before create_snap),
// the new base with its bitmap (old=the previous base, before that is
// deleted), and the same without old once it is deleted. A run that
// finds an intent for its NEWSNAP deletes that snapshot (a crashed run
// took it and recorded nothing about it) and takes it again; one that
// finds old deletes it; one whose NEWSNAP is already the base finished
// before the crash and only completes the deletion.

// TrackOpts are track's options.
type TrackOpts struct {
	Pool, Dev, State string
	ID, Snap         uint64
	Reset            bool // start over: the map empties, NEWSNAP is the base
	// Stop (a test hook) ends the run as if killed right after the named
	// step: "intent", "snap", "map", "state" or "delete".
	Stop string
}

// TrackStats is what track did.
type TrackStats struct {
	First          bool
	Base, Old      uint64 // the new base snapshot and the one deleted
	Granule, Size  uint64
	New, Changed   uint64 // granules new in this run, changed in all
	ChangedRanges  []Run  // granule runs of the whole map
	DeltaGranules  uint64
	RunsSinceStart uint64
	Retaken        bool // NEWSNAP was a crashed run's: deleted and taken again
	Finished       bool // NEWSNAP was already the base: a crashed run completed
}

func mapArea(granules uint64) uint64 {
	return ((granules+7)/8 + slotSize - 1) / slotSize * slotSize
}

// mapOffset is where a new bitmap of granules goes: at the first area past
// the slots when that does not overlap the bitmap cur names, else right
// after it (the two alternate while the size stays the same).
func mapOffset(cur *State, granules uint64) uint64 {
	lo := uint64(2 * slotSize)
	if cur == nil || cur.get("map_off") == "" {
		return lo
	}
	po, pa := cur.num("map_off"), mapArea(cur.num("granules"))
	if lo+mapArea(granules) <= po || lo >= po+pa {
		return lo
	}
	return po + pa
}

// loadTrackMap reads the bitmap a tracking state names and checks it.
func (t *tool) loadTrackMap(name string, s *State) ([]byte, error) {
	g := s.num("granules")
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	defer f.Close()
	b := make([]byte, (g+7)/8)
	if _, err := f.ReadAt(b, int64(s.num("map_off"))); err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	if strconv.FormatUint(uint64(crc32.Checksum(b, castagnoli)), 16) != s.get("map_crc") {
		return nil, fail(ExitState, "state %s: the changed-block map does not match its checksum", name)
	}
	return b, nil
}

// saveTrack writes bitmap where it does not overlap cur's, then the slot
// kv (completed with the bitmap's place and checksum) after cur's.
func (t *tool) saveTrack(name string, cur *State, kv map[string]string, bitmap []byte) (*State, error) {
	granules, _ := strconv.ParseUint(kv["granules"], 10, 64)
	off := mapOffset(cur, granules)
	if err := t.writeSynced(name, bitmap, int64(off)); err != nil {
		return nil, err
	}
	kv["map_off"] = fmt.Sprint(off)
	kv["map_crc"] = strconv.FormatUint(uint64(crc32.Checksum(bitmap, castagnoli)), 16)
	s := &State{KV: kv}
	return s, t.saveState(name, cur, s)
}

// resave writes a copy of cur's slot with changes (nil values delete a
// key), naming the same bitmap.
func (t *tool) resave(name string, cur *State, changes map[string]*string) (*State, error) {
	kv := maps.Clone(cur.KV)
	for k, v := range changes {
		if v == nil {
			delete(kv, k)
		} else {
			kv[k] = *v
		}
	}
	s := &State{KV: kv}
	return s, t.saveState(name, cur, s)
}

// Track runs one round of tracking.
func (t *tool) Track(o *TrackOpts) (*TrackStats, error) {
	p, err := t.pool(o.Pool)
	if err != nil {
		return nil, err
	}
	sectors, err := t.tableSectors(o.Dev)
	if err != nil {
		return nil, err
	}
	prev, err := t.loadStateIfAny(o.State)
	if err != nil {
		return nil, err
	}
	granule := p.blockSize * 512
	size := sectors * 512
	granules := (size + granule - 1) / granule
	st := &TrackStats{Granule: granule, Size: size, Base: o.Snap}
	phase := ""
	if prev != nil {
		phase = prev.get("phase")
	}
	ours := phase == "tracking" || phase == "starting"
	if ours && (prev.get("pool") != o.Pool || prev.num("id") != o.ID) {
		return nil, fail(ExitState, "state %s tracks pool %s thin %s", o.State, prev.get("pool"), prev.get("id"))
	}
	tracking := phase == "tracking" && !o.Reset
	var bitmap []byte
	if tracking {
		if prev.num("granule") != granule {
			return nil, fail(ExitState, "state %s counts %s-byte granules, the pool's are %d", o.State, prev.get("granule"), granule)
		}
		if bitmap, err = t.loadTrackMap(o.State, prev); err != nil {
			return nil, err
		}
		st.Old, st.RunsSinceStart = prev.num("base"), prev.num("runs")
	}
	if ours && prev.get("old") != "" {
		// A run crashed between its state and the deletion of its old base.
		t.deleteThin(o.Pool, prev.num("old"))
		if prev, err = t.resave(o.State, prev, map[string]*string{"old": nil}); err != nil {
			return nil, err
		}
	}
	if tracking && o.Snap == st.Old {
		// The run that took NEWSNAP saved its state: it is finished.
		st.Finished = true
		st.setChanged(bitmap, prev.num("granules"))
		return st, nil
	}
	snap := fmt.Sprint(o.Snap)
	intent := true
	if next := ""; ours {
		if next = prev.get("next"); next != "" {
			// A run crashed after its intent: the snapshot it may have taken
			// is stale (NEWSNAP: taken again) or left over (another id).
			n, _ := strconv.ParseUint(next, 10, 64)
			gone := t.deleteThin(o.Pool, n) == nil
			st.Retaken, intent = gone && next == snap, next != snap
		}
	}
	if intent {
		if ours {
			prev, err = t.resave(o.State, prev, map[string]*string{"next": &snap})
		} else {
			s := &State{KV: map[string]string{"phase": "starting", "pool": o.Pool, "id": fmt.Sprint(o.ID), "next": snap}}
			err = t.saveState(o.State, prev, s)
			prev = s
		}
		if err != nil {
			return nil, err
		}
	}
	if o.Stop == "intent" {
		return nil, errStopped
	}
	if err := t.snapshotLive(o.Pool, o.Dev, o.ID, o.Snap); err != nil {
		// NEWSNAP is someone else's: never ours to delete.
		t.resave(o.State, prev, map[string]*string{"next": nil})
		return nil, fail(ExitBusy, "%v", err)
	}
	if o.Stop == "snap" {
		return nil, errStopped
	}
	var kv map[string]string
	if tracking {
		// A volume that grew: the map grows with it (new bits clear, the
		// delta marks what was written there).
		granules = max(granules, prev.num("granules"))
		if need := int((granules + 7) / 8); need > len(bitmap) {
			bitmap = append(bitmap, make([]byte, need-len(bitmap))...)
		}
		if kv, err = t.trackDelta(o, p, st, prev, bitmap, granules); err != nil {
			t.deleteThin(o.Pool, o.Snap)
			t.resave(o.State, prev, map[string]*string{"next": nil})
			return nil, err
		}
	} else {
		st.First, st.RunsSinceStart = true, 1
		bitmap = make([]byte, (granules+7)/8)
		kv = map[string]string{"phase": "tracking", "pool": o.Pool, "id": fmt.Sprint(o.ID), "from": snap,
			"granule": fmt.Sprint(granule), "granules": fmt.Sprint(granules), "runs": "1"}
		if phase == "tracking" { // --reset: the old base goes
			kv["old"] = prev.get("base")
		}
	}
	kv["base"], kv["size"] = snap, fmt.Sprint(size)
	if o.Stop == "map" {
		t.writeSynced(o.State, bitmap, int64(mapOffset(prev, granules)))
		return nil, errStopped
	}
	s, err := t.saveTrack(o.State, prev, kv, bitmap)
	if err != nil {
		return nil, err
	}
	if o.Stop == "state" {
		return nil, errStopped
	}
	if kv["old"] != "" {
		// The map holds the old base's delta now: it no longer pins blocks.
		if err := t.poolMessage(o.Pool, "delete "+kv["old"]); err != nil {
			return nil, err
		}
		if o.Stop == "delete" {
			return nil, errStopped
		}
		if _, err := t.resave(o.State, s, map[string]*string{"old": nil}); err != nil {
			return nil, err
		}
	}
	st.setChanged(bitmap, granules)
	return st, nil
}

// trackDelta ORs the delta between the old base and NEWSNAP into bitmap
// (of granules bits) and returns the next slot's text.
func (t *tool) trackDelta(o *TrackOpts, p *poolInfo, st *TrackStats, prev *State, bitmap []byte, granules uint64) (map[string]string, error) {
	meta, err := t.devPath(p.metaDev)
	if err != nil {
		return nil, err
	}
	_, delta, err := t.metadata(o.Pool, meta, o.Snap, int64(st.Old), 0)
	if err != nil {
		return nil, err
	}
	set := granuleSet{}
	for _, tag := range []string{"different", "left_only", "right_only"} {
		set.addRuns(delta.Ranges[tag], granules)
	}
	st.DeltaGranules = uint64(len(set))
	for g := range set {
		if bitmap[g/8]&(1<<(g%8)) == 0 {
			bitmap[g/8] |= 1 << (g % 8)
			st.New++
		}
	}
	st.RunsSinceStart++
	kv := maps.Clone(prev.KV)
	delete(kv, "next")
	kv["old"], kv["granules"], kv["runs"] = fmt.Sprint(st.Old), fmt.Sprint(granules), fmt.Sprint(st.RunsSinceStart)
	return kv, nil
}

// deleteThin deletes a thin left by a crashed run, if it is there.
func (t *tool) deleteThin(pool string, id uint64) error {
	_, err := t.exec(true, "dmsetup", "message", pool, "0", fmt.Sprintf("delete %d", id))
	return err
}

// setChanged fills the map's totals.
func (st *TrackStats) setChanged(bitmap []byte, granules uint64) {
	st.Changed, st.ChangedRanges = 0, nil
	for _, r := range bitmapRuns(bitmap, granules) {
		st.Changed += r.Length
		st.ChangedRanges = append(st.ChangedRanges, r)
	}
}

// bitmapRuns are the runs of set bits among the first granules.
func bitmapRuns(bitmap []byte, granules uint64) []Run {
	var runs []Run
	for g := uint64(0); g < granules; g++ {
		if bitmap[g/8]&(1<<(g%8)) == 0 {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].Begin+runs[n-1].Length == g {
			runs[n-1].Length++
		} else {
			runs = append(runs, Run{Begin: g, Length: 1})
		}
	}
	return runs
}

// formatRuns renders granule runs as "a-b,c" (inclusive), or "none".
func formatRuns(runs []Run) string {
	if len(runs) == 0 {
		return "none"
	}
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmt.Sprint(r.Begin)
		if r.Length > 1 {
			parts[i] += fmt.Sprintf("-%d", r.Begin+r.Length-1)
		}
	}
	return strings.Join(parts, ",")
}
