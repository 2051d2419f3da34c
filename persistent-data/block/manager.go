package block

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"

	"github.com/dmsim/dmsim/internal/crashmut"
	"github.com/dmsim/dmsim/linuxerr"
)

// DefaultCacheBytes is the default bound of the block cache (64 MiB).
const DefaultCacheBytes = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is dm_bm_checksum(): crc32c seeded with ~0, without the final
// inversion, xored with a per-block-type constant.
func Checksum(data []byte, xor uint32) uint32 {
	return ^crc32.Checksum(data, castagnoli) ^ xor
}

// Validator checks a block read from disk and prepares one for writing
// (struct dm_block_validator).
type Validator interface {
	Name() string
	// PrepareForWrite fills in the block number and checksum.
	PrepareForWrite(data []byte, location uint64)
	// Check returns an error (wrapping an errno) when data is not a valid
	// block of this type at location.
	Check(data []byte, location uint64) error
}

// CheckError is a validation failure: the kernel log text and its errno.
type CheckError struct {
	Validator string
	Block     uint64
	Msg       string
	Errno     linuxerr.Errno
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("%s validator: block %d: %s", e.Validator, e.Block, e.Msg)
}

// Unwrap lets errors.Is(err, linuxerr.EILSEQ) work.
func (e *CheckError) Unwrap() error { return e.Errno }

// Std is the common 16-byte header validator shared by btree nodes,
// bitmaps and index blocks: csum at 0 over bytes 4..4095, blocknr at 8.
type Std struct {
	Label string
	Xor   uint32
	// Extra, when set, runs after the blocknr and checksum checks.
	Extra func(data []byte, location uint64) error
	// Prefix is the DM_MSG_PREFIX of the kernel file the check lives in
	// ("btree spine"), CheckName the head of its messages ("node_check
	// failed"): the block manager logs "device-mapper: Prefix: CheckName:
	// blocknr 28 != wanted 26" when the check fails.
	Prefix, CheckName string
}

func (v *Std) Name() string { return v.Label }

// LogPrefix is the DM_MSG_PREFIX the block manager logs a failed check's
// message under.
func (v *Std) LogPrefix() string { return v.Prefix }

func (v *Std) PrepareForWrite(data []byte, location uint64) {
	binary.LittleEndian.PutUint64(data[8:], location)
	binary.LittleEndian.PutUint32(data[0:], Checksum(data[4:Size], v.Xor))
}

func (v *Std) Check(data []byte, location uint64) error {
	head := ""
	if v.CheckName != "" {
		head = v.CheckName + ": "
	}
	if got := binary.LittleEndian.Uint64(data[8:]); got != location {
		return &CheckError{v.Label, location, fmt.Sprintf("%sblocknr %d != wanted %d", head, got, location), linuxerr.ENOTBLK}
	}
	csum := Checksum(data[4:Size], v.Xor)
	if got := binary.LittleEndian.Uint32(data[0:]); got != csum {
		return &CheckError{v.Label, location, fmt.Sprintf("%scsum %d != wanted %d", head, csum, got), linuxerr.EILSEQ}
	}
	if v.Extra != nil {
		return v.Extra(data, location)
	}
	return nil
}

// Block is one locked 4 KiB block.
type Block struct {
	loc       uint64
	data      []byte
	dirty     bool
	validator Validator
	readers   int
	writer    bool
	prev      *Block
	next      *Block
	inLRU     bool
	listed    bool // in Manager.dirty
}

// Location is the block number.
func (b *Block) Location() uint64 { return b.loc }

// Data is the block contents; writable only under a write lock.
func (b *Block) Data() []byte { return b.data }

