package thin

import (
	"sync"

	"github.com/dmsim/dmsim/dmsim"
)

// cellKey is struct dm_cell_key: a range of virtual blocks of one thin
// device, or a range of data blocks.
type cellKey struct {
	virtual    bool
	dev        uint64
	begin, end uint64
}

// overlaps is cmp_keys() == 0 in dm-bio-prison-v1: same space and device,
// and the block ranges intersect.
func (k cellKey) overlaps(o cellKey) bool {
	return k.virtual == o.virtual && k.dev == o.dev && k.begin < o.end && o.begin < k.end
}

// cell is struct dm_bio_prison_cell: the holder owns the range; bios that
// arrive for an overlapping range wait in bios until the cell is released.
type cell struct {
	key    cellKey
	holder *dmsim.Bio
	bios   []*dmsim.Bio
	list   *cellList // the cells of key's space, while detained
}

// prison is struct dm_bio_prison (v1): at most one cell per overlapping
// range, so two bios never provision or break sharing of the same block at
// once.
type prison struct {
	mu    sync.Mutex
	cells map[prisonSpace]*cellList
	// lastSp and last are the space detain used last and its cells: a thin
	// device's bios keep to its two spaces, so most detains skip the map.
	lastSp prisonSpace
	last   *cellList
	// free holds released cells for reuse (the prison's cell mempool).
	free []*cell
}

type prisonSpace struct {
	virtual bool
	dev     uint64
}

// cellList is one space's detained cells. A list, once made, stays in the
// map with its capacity for the next detain: the map-time fast path
// detains and releases two cells per bio.
type cellList struct{ cells []*cell }

// maxFreeCells bounds the released cells a prison keeps.
const maxFreeCells = 64

func newPrison() *prison { return &prison{cells: map[prisonSpace]*cellList{}} }

// detain is dm_bio_detain(): if a cell overlapping key exists, bio (when
// not nil) joins it and detain reports true; otherwise a new cell with bio
// as holder is created.
func (p *prison) detain(key cellKey, bio *dmsim.Bio) (*cell, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := prisonSpace{key.virtual, key.dev}
	l := p.last
	if l == nil || p.lastSp != sp {
		l = p.cells[sp]
		if l == nil {
			l = &cellList{}
			p.cells[sp] = l
		}
		p.lastSp, p.last = sp, l
	}
	for _, c := range l.cells {
		if c.key.overlaps(key) {
			if bio != nil {
				c.bios = append(c.bios, bio)
			}
			return c, true
		}
	}
	var c *cell
	if n := len(p.free); n > 0 {
		c = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else {
		c = &cell{}
	}
	c.key, c.holder, c.list = key, bio, l
	l.cells = append(l.cells, c)
	return c, false
}

func (p *prison) removeLocked(c *cell) {
	l := c.list
	cs := l.cells
	for i, x := range cs {
		if x == c {
			cs[i] = cs[len(cs)-1]
			cs[len(cs)-1] = nil
			l.cells = cs[:len(cs)-1]
			break
		}
	}
}

// freeCellLocked is dm_bio_prison_free_cell(): c, released and no longer
// referred to by anyone, may be reused; p.mu held.
func (p *prison) freeCellLocked(c *cell) {
	if len(p.free) < maxFreeCells {
		*c = cell{}
		p.free = append(p.free, c)
	}
}

// release is dm_cell_release(): the holder (if any) then the waiting bios.
func (p *prison) release(c *cell) []*dmsim.Bio {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(c)
	out := make([]*dmsim.Bio, 0, len(c.bios)+1)
	if c.holder != nil {
		out = append(out, c.holder)
	}
	out = append(out, c.bios...)
	c.bios = nil
	return out
}

// releaseNoHolder is dm_cell_release_no_holder(): the waiting bios only.
func (p *prison) releaseNoHolder(c *cell) []*dmsim.Bio {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(c)
	out := c.bios
	c.bios = nil
	return out
}

// releaseNoHolderFree is releaseNoHolder then dm_bio_prison_free_cell():
// for a caller that holds the only reference to c.
func (p *prison) releaseNoHolderFree(c *cell) []*dmsim.Bio {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(c)
	out := c.bios
	p.freeCellLocked(c)
	return out
}

// visitRelease is dm_cell_visit_release(): fn sees the cell while no new
// bio can join it, then the cell is removed.
func (p *prison) visitRelease(c *cell, fn func(c *cell)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(c)
	p.removeLocked(c)
}

// deferredSet is struct dm_deferred_set: I/O takes an entry of the current
// generation; work added to the set runs once every entry taken before it
// was dropped.
type deferredSet struct {
	mu   sync.Mutex
	gens []*deferredEntry // oldest (the sweeper) first; the last is current
}

type deferredEntry struct {
	count int
	work  []*newMapping
}

func newDeferredSet() *deferredSet {
	return &deferredSet{gens: []*deferredEntry{{}}}
}

// inc is dm_deferred_entry_inc().
func (ds *deferredSet) inc() *deferredEntry {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e := ds.gens[len(ds.gens)-1]
	e.count++
	return e
}

// dec is dm_deferred_entry_dec(): it returns the work whose I/O has now all
// completed.
func (ds *deferredSet) dec(e *deferredEntry) []*newMapping {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	e.count--
	return ds.sweepLocked()
}

func (ds *deferredSet) sweepLocked() []*newMapping {
	var out []*newMapping
	for len(ds.gens) > 1 && ds.gens[0].count == 0 {
		out = append(out, ds.gens[0].work...)
		ds.gens[0] = nil
		ds.gens = ds.gens[1:]
	}
	if len(ds.gens) == 1 && ds.gens[0].count == 0 {
		out = append(out, ds.gens[0].work...)
		ds.gens[0].work = nil
	}
	return out
}

// addWork is dm_deferred_set_add_work(): false means no earlier I/O is
// outstanding and the caller runs the work itself.
func (ds *deferredSet) addWork(m *newMapping) bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	busy := false
	for _, g := range ds.gens {
		if g.count > 0 {
			busy = true
			break
		}
	}
	if !busy {
		return false
	}
	cur := ds.gens[len(ds.gens)-1]
	cur.work = append(cur.work, m)
	ds.gens = append(ds.gens, &deferredEntry{})
	return true
}
