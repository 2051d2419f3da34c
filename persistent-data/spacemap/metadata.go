package spacemap

import (
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// maxRecursiveAllocations is MAX_RECURSIVE_ALLOCATIONS.
const maxRecursiveAllocations = 1024

type bop struct {
	inc  bool
	b, e uint64
}

// Metadata is the metadata space map (dm-space-map-metadata.c). It stores
// its own reference counts in the blocks it manages, so operations made
// while it is already changing itself are queued (the "bops") and applied
// when the outermost operation finishes.
type Metadata struct {
	ll, old   ll
	begin     uint64
	recursion int
	allocated uint64 // allocated_this_transaction
	bops      []bop
	bootstrap bool

	thresholdSet, valueSet bool
	threshold, current     uint64
	thresholdFn            func()

	// Log, when set, receives the kernel log lines the space map prints
	// (printk level, full text).
	Log func(level int, msg string)
}

func (m *Metadata) addBop(inc bool, b, e uint64) error {
	if len(m.bops) >= maxRecursiveAllocations {
		return fmt.Errorf("too many recursive allocations: %w", linuxerr.ENOMEM)
	}
	m.bops = append(m.bops, bop{inc, b, e})
	return nil
}

func (m *Metadata) commitBop(op bop) error {
	var err error
	if op.inc {
		_, err = m.ll.incRange(op.b, op.e)
	} else {
		_, err = m.ll.decRange(op.b, op.e)
	}
	return err
}

// applyBops applies queued operations in order; ones queued while
// applying are applied too. An operation stays visible in the queue
// (for count adjustments) until it is done.
func (m *Metadata) applyBops() error {
	for len(m.bops) > 0 {
		if err := m.commitBop(m.bops[0]); err != nil {
			return err
		}
		m.bops = m.bops[1:]
	}
	m.bops = m.bops[:0:0]
	return nil
}

func (m *Metadata) in() { m.recursion++ }

func (m *Metadata) out() error {
	if m.recursion == 0 {
		return fmt.Errorf("lost track of recursion depth: %w", linuxerr.ENOMEM)
	}
	var err error
	if m.recursion == 1 {
		err = m.applyBops()
	}
	m.recursion--
	return err
}

func (m *Metadata) adjustment(b uint64) int {
	adj := 0
	for _, op := range m.bops {
		if b < op.b || b >= op.e {
			continue
		}
		if op.inc {
			adj++
		} else {
			adj--
		}
	}
	return adj
}

// NrBlocks is the size of the space map.
func (m *Metadata) NrBlocks() uint64 { return m.ll.nrBlocks }

// NrFree is sm_metadata_get_nr_free(): relative to the last commit, less
// what this transaction allocated.
func (m *Metadata) NrFree() uint64 {
	if m.bootstrap {
		return m.ll.nrBlocks - m.begin
	}
	return m.old.nrBlocks - m.old.nrAllocated - m.allocated
}

// GetCount is sm_metadata_get_count().
func (m *Metadata) GetCount(b uint64) (uint32, error) {
	if m.bootstrap {
		if b < m.begin {
			return 1, nil
		}
		return 0, nil
	}
	adj := m.adjustment(b)
	c, err := m.ll.lookup(b)
	if err != nil {
		return 0, err
	}
	return uint32(int64(c) + int64(adj)), nil
}

// CountIsMoreThanOne is sm_metadata_count_is_more_than_one().
func (m *Metadata) CountIsMoreThanOne(b uint64) (bool, error) {
	if m.bootstrap {
		return false, nil
	}
	adj := m.adjustment(b)
	if adj > 1 {
		return true, nil
	}
	rc, err := m.ll.lookupBitmap(b)
	if err != nil {
		return false, err
	}
	if rc == 3 {
		return true, nil
	}
	return int(rc)+adj > 1, nil
}

// SetCount is sm_metadata_set_count().
func (m *Metadata) SetCount(b uint64, count uint32) error {
	if m.bootstrap {
		return fmt.Errorf("bootstrap doesn't support set_count: %w", linuxerr.EINVAL)
	}
	if m.recursion > 0 {
		return fmt.Errorf("cannot recurse set_count(): %w", linuxerr.EINVAL)
	}
	m.in()
	_, err := m.ll.insert(b, count)
	err2 := m.out()
	if err != nil {
		return err
	}
	return err2
}

func (m *Metadata) incDec(inc bool, b, e uint64) error {
	if m.bootstrap || m.recursion > 0 {
		return m.addBop(inc, b, e)
	}
	m.in()
	var err error
	if inc {
		_, err = m.ll.incRange(b, e)
	} else {
		_, err = m.ll.decRange(b, e)
	}
	err2 := m.out()
	if err != nil {
		return err
	}
	return err2
}

// IncBlocks is sm_metadata_inc_blocks().
func (m *Metadata) IncBlocks(b, e uint64) error { return m.incDec(true, b, e) }

// DecBlocks is sm_metadata_dec_blocks().
func (m *Metadata) DecBlocks(b, e uint64) error { return m.incDec(false, b, e) }

// NewBlock is sm_metadata_new_block(): the first block at or after the
// cursor that is free now and at the last commit, wrapping to the start.
// In bootstrap mode it is sm_bootstrap_new_block(), which logs nothing.
func (m *Metadata) NewBlock() (uint64, error) {
	if m.bootstrap {
		if m.begin == m.ll.nrBlocks {
			return 0, linuxerr.ENOSPC
		}
		b := m.begin
		m.begin++
		return b, nil
	}
	b, err := m.newBlock()
	if err != nil {
		// DMERR_LIMIT (the kernel rate-limits it; dmsim does not)
		if m.Log != nil {
			m.Log(3, "device-mapper: space map metadata: unable to allocate new metadata block")
		}
		return 0, fmt.Errorf("unable to allocate new metadata block: %w", err)
	}
	m.allocated++
	m.checkThreshold(m.NrFree())
	return b, nil
}

// newBlock is sm_metadata_new_block_().
func (m *Metadata) newBlock() (uint64, error) {
	b, err := findCommonFree(&m.old, &m.ll, m.begin, m.ll.nrBlocks)
	if err == linuxerr.ENOSPC {
		b, err = findCommonFree(&m.old, &m.ll, 0, m.begin)
	}
	if err != nil {
		return 0, err
	}
	m.begin = b + 1
	if m.recursion > 0 {
		err = m.addBop(true, b, b+1)
	} else {
		m.in()
		_, err = m.ll.incRange(b, b+1)
		if err2 := m.out(); err == nil {
			err = err2
		}
	}
	return b, err
}

func (m *Metadata) checkThreshold(v uint64) {
	below := func(x uint64) bool { return m.thresholdSet && x <= m.threshold }
	if below(v) && !(m.valueSet && below(m.current)) && m.thresholdFn != nil {
		m.thresholdFn()
	}
	m.valueSet = true
	m.current = v
}

// RegisterThreshold is sm_metadata_register_threshold_callback(): fn runs
// when an allocation leaves at most threshold free blocks (edge
// triggered).
func (m *Metadata) RegisterThreshold(threshold uint64, fn func()) {
	m.thresholdSet = true
	m.threshold = threshold
	m.thresholdFn = fn
}

// Commit is sm_metadata_commit().
func (m *Metadata) Commit() error {
	if m.bootstrap {
		return nil
	}
	if err := m.ll.commit(); err != nil {
		return err
	}
	m.old = m.ll
	m.allocated = 0
	return nil
}

// Root is sm_metadata_copy_root().
func (m *Metadata) Root() Root { return m.ll.root() }

// NrAllocated is the number of blocks with a non-zero count.
func (m *Metadata) NrAllocated() uint64 { return m.ll.nrAllocated }

// Extend is sm_metadata_extend(): grow in bootstrap mode, allocating the new
// bitmaps in the new area, and repeat until no more blocks are needed.
func (m *Metadata) Extend(extra uint64) error {
	oldLen := m.ll.nrBlocks
	m.begin = oldLen
	m.bootstrap = true
	defer func() { m.bootstrap = false }()
	if err := m.ll.extend(extra); err != nil {
		return err
	}
	for {
		if err := m.addBop(true, oldLen, m.begin); err != nil {
			return err
		}
		oldLen = m.begin
		if err := m.applyBops(); err != nil {
			return fmt.Errorf("sm_metadata_extend: apply_bops failed: %w", err)
		}
		if err := m.ll.commit(); err != nil {
			return err
		}
		if oldLen == m.begin {
			return nil
		}
	}
}

// CreateMetadata is dm_tm_create_with_sm() + dm_sm_metadata_create(): format a
// metadata space map over nrBlocks blocks, the superblock at block
// superblock; it also makes the transaction manager.
func CreateMetadata(bm *block.Manager, superblock uint64, opts ...Option) (*transaction.Manager, *Metadata, error) {
	m := &Metadata{}
	tm := transaction.New(bm, m)
	nrBlocks := bm.NrBlocks()
	m.begin = superblock + 1
	m.bootstrap = true
	err := m.ll.newMetadata(tm, opts)
	if err == nil {
		if nrBlocks > MetadataMaxBlocks {
			nrBlocks = MetadataMaxBlocks
		}
		err = m.ll.extend(nrBlocks)
	}
	m.bootstrap = false
	if err != nil {
		return nil, nil, err
	}
	// Now count the blocks the structures were built from.
	if err := m.addBop(true, superblock, m.begin); err != nil {
		return nil, nil, err
	}
	if err := m.applyBops(); err != nil {
		return nil, nil, fmt.Errorf("dm_sm_metadata_create: apply_bops failed: %w", err)
	}
	if err := m.Commit(); err != nil {
		return nil, nil, err
	}
	return tm, m, nil
}

// OpenMetadata is dm_tm_open_with_sm() + dm_sm_metadata_open().
func OpenMetadata(bm *block.Manager, root Root) (*transaction.Manager, *Metadata, error) {
	m := &Metadata{}
	tm := transaction.New(bm, m)
	if root.NrBlocks > MetadataMaxBlocks || root.BitmapRoot >= bm.NrBlocks() {
		return nil, nil, fmt.Errorf("metadata space map root is invalid (%d blocks, index at %d): %w", root.NrBlocks, root.BitmapRoot, linuxerr.EINVAL)
	}
	if err := m.ll.openMetadata(tm, root); err != nil {
		return nil, nil, err
	}
	m.old = m.ll
	return tm, m, nil
}