// Manager is the block manager (struct dm_block_manager).
type Manager struct {
	mu        condMutex
	dev       Device
	nrBlocks  uint64
	maxCached int
	cache     blockTable
	lru       Block // sentinel of the list of unlocked blocks, oldest first
	nrLRU     int
	readOnly  bool
	free      [][]byte
	arena     *arena                      // OffHeap: where new buffers come from
	log       func(level int, msg string) // nil: failures are not logged
	// coalesce > 1: an eviction writes up to coalesce dirty blocks in
	// one write (Coalesce); run and runBuf are its scratch.
	coalesce int
	run      []*Block
	runBuf   []byte
	// dirty lists every block made dirty since the last writeDirty (and
	// some since cleaned or evicted), so that a flush looks at those
	// rather than at the whole cache.
	dirty []*Block
	// Stats.
	Reads, Writes uint64
	// WriteCalls counts the device writes: a coalesced run is one.
	WriteCalls uint64
	// EvictWrites counts the dirty blocks written back to make room (with
	// a coalesced run, its other blocks too): before their commit. Writes
	// counts them too.
	EvictWrites uint64
}

// Option configures a Manager.
type Option func(*Manager)

// WithCacheBytes bounds the cache (rounded down to whole blocks, minimum 16).
func WithCacheBytes(n int64) Option {
	return func(m *Manager) {
		b := int(n / Size)
		if b < 16 {
			b = 16
		}
		m.maxCached = b
	}
}

// Unshared is for a manager only one goroutine ever uses (thin_restore's):
// it takes no mutex.
func Unshared() Option { return func(m *Manager) { m.mu.off = true } }

// Coalesce makes an eviction of a dirty block write, in the same write,
// the dirty unlocked blocks cached right after it, up to n blocks in all:
// the same bytes reach the device in fewer, larger writes. For the tools
// on a host's file (thin_restore evicts the btree leaves it fills, one
// after the other); the emulated machine's devices see the kernel's and
// the tools' writes block by block.
func Coalesce(n int) Option {
	return func(m *Manager) {
		if n > 1 {
			m.coalesce = n
			m.runBuf = make([]byte, n*Size)
		}
	}
}

// condMutex is a mutex that can be switched off (Unshared).
type condMutex struct {
	sync.Mutex
	off bool
}

func (c *condMutex) Lock() {
	if !c.off {
		c.Mutex.Lock()
	}
}

func (c *condMutex) Unlock() {
	if !c.off {
		c.Mutex.Unlock()
	}
}

// WithLog logs validator failures as the kernel does, each line whole
// ("device-mapper: block manager: ...") at its printk level.
func WithLog(log func(level int, msg string)) Option {
	return func(m *Manager) { m.log = log }
}

// ReadOnly makes every write lock fail with EPERM.
func ReadOnly() Option { return func(m *Manager) { m.readOnly = true } }

// NewManager creates a block manager over dev (dm_block_manager_create()).
func NewManager(dev Device, opts ...Option) *Manager {
	m := &Manager{dev: dev, maxCached: DefaultCacheBytes / Size}
	m.lru.next, m.lru.prev = &m.lru, &m.lru
	for _, o := range opts {
		o(m)
	}
	m.nrBlocks = uint64(dev.Size()) / Size
	return m
}

// Device returns the underlying device.
func (m *Manager) Device() Device { return m.dev }

// NrBlocks is dm_bm_nr_blocks(): the device size in whole blocks, re-read
// from the device each time (the metadata device can grow).
func (m *Manager) NrBlocks() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nrBlocks = uint64(m.dev.Size()) / Size
	return m.nrBlocks
}

// SetReadOnly is dm_bm_set_read_only() / dm_bm_set_read_write().
func (m *Manager) SetReadOnly(ro bool) {
	m.mu.Lock()
	m.readOnly = ro
	m.mu.Unlock()
}

// IsReadOnly is dm_bm_is_read_only().
func (m *Manager) IsReadOnly() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readOnly
}

func (m *Manager) lruRemove(b *Block) {
	if b.inLRU {
		b.prev.next = b.next
		b.next.prev = b.prev
		b.prev, b.next = nil, nil
		b.inLRU = false
		m.nrLRU--
	}
}

// lruPush puts b at the new end of the list: evicted last.
func (m *Manager) lruPush(b *Block) { m.lruInsertAfter(b, m.lru.prev) }

// lruPushFront puts b at the old end of the list: evicted first.
func (m *Manager) lruPushFront(b *Block) { m.lruInsertAfter(b, &m.lru) }

func (m *Manager) lruInsertAfter(b, at *Block) {
	b.prev, b.next = at, at.next
	at.next.prev = b
	at.next = b
	b.inLRU = true
	m.nrLRU++
}

