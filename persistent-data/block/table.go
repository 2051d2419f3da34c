package block

// tablePageShift sets the size of a blockTable page: 1024 entries (8 KiB),
// for 4 MiB of metadata.
const tablePageShift = 10

// blockTable maps block numbers to the cached blocks (dm-bufio's buffer
// tree): an array indexed by block number, in pages made when a block in
// their range is first cached. A lookup is one load where a hash map takes
// several, most of them CPU cache misses once the block cache outgrows the
// CPU's: a pool of 100M mappings looks blocks up ten times an insert in a
// cache of 40,000.
type blockTable struct {
	pages [][]*Block
	n     int
}

func (t *blockTable) get(loc uint64) *Block {
	p := loc >> tablePageShift
	if p >= uint64(len(t.pages)) || t.pages[p] == nil {
		return nil
	}
	return t.pages[p][loc&(1<<tablePageShift-1)]
}

// set caches b at its location, which must not hold a block.
func (t *blockTable) set(b *Block) {
	p := b.loc >> tablePageShift
	if p >= uint64(len(t.pages)) {
		t.pages = append(t.pages, make([][]*Block, p+1-uint64(len(t.pages)))...)
	}
	if t.pages[p] == nil {
		t.pages[p] = make([]*Block, 1<<tablePageShift)
	}
	t.pages[p][b.loc&(1<<tablePageShift-1)] = b
	t.n++
}

// del forgets the block at loc, which must hold one.
func (t *blockTable) del(loc uint64) {
	t.pages[loc>>tablePageShift][loc&(1<<tablePageShift-1)] = nil
	t.n--
}

// all calls fn for each cached block, in block order; fn may del the
// block it is given.
func (t *blockTable) all(fn func(b *Block)) {
	for _, page := range t.pages {
		for _, b := range page {
			if b != nil {
				fn(b)
			}
		}
	}
}
