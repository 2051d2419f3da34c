// Package transaction is dmsim's transaction manager
// (drivers/md/persistent-data/dm-transaction-manager.c): copy-on-write
// shadowing of metadata blocks and the commit protocol.
package transaction

import (
	"github.com/dmsim/dmsim/persistent-data/block"
)

// SpaceMap is what the transaction manager needs from the metadata space
// map (struct dm_space_map).
type SpaceMap interface {
	NewBlock() (uint64, error)
	IncBlocks(b, e uint64) error
	DecBlocks(b, e uint64) error
	GetCount(b uint64) (uint32, error)
	CountIsMoreThanOne(b uint64) (bool, error)
	Commit() error
}

// Manager is struct dm_transaction_manager.
type Manager struct {
	bm *block.Manager
	sm SpaceMap
	// shadows holds the blocks allocated or shadowed in this transaction:
	// they are written in place (is_shadow() / insert_shadow()).
	shadows *shadowSet
	// nonBlocking is set on a clone made by NonBlockingClone.
	nonBlocking bool
}

// New makes a transaction manager; the space map may be set later with
// SetSpaceMap (the metadata space map needs the manager to exist first).
func New(bm *block.Manager, sm SpaceMap) *Manager {
	return &Manager{bm: bm, sm: sm, shadows: &shadowSet{}}
}

// SetSpaceMap sets the space map used for allocation and counting.
func (tm *Manager) SetSpaceMap(sm SpaceMap) { tm.sm = sm }

// SpaceMap returns the metadata space map.
func (tm *Manager) SpaceMap() SpaceMap { return tm.sm }

// BM is dm_tm_get_bm().
func (tm *Manager) BM() *block.Manager { return tm.bm }

// PreCommit is dm_tm_pre_commit(): commit the space map, then write every
// dirty block and flush.
func (tm *Manager) PreCommit() error {
	if err := tm.sm.Commit(); err != nil {
		return err
	}
	return tm.bm.Flush()
}

// Commit is dm_tm_commit(): forget the shadows, then write the superblock
// (still write locked by the caller) with FUA after everything else.
func (tm *Manager) Commit(sb *block.Block) error {
	tm.shadows.reset()
	return tm.bm.CommitSuperblock(sb)
}

// WipeShadows forgets the shadow set (used when a transaction is dropped).
func (tm *Manager) WipeShadows() { tm.shadows.reset() }

// AllocError is a failed allocation, with the operation that needed the
// block ("new_block" or "shadow"): thin_restore names it.
type AllocError struct {
	Op  string
	Err error
}

func (e *AllocError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *AllocError) Unwrap() error { return e.Err }

// NewBlock is dm_tm_new_block(): allocate, write lock zeroed, and remember
// it as a shadow so it is not shadowed again in this transaction.
func (tm *Manager) NewBlock(v block.Validator) (*block.Block, error) {
	b, err := tm.sm.NewBlock()
	if err != nil {
		return nil, &AllocError{"new_block", err}
	}
	blk, err := tm.bm.WriteLockZero(b, v)
	if err != nil {
		tm.sm.DecBlocks(b, b+1)
		return nil, err
	}
	tm.shadows.add(b)
	return blk, nil
}

// shadow is __shadow_block(): allocate, drop a reference on the original,
// copy it. keepOrig says the original may be read again in this
// transaction (it keeps other references, or its tree's last version is
// read); otherwise the block manager may hand its buffer to the copy.
func (tm *Manager) shadow(orig uint64, v block.Validator, keepOrig bool) (*block.Block, error) {
	nb, err := tm.sm.NewBlock()
	if err != nil {
		return nil, &AllocError{"shadow", err}
	}
	if err := tm.sm.DecBlocks(orig, orig+1); err != nil {
		return nil, err
	}
	return tm.bm.Shadow(orig, nb, v, !keepOrig)
}

// ShadowBlock is dm_tm_shadow_block(). incChildren reports that the original
// was shared, so the caller must take a reference on every child of the
// copy.
func (tm *Manager) ShadowBlock(orig uint64, v block.Validator) (blk *block.Block, incChildren bool, err error) {
	return tm.shadowBlock(orig, v, false)
}