func (m *Manager) buf() []byte {
	if n := len(m.free); n > 0 {
		b := m.free[n-1]
		m.free = m.free[:n-1]
		return b
	}
	if m.arena != nil {
		if b := m.arena.alloc(); b != nil {
			return b
		}
	}
	return make([]byte, Size)
}

// evict drops unlocked blocks, oldest first, until the cache fits; dirty
// ones are written back first.
func (m *Manager) evict() error {
	for m.cache.n > m.maxCached && m.nrLRU > 0 {
		b := m.lru.next
		if b.dirty {
			write := m.writeBack
			if m.coalesce > 1 {
				write = m.writeRun
			}
			before := m.Writes
			err := write(b)
			m.EvictWrites += m.Writes - before
			if err != nil {
				return err
			}
		}
		m.lruRemove(b)
		m.cache.del(b.loc)
		m.free = append(m.free, b.data)
		b.data = nil
	}
	return nil
}

func (m *Manager) writeBack(b *Block) error {
	if b.validator != nil {
		b.validator.PrepareForWrite(b.data, b.loc)
	}
	m.WriteCalls++
	if _, err := m.dev.WriteAt(b.data, int64(b.loc)*Size); err != nil {
		return fmt.Errorf("metadata block %d write failed: %w", b.loc, linuxerr.ToErrno(err))
	}
	m.Writes++
	b.dirty = false
	return nil
}

// writeRun writes b and the dirty unlocked blocks cached right after it
// (Coalesce) in one write.
func (m *Manager) writeRun(b *Block) error {
	run := append(m.run[:0], b)
	for len(run) < m.coalesce {
		nb := m.cache.get(b.loc + uint64(len(run)))
		if nb == nil || !nb.dirty || nb.writer || nb.readers > 0 {
			break
		}
		run = append(run, nb)
	}
	m.run = run[:0]
	err := m.writeBlocks(run)
	clear(run)
	return err
}

// writeBlocks writes a run of consecutive blocks in one write.
func (m *Manager) writeBlocks(run []*Block) error {
	b := run[0]
	if len(run) == 1 {
		return m.writeBack(b)
	}
	buf := m.runBuf[:len(run)*Size]
	for i, x := range run {
		if x.validator != nil {
			x.validator.PrepareForWrite(x.data, x.loc)
		}
		copy(buf[i*Size:], x.data)
	}
	m.WriteCalls++
	if _, err := m.dev.WriteAt(buf, int64(b.loc)*Size); err != nil {
		return fmt.Errorf("metadata blocks %d-%d write failed: %w", b.loc, b.loc+uint64(len(run))-1, linuxerr.ToErrno(err))
	}
	for _, x := range run {
		m.Writes++
		x.dirty = false
	}
	return nil
}

// get finds or reads block loc; zero means don't read, fill with zeroes.
func (m *Manager) get(loc uint64, v Validator, zero bool) (*Block, error) {
	if loc >= m.nrBlocks {
		m.nrBlocks = uint64(m.dev.Size()) / Size
		if loc >= m.nrBlocks {
			return nil, &CheckError{"block manager", loc, fmt.Sprintf("block %d beyond end of device (%d blocks)", loc, m.nrBlocks), linuxerr.EIO}
		}
	}
	if b := m.cache.get(loc); b != nil {
		if zero {
			if b.writer || b.readers > 0 {
				return nil, fmt.Errorf("block %d is already locked: %w", loc, linuxerr.EDEADLK)
			}
			clear(b.data)
			b.validator = v
			return b, nil
		}
		if b.validator == nil {
			if v != nil {
				if err := m.validate(v, b.data, loc); err != nil {
					return nil, err
				}
				b.validator = v
			}
		} else if b.validator != v {
			// dm_bm_validate_buffer(): "validator mismatch".
			name := "NULL"
			if v != nil {
				name = v.Name()
			}
			return nil, &CheckError{"block manager", loc, fmt.Sprintf("validator mismatch (old=%s vs new=%s)", b.validator.Name(), name), linuxerr.EINVAL}
		}
		return b, nil
	}
	b := &Block{loc: loc, data: m.buf(), validator: v}
	if zero {
		clear(b.data)
	} else {
		if _, err := m.dev.ReadAt(b.data, int64(loc)*Size); err != nil {
			m.free = append(m.free, b.data)
			return nil, &CheckError{"block manager", loc, "read failed: " + err.Error(), linuxerr.EIO}
		}
		m.Reads++
		if v != nil {
			if err := m.validate(v, b.data, loc); err != nil {
				// dm-bufio keeps a buffer that read fine but failed its
				// check, unvalidated: the next lock of the block checks
				// (and logs) again, without reading (dm_bm_validate_buffer()).
				// Only buffers with read errors are dropped
				// (dm_bufio_release()).
				b.validator = nil
				m.cache.set(b)
				m.lruPush(b)
				return nil, err
			}
		}
	}
	m.cache.set(b)
	return b, nil
}

