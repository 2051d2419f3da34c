package thin

import (
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// TestPrison: detain, joining, the release variants, and the reuse of
// freed cells, against the rules of dm-bio-prison-v1: one cell per
// overlapping range of one space; a bio for a held range joins its cell
// and comes back at release; a freed cell comes back empty.
func TestPrison(t *testing.T) {
	bio := func() *dmsim.Bio { return dmsim.NewBio(dmsim.OpRead, nil, 0, nil, nil) }
	virt := func(dev, b, e uint64) cellKey { return cellKey{virtual: true, dev: dev, begin: b, end: e} }
	data := func(dev, b, e uint64) cellKey { return cellKey{virtual: false, dev: dev, begin: b, end: e} }
	type step struct {
		op   string // "detain", "release", "releaseNoHolder", "releaseFree"
		key  cellKey
		cell int  // detain: the index the cell gets (or must be, when held); release: which cell
		held bool // detain: the range is held by cell
		out  int  // release: how many bios come back
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"disjoint ranges and spaces", []step{
			{op: "detain", key: virt(1, 0, 1), cell: 0},
			{op: "detain", key: virt(1, 1, 2), cell: 1},
			{op: "detain", key: data(1, 0, 1), cell: 2},
			{op: "detain", key: virt(2, 0, 1), cell: 3},
			{op: "releaseNoHolder", cell: 0, out: 0},
			{op: "release", cell: 1, out: 1},
		}},
		{"overlapping bios join and come back", []step{
			{op: "detain", key: virt(1, 0, 4), cell: 0},
			{op: "detain", key: virt(1, 3, 5), cell: 0, held: true},
			{op: "detain", key: virt(1, 2, 3), cell: 0, held: true},
			{op: "releaseFree", cell: 0, out: 2},
			// The range is free again; the new cell is the freed one, empty.
			{op: "detain", key: virt(1, 0, 1), cell: 1},
			{op: "releaseNoHolder", cell: 1, out: 0},
		}},
		{"a freed cell is reused empty, in another space", []step{
			{op: "detain", key: virt(7, 10, 11), cell: 0},
			{op: "detain", key: virt(7, 10, 11), cell: 0, held: true},
			{op: "releaseFree", cell: 0, out: 1},
			{op: "detain", key: data(7, 10, 11), cell: 1},
			{op: "detain", key: virt(7, 10, 11), cell: 2},
			{op: "detain", key: data(7, 10, 11), cell: 1, held: true},
			{op: "release", cell: 1, out: 2},
			{op: "releaseNoHolder", cell: 2, out: 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPrison()
			var cells []*cell
			var freed []*cell
			for i, s := range tc.steps {
				switch s.op {
				case "detain":
					c, held := p.detain(s.key, bio())
					if held != s.held {
						t.Fatalf("step %d: held %v", i, held)
					}
					if held {
						if c != cells[s.cell] {
							t.Fatalf("step %d: joined another cell", i)
						}
						continue
					}
					if len(c.bios) != 0 || c.key != s.key {
						t.Fatalf("step %d: new cell %+v", i, c)
					}
					if len(freed) > 0 {
						if c != freed[len(freed)-1] {
							t.Fatalf("step %d: the freed cell was not reused", i)
						}
						freed = freed[:len(freed)-1]
					}
					if s.cell != len(cells) {
						t.Fatalf("step %d: bad test: cell %d", i, s.cell)
					}
					cells = append(cells, c)
				default:
					c := cells[s.cell]
					var out []*dmsim.Bio
					switch s.op {
					case "release":
						out = p.release(c)
					case "releaseNoHolder":
						out = p.releaseNoHolder(c)
					case "releaseFree":
						out = p.releaseNoHolderFree(c)
						freed = append(freed, c)
					}
					if len(out) != s.out {
						t.Fatalf("step %d: %s gave %d bios, want %d", i, s.op, len(out), s.out)
					}
				}
			}
		})
	}
}
