package thinsync

import (
	"fmt"
	"testing"
)

// TestMapOffset: a new changed-block map never overlaps the map of the
// newest valid slot, whatever the volume's growth (the old layout, slot i's
// map at 8192 + i*area(new size), wrote over the valid map when a volume
// grew past a 4 KiB map area, and a crash then left no valid map).
func TestMapOffset(t *testing.T) {
	for _, seq := range [][]uint64{
		{128, 128, 128, 128},
		{128, 40000, 40000, 40000},
		{40000, 128, 100000, 100000, 1, 300000},
		{32768, 32769, 65536, 65537, 65537},
	} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			var cur *State
			for i, g := range seq {
				off := mapOffset(cur, g)
				if off < 2*slotSize || off%slotSize != 0 {
					t.Fatalf("step %d: map at %d", i, off)
				}
				if cur != nil {
					po, pa := cur.num("map_off"), mapArea(cur.num("granules"))
					if off < po+pa && po < off+mapArea(g) {
						t.Fatalf("step %d: map [%d,+%d) overlaps the valid one [%d,+%d)", i, off, mapArea(g), po, pa)
					}
				}
				cur = &State{KV: map[string]string{"map_off": fmt.Sprint(off), "granules": fmt.Sprint(g)}}
			}
		})
	}
}