// validate is dm_bm_validate_buffer(): run the validator's check and, when
// it fails, log the check's own line (validators with a LogPrefix; others,
// like thin's sb_check, log it themselves) and the block manager's.
func (m *Manager) validate(v Validator, data []byte, loc uint64) error {
	err := v.Check(data, loc)
	if err == nil || m.log == nil {
		return err
	}
	var ce *CheckError
	if p, ok := v.(interface{ LogPrefix() string }); ok && p.LogPrefix() != "" && errors.As(err, &ce) {
		m.log(3, "device-mapper: "+p.LogPrefix()+": "+ce.Msg)
	}
	m.log(3, fmt.Sprintf("device-mapper: block manager: %s validator check failed for block %d", v.Name(), loc))
	return err
}

// ReadLock is dm_bm_read_lock(). A nil validator reads the raw block.
func (m *Manager) ReadLock(loc uint64, v Validator) (*Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.get(loc, v, false)
	if err != nil {
		return nil, err
	}
	if b.writer {
		return nil, fmt.Errorf("block %d is write locked: %w", loc, linuxerr.EDEADLK)
	}
	m.lruRemove(b)
	b.readers++
	return b, m.evict()
}

// ReadTryLock is dm_bm_read_try_lock(): like ReadLock, but a block not in
// the cache is not read: EWOULDBLOCK (dm_bufio_get() found nothing). A
// cached block is still validated, and its failures logged.
func (m *Manager) ReadTryLock(loc uint64, v Validator) (*Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cache.get(loc) == nil {
		return nil, linuxerr.EAGAIN
	}
	b, err := m.get(loc, v, false)
	if err != nil {
		return nil, err
	}
	if b.writer {
		// A write-locked buffer would block dm_bufio_get().
		return nil, linuxerr.EAGAIN
	}
	m.lruRemove(b)
	b.readers++
	return b, nil
}

func (m *Manager) writeLock(loc uint64, v Validator, zero bool) (*Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readOnly {
		return nil, linuxerr.EPERM
	}
	b, err := m.get(loc, v, zero)
	if err != nil {
		return nil, err
	}
	if b.writer || b.readers > 0 {
		return nil, fmt.Errorf("block %d is already locked: %w", loc, linuxerr.EDEADLK)
	}
	m.lruRemove(b)
	b.writer = true
	m.markDirty(b)
	return b, m.evict()
}

// markDirty sets b dirty and lists it for the next writeDirty.
func (m *Manager) markDirty(b *Block) {
	b.dirty = true
	if !b.listed {
		b.listed = true
		m.dirty = append(m.dirty, b)
	}
}

// WriteLock is dm_bm_write_lock().
func (m *Manager) WriteLock(loc uint64, v Validator) (*Block, error) {
	return m.writeLock(loc, v, false)
}

// WriteLockZero is dm_bm_write_lock_zero(): the block is not read.
func (m *Manager) WriteLockZero(loc uint64, v Validator) (*Block, error) {
	return m.writeLock(loc, v, true)
}