// ShadowUnreadBlock is ShadowBlock for a block whose version of the last
// transaction nothing reads while this one runs (btree.Info.UnreadOriginals):
// when the shadow frees the original, the cache hands the original's buffer
// to the copy instead of copying it (block.Manager.Shadow). The device ends
// up with the same bytes.
func (tm *Manager) ShadowUnreadBlock(orig uint64, v block.Validator) (blk *block.Block, incChildren bool, err error) {
	return tm.shadowBlock(orig, v, true)
}

func (tm *Manager) shadowBlock(orig uint64, v block.Validator, unread bool) (blk *block.Block, incChildren bool, err error) {
	more, err := tm.sm.CountIsMoreThanOne(orig)
	if err != nil {
		return nil, false, err
	}
	if tm.shadows.has(orig) && !more {
		blk, err = tm.bm.WriteLock(orig, v)
		return blk, false, err
	}
	blk, err = tm.shadow(orig, v, !unread || more)
	if err != nil {
		return nil, false, err
	}
	tm.shadows.add(blk.Location())
	return blk, more, nil
}

// IsShadow is is_shadow(): b was allocated or shadowed in this
// transaction (ShadowBlock writes it in place unless it is shared).
func (tm *Manager) IsShadow(b uint64) bool {
	return tm.shadows.has(b)
}

// NonBlockingClone is dm_tm_create_non_blocking_clone(): a manager for
// lookups that must not wait for I/O (thin_bio_map()'s). Its read locks
// take only blocks already in the cache and fail with EWOULDBLOCK
// otherwise; it shares the original's block manager and space map, and is
// never used to change anything.
func (tm *Manager) NonBlockingClone() *Manager {
	return &Manager{bm: tm.bm, sm: tm.sm, shadows: tm.shadows, nonBlocking: true}
}

// ReadLock is dm_tm_read_lock().
func (tm *Manager) ReadLock(b uint64, v block.Validator) (*block.Block, error) {
	if tm.nonBlocking {
		return tm.bm.ReadTryLock(b, v)
	}
	return tm.bm.ReadLock(b, v)
}

// Unlock is dm_tm_unlock().
func (tm *Manager) Unlock(b *block.Block) { tm.bm.Unlock(b) }

// Inc is dm_tm_inc().
func (tm *Manager) Inc(b uint64) error { return tm.sm.IncBlocks(b, b+1) }

// IncRange is dm_tm_inc_range().
func (tm *Manager) IncRange(b, e uint64) error { return tm.sm.IncBlocks(b, e) }

// Dec is dm_tm_dec().
func (tm *Manager) Dec(b uint64) error { return tm.sm.DecBlocks(b, b+1) }

// DecRange is dm_tm_dec_range().
func (tm *Manager) DecRange(b, e uint64) error { return tm.sm.DecBlocks(b, e) }

// Ref is dm_tm_ref().
func (tm *Manager) Ref(b uint64) (uint32, error) { return tm.sm.GetCount(b) }

// BlockIsShared is dm_tm_block_is_shared().
func (tm *Manager) BlockIsShared(b uint64) (bool, error) { return tm.sm.CountIsMoreThanOne(b) }

// WithRuns is dm_tm_with_runs(): call fn once per run of consecutive block
// numbers among the little-endian u64 values.
func WithRuns(values []uint64, fn func(b, e uint64) error) error {
	var first error
	run := false
	var begin, end uint64
	for _, b := range values {
		if run && b == end {
			end++
			continue
		}
		if run {
			if err := fn(begin, end); err != nil && first == nil {
				first = err
			}
		}
		run, begin, end = true, b, b+1
	}
	if run {
		if err := fn(begin, end); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// shadowSet is the set of blocks allocated or shadowed in this transaction
// (the kernel's hash of shadows): a bitmap by block number, one bit for
// each metadata block, where a hash set costs a cache miss a lookup once it
// holds tens of thousands of blocks.
type shadowSet struct{ words []uint64 }

func (s *shadowSet) has(b uint64) bool {
	w := b / 64
	return w < uint64(len(s.words)) && s.words[w]&(1<<(b%64)) != 0
}

func (s *shadowSet) add(b uint64) {
	w := b / 64
	if w >= uint64(len(s.words)) {
		s.words = append(s.words, make([]uint64, w+1-uint64(len(s.words)))...)
	}
	s.words[w] |= 1 << (b % 64)
}

func (s *shadowSet) reset() { clear(s.words) }
