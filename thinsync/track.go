package thinsync

import (
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// track (wyng's "monitor"): each run snapshots the live thin, ORs the
// delta from the previous snapshot into a changed-granule bitmap kept on
// the state file or device, and deletes the previous snapshot. Only one
// tracking snapshot stays on the pool, so old ones stop pinning data
// blocks the live thin has since overwritten, while the bitmap still says
// everything that changed since tracking began.
//
// The state: the two slots of state.go, then one bitmap area per slot
// (slot i's at 8192 + i*area, area = the bitmap rounded up to 4 KiB). A run
// writes and syncs the bitmap of the slot it is about to write first, so a
// crash leaves the previous slot and its bitmap whole.

// TrackOpts are track's options.
type TrackOpts struct {
	Pool, Dev, State string
	ID, Snap         uint64
	Reset            bool // start over: the map empties, NEWSNAP is the base
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
}

func mapArea(granules uint64) uint64 {
	return ((granules+7)/8 + slotSize - 1) / slotSize * slotSize
}

// loadTrackMap reads slot s's bitmap and checks it against the slot.
func (t *tool) loadTrackMap(name string, s *State) ([]byte, error) {
	g := s.num("granules")
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	defer f.Close()
	b := make([]byte, (g+7)/8)
	if _, err := f.ReadAt(b, int64(2*slotSize+uint64(s.slot)*mapArea(g))); err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	if strconv.FormatUint(uint64(crc32.Checksum(b, castagnoli)), 16) != s.get("map_crc") {
		return nil, fail(ExitState, "state %s: the changed-block map does not match its checksum", name)
	}
	return b, nil
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
	prev, err := t.loadState(o.State)
	if err != nil {
		return nil, err
	}
	granule := p.blockSize * 512
	size := sectors * 512
	granules := (size + granule - 1) / granule
	st := &TrackStats{Granule: granule, Size: size, Base: o.Snap}
	var bitmap []byte
	tracking := prev != nil && prev.get("phase") == "tracking" && !o.Reset
	if tracking {
		if prev.get("pool") != o.Pool || prev.num("id") != o.ID {
			return nil, fail(ExitState, "state %s tracks pool %s thin %s", o.State, prev.get("pool"), prev.get("id"))
		}
		if bitmap, err = t.loadTrackMap(o.State, prev); err != nil {
			return nil, err
		}
		st.Old, st.RunsSinceStart = prev.num("base"), prev.num("runs")
		// A volume that grew: the map grows with it (new bits clear, the
		// delta marks what was written there).
		if g := prev.num("granules"); g < granules {
			bitmap = append(bitmap, make([]byte, (granules+7)/8-uint64(len(bitmap)))...)
		} else {
			granules = g
		}
	} else {
		st.First = true
		bitmap = make([]byte, (granules+7)/8)
	}
	if err := t.snapshotLive(o.Pool, o.Dev, o.ID, o.Snap); err != nil {
		return nil, fail(ExitBusy, "%v", err)
	}
	if tracking {
		meta, err := t.devPath(p.metaDev)
		if err != nil {
			return nil, err
		}
		_, delta, err := t.metadata(o.Pool, meta, o.Snap, int64(st.Old), 0)
		if err != nil {
			t.cleanup("message", o.Pool, "0", fmt.Sprintf("delete %d", o.Snap))
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
	}
	st.RunsSinceStart++
	s := &State{KV: map[string]string{"phase": "tracking", "pool": o.Pool, "id": fmt.Sprint(o.ID),
		"base": fmt.Sprint(o.Snap), "granule": fmt.Sprint(granule), "granules": fmt.Sprint(granules),
		"runs": fmt.Sprint(st.RunsSinceStart), "map_crc": strconv.FormatUint(uint64(crc32.Checksum(bitmap, castagnoli)), 16)}}
	slot := 0
	if prev != nil {
		slot = 1 - prev.slot
	}
	if err := t.writeTrackMap(o.State, slot, granules, bitmap); err != nil {
		return nil, err
	}
	if err := t.saveState(o.State, prev, s); err != nil {
		return nil, err
	}
	if tracking {
		// The map holds the old base's delta now: it no longer pins blocks.
		if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", st.Old)); err != nil {
			return nil, err
		}
	}
	for g := uint64(0); g < granules; g++ {
		if bitmap[g/8]&(1<<(g%8)) == 0 {
			continue
		}
		st.Changed++
		if n := len(st.ChangedRanges); n > 0 && st.ChangedRanges[n-1].Begin+st.ChangedRanges[n-1].Length == g {
			st.ChangedRanges[n-1].Length++
		} else {
			st.ChangedRanges = append(st.ChangedRanges, Run{Begin: g, Length: 1})
		}
	}
	return st, nil
}

func (t *tool) writeTrackMap(name string, slot int, granules uint64, bitmap []byte) error {
	return t.writeSynced(name, bitmap, int64(2*slotSize+uint64(slot)*mapArea(granules)))
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