// Shadow is the block manager's half of __shadow_block(): orig is read
// locked (read and validated as ReadLock does) and copied into nb, which
// is returned write locked, as WriteLockZero would give it; orig is
// unlocked and leaves the cache first.
//
// dropOrig says that orig is free once the copy exists (its reference
// count reached zero): nothing reads it again in this transaction. Its
// buffer, when no one else holds it and it is clean (the bytes on the
// device are the same), then becomes nb's, without a copy, and orig leaves
// the cache at once. The device sees the same reads and writes either way.
func (m *Manager) Shadow(orig, nb uint64, v Validator, dropOrig bool) (*Block, error) {
	if dropOrig {
		m.mu.Lock()
		b, err := m.moveBlock(orig, nb, v)
		m.mu.Unlock()
		if b != nil || err != nil {
			return b, err
		}
	}
	ob, err := m.ReadLock(orig, v)
	if err != nil {
		return nil, err
	}
	res, err := m.WriteLockZero(nb, v)
	if err != nil {
		m.Unlock(ob)
		return nil, err
	}
	copy(res.data, ob.data)
	m.UnlockCold(ob)
	return res, nil
}

// moveBlock re-keys orig's cached buffer as nb, write locked and dirty;
// nil, nil when it cannot (Shadow then copies). orig is read from the
// device first when it is not cached, as ReadLock would.
func (m *Manager) moveBlock(orig, nb uint64, v Validator) (*Block, error) {
	if m.readOnly || nb >= m.nrBlocks {
		return nil, nil
	}
	if b := m.cache.get(nb); b != nil && (b.writer || b.readers > 0 || b.dirty) {
		return nil, nil
	}
	ob, err := m.get(orig, v, false)
	if err != nil {
		return nil, err
	}
	if ob.writer || ob.readers > 0 || ob.dirty || ob.validator != v {
		return nil, nil
	}
	if b := m.cache.get(nb); b != nil {
		// a stale clean copy of nb: WriteLockZero would have reused it
		m.lruRemove(b)
		m.cache.del(nb)
		m.free = append(m.free, b.data)
		b.data = nil
	}
	m.lruRemove(ob)
	m.cache.del(orig)
	ob.loc = nb
	m.cache.set(ob)
	ob.writer = true
	m.markDirty(ob)
	return ob, m.evict()
}

// Unlock releases a read or write lock.
func (m *Manager) Unlock(b *Block) { m.unlock(b, false) }

// unlock releases a lock; the last one puts the block on the LRU list, at
// the end evicted first when cold.
func (m *Manager) unlock(b *Block, cold bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b.writer {
		b.writer = false
	} else if b.readers > 0 {
		b.readers--
	}
	if !b.writer && b.readers == 0 {
		if cold {
			m.lruPushFront(b)
		} else {
			m.lruPush(b)
		}
		m.evict()
	}
}

// UnlockCold releases a read lock on a block the caller is done with for
// the rest of the transaction (the original of a shadow): once unlocked it
// is the first to go when the cache is full, leaving the room to the blocks
// that are still in use. The block stays cached until then.
func (m *Manager) UnlockCold(b *Block) { m.unlock(b, true) }

// Flush is dm_bm_flush(): write every dirty unlocked block, then flush the
// device.
func (m *Manager) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readOnly {
		return linuxerr.EPERM
	}
	if crashmut.On(crashmut.SuperblockFirst) {
		// Mutation M3: dm_tm_pre_commit()'s flush leaves the blocks
		// dirty, for CommitSuperblock to write after the superblock.
		return nil
	}
	if err := m.writeDirty(); err != nil {
		return err
	}
	if err := m.dev.Flush(); err != nil {
		return fmt.Errorf("metadata device flush failed: %w", linuxerr.ToErrno(err))
	}
	return nil
}

func (m *Manager) writeDirty() error {
	_, err := m.writeList(m.collectDirty())
	return err
}

// writeList writes dirty (in block order), in runs with Coalesce, and
// returns how many blocks it had to write.
func (m *Manager) writeList(dirty []*Block) (int, error) {
	nr := len(dirty)
	if m.coalesce > 1 {
		for len(dirty) > 0 {
			n := 1
			for n < len(dirty) && n < m.coalesce && dirty[n].loc == dirty[0].loc+uint64(n) {
				n++
			}
			if err := m.writeBlocks(dirty[:n]); err != nil {
				return nr, err
			}
			dirty = dirty[n:]
		}
		return nr, nil
	}
	for _, b := range dirty {
		if err := m.writeBack(b); err != nil {
			return nr, err
		}
	}
	return nr, nil
}

// collectDirty returns the dirty blocks that are not write locked, in
// block order, and keeps listed only those that stay dirty (the write
// locked ones). The slice is valid until the next call.
func (m *Manager) collectDirty() []*Block {
	n := 0
	var out []*Block
	for _, b := range m.dirty {
		switch {
		case !b.dirty:
			// written since it was listed (evicted blocks are written
			// first)
			b.listed = false
		case b.writer:
			m.dirty[n] = b
			n++
		default:
			b.listed = false
			out = append(out, b)
		}
	}
	clear(m.dirty[n:])
	m.dirty = m.dirty[:n]
	slices.SortFunc(out, func(a, b *Block) int { return cmp.Compare(a.loc, b.loc) })
	for _, b := range out {
		// still dirty until written: a failed write leaves it listed
		b.listed = true
		m.dirty = append(m.dirty, b)
	}
	return out
}

// CommitSuperblock is the end of dm_tm_commit(): it unlocks the
// (write-locked) superblock and runs dm_bm_flush(), which writes the dirty
// blocks and then issues an empty flush (dm_bufio_write_dirty_buffers()).
// Linux 6.1 writes the superblock as a plain write, with no FUA: the flush
// after it is the commit point. The caller has already flushed every other
// block (dm_tm_pre_commit()); should any still be dirty, they are written
// and flushed first, so that the superblock never reaches the disk ahead of
// what it points to.
func (m *Manager) CommitSuperblock(sb *Block) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb.writer = false
	defer func() {
		if !sb.inLRU && sb.readers == 0 && m.cache.get(sb.loc) == sb {
			m.lruPush(sb)
		}
		m.evict()
	}()
	if crashmut.On(crashmut.SuperblockFirst) {
		// Mutation M3: the superblock goes out first, the metadata it
		// points to after it, with no flush between them.
		if err := m.writeBack(sb); err != nil {
			return fmt.Errorf("superblock write failed: %w", errors.Unwrap(err))
		}
		if err := m.writeDirty(); err != nil {
			return err
		}
		return m.dev.Flush()
	}
	sb.dirty = false
	others, err := m.writeList(m.collectDirty())
	m.markDirty(sb)
	if err != nil {
		return err
	}
	if others > 0 {
		if err := m.dev.Flush(); err != nil {
			return fmt.Errorf("metadata device flush failed: %w", linuxerr.ToErrno(err))
		}
	}
	if err := m.writeBack(sb); err != nil {
		return fmt.Errorf("superblock write failed: %w", errors.Unwrap(err))
	}
	if crashmut.On(crashmut.NoFlushAfterSuperblock) {
		return nil
	}
	if err := m.dev.Flush(); err != nil {
		return fmt.Errorf("metadata device flush failed: %w", linuxerr.ToErrno(err))
	}
	return nil
}

// Reset is dm_block_manager_reset() (used by abort): like dm-bufio's
// drop_buffers(), dirty blocks are written out first (uncommitted shadows
// are unreferenced, so that is harmless), then every unlocked block is
// forgotten.
func (m *Manager) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writeDirty()
	m.cache.all(func(b *Block) {
		if b.writer || b.readers > 0 {
			return
		}
		m.lruRemove(b)
		m.cache.del(b.loc)
		m.free = append(m.free, b.data)
		b.data = nil
		b.dirty = false // a failed write-back above: forgotten all the same
	})
}

// Close is dm_block_manager_destroy(): dm_bufio_client_destroy() ->
// drop_buffers() writes any dirty blocks back
// (dm_bufio_write_dirty_buffers_async(), read-only or not) and sends no
// flush. After dm_pool_metadata_close()'s commit nothing is dirty, so a
// pool's teardown writes nothing.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writeDirty()
}

// Locked counts blocks currently locked (tests use it to find leaks).
func (m *Manager) Locked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	m.cache.all(func(b *Block) {
		if b.writer || b.readers > 0 {
			n++
		}
	})
	return n
}

// Cached is the number of blocks in the cache.
func (m *Manager) Cached() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cache.n
}
