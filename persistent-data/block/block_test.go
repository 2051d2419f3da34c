package block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// Test vectors from docs/metadata-format.md §2 (checked against
// thin_restore output).
func TestChecksumVectors(t *testing.T) {
	zero := make([]byte, 4092)
	if got := Checksum(zero, 0); got != 0x58CDA791 {
		t.Errorf("raw crc of zeroes: %#x", got)
	}
	for _, tc := range []struct {
		loc     uint64
		max, vs uint32
		want    uint32
	}{
		{2, 336, 4, 0xC360E452},
		{7, 252, 8, 0x49C54642},
	} {
		b := make([]byte, Size)
		binary.LittleEndian.PutUint32(b[4:], 2)
		binary.LittleEndian.PutUint32(b[20:], tc.max)
		binary.LittleEndian.PutUint32(b[24:], tc.vs)
		v := &Std{Label: "btree_node", Xor: 121107}
		v.PrepareForWrite(b, tc.loc)
		if got := binary.LittleEndian.Uint32(b); got != tc.want {
			t.Errorf("leaf at %d: csum %#x, want %#x", tc.loc, got, tc.want)
		}
		if err := v.Check(b, tc.loc); err != nil {
			t.Errorf("check: %v", err)
		}
		if err := v.Check(b, tc.loc+1); !errors.Is(err, linuxerr.ENOTBLK) {
			t.Errorf("wrong location: %v", err)
		}
		b[100] ^= 1
		if err := v.Check(b, tc.loc); !errors.Is(err, linuxerr.EILSEQ) {
			t.Errorf("corrupted: %v", err)
		}
	}
}

func TestLocksAndCache(t *testing.T) {
	dev := NewMemDevice(100 * Size)
	m := NewManager(dev, WithCacheBytes(16*Size))
	v := &Std{Label: "t", Xor: 1}
	b, err := m.WriteLockZero(5, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadLock(5, v); !errors.Is(err, linuxerr.EDEADLK) {
		t.Fatalf("read lock of a write locked block: %v", err)
	}
	b.Data()[100] = 42
	m.Unlock(b)
	r1, _ := m.ReadLock(5, v)
	r2, err := m.ReadLock(5, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.WriteLock(5, v); !errors.Is(err, linuxerr.EDEADLK) {
		t.Fatalf("write lock of a read locked block: %v", err)
	}
	m.Unlock(r1)
	m.Unlock(r2)
	if _, err := m.ReadLock(5, &Std{Label: "other", Xor: 2}); !errors.Is(err, linuxerr.EINVAL) {
		t.Fatalf("validator mismatch: %v", err)
	}
	// Fill well past the bound: dirty blocks are written back on eviction.
	for i := uint64(10); i < 90; i++ {
		b, err := m.WriteLockZero(i, v)
		if err != nil {
			t.Fatal(err)
		}
		b.Data()[20] = byte(i)
		m.Unlock(b)
		if m.Cached() > 16 {
			t.Fatalf("cache holds %d blocks, bound 16", m.Cached())
		}
	}
	for i := uint64(10); i < 90; i++ {
		b, err := m.ReadLock(i, v)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if b.Data()[20] != byte(i) {
			t.Fatalf("block %d lost its contents", i)
		}
		m.Unlock(b)
	}
	if _, err := m.ReadLock(100, v); err == nil {
		t.Fatal("read beyond the device succeeded")
	}
	m.SetReadOnly(true)
	if _, err := m.WriteLock(5, v); err != linuxerr.EPERM {
		t.Fatalf("write lock when read-only: %v", err)
	}
}

// TestCommitOrder: every other dirty block is written, then a flush, then
// the superblock as a plain write (6.1 has no FUA on it), then a flush.
func TestCommitOrder(t *testing.T) {
	dev := NewMemDevice(10 * Size)
	dev.Log = []MemOp{}
	m := NewManager(dev)
	v := &Std{Label: "t", Xor: 1}
	for _, i := range []uint64{3, 1, 2} {
		b, _ := m.WriteLockZero(i, v)
		m.Unlock(b)
	}
	sb, _ := m.WriteLockZero(0, v)
	if err := m.CommitSuperblock(sb); err != nil {
		t.Fatal(err)
	}
	want := []MemOp{{'W', 1}, {'W', 2}, {'W', 3}, {'F', -1}, {'W', 0}, {'F', -1}}
	if len(dev.Log) != len(want) {
		t.Fatalf("ops %v", dev.Log)
	}
	for i := range want {
		if dev.Log[i] != want[i] {
			t.Fatalf("ops %v, want %v", dev.Log, want)
		}
	}
	if m.Locked() != 0 {
		t.Fatal("superblock still locked")
	}
}

// TestValidatorLog: a failed check logs the validator's own line under its
// DM_MSG_PREFIX, then the block manager's, as dm_bm_validate_buffer() does
// in 6.1; blocknr mismatches are ENOTBLK, checksum ones EILSEQ.
func TestValidatorLog(t *testing.T) {
	node := &Std{Label: "btree_node", Xor: 121107, Prefix: "btree spine", CheckName: "node_check failed",
		Extra: func(d []byte, loc uint64) error {
			if d[16] == 0xff {
				return &CheckError{"btree_node", loc, "node_check failed: too many entries", linuxerr.EILSEQ}
			}
			return nil
		}}
	bitmap := &Std{Label: "sm_bitmap", Xor: 240779, Prefix: "space map common", CheckName: "bitmap check failed"}
	plain := &Std{Label: "raw", Xor: 1}
	for _, tc := range []struct {
		name    string
		v       *Std
		corrupt func(dev *MemDevice, good []byte) // damages block 26
		errno   linuxerr.Errno
		want    []string
	}{
		{"misdirected node", node, func(dev *MemDevice, _ []byte) {
			other := make([]byte, Size)
			node.PrepareForWrite(other, 28)
			dev.WriteAt(other, 26*Size)
		}, linuxerr.ENOTBLK, []string{
			"<3>device-mapper: btree spine: node_check failed: blocknr 28 != wanted 26",
			"<3>device-mapper: block manager: btree_node validator check failed for block 26"}},
		{"bitmap checksum", bitmap, func(dev *MemDevice, good []byte) {
			good[100] ^= 1
			dev.WriteAt(good, 26*Size)
		}, linuxerr.EILSEQ, []string{
			"<3>device-mapper: space map common: bitmap check failed: csum %d != wanted %d",
			"<3>device-mapper: block manager: sm_bitmap validator check failed for block 26"}},
		{"node's own check", node, func(dev *MemDevice, good []byte) {
			good[16] = 0xff
			node.PrepareForWrite(good, 26)
			dev.WriteAt(good, 26*Size)
		}, linuxerr.EILSEQ, []string{
			"<3>device-mapper: btree spine: node_check failed: too many entries",
			"<3>device-mapper: block manager: btree_node validator check failed for block 26"}},
		{"validator without a prefix", plain, func(dev *MemDevice, _ []byte) {
			dev.WriteAt(make([]byte, Size), 26*Size)
		}, linuxerr.ENOTBLK, []string{
			"<3>device-mapper: block manager: raw validator check failed for block 26"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := NewMemDevice(32 * Size)
			good := make([]byte, Size)
			tc.v.PrepareForWrite(good, 26)
			dev.WriteAt(good, 26*Size)
			tc.corrupt(dev, good)
			var got []string
			m := NewManager(dev, WithLog(func(level int, msg string) { got = append(got, fmt.Sprintf("<%d>%s", level, msg)) }))
			_, err := m.ReadLock(26, tc.v)
			if !errors.Is(err, tc.errno) {
				t.Errorf("error %v, want %v", err, tc.errno)
			}
			want := slices.Clone(tc.want)
			if strings.Contains(want[0], "%d") {
				d := make([]byte, Size)
				dev.ReadAt(d, 26*Size)
				want[0] = fmt.Sprintf(want[0], Checksum(d[4:], tc.v.Xor), binary.LittleEndian.Uint32(d))
			}
			if !slices.Equal(got, want) {
				t.Errorf("log %q\nwant %q", got, want)
			}
			// Without WithLog nothing is logged, and the error is the same.
			if _, err2 := NewManager(dev).ReadLock(26, tc.v); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("unlogged error %v, want %v", err2, err)
			}
		})
	}
}

// countingDevice counts the writes reaching a MemDevice.
type countingDevice struct {
	*MemDevice
	writes, most int // writes, the largest in blocks
}

func (d *countingDevice) WriteAt(p []byte, off int64) (int, error) {
	d.writes++
	d.most = max(d.most, len(p)/Size)
	return d.MemDevice.WriteAt(p, off)
}

// TestCoalesce: with Coalesce, evictions and flushes write runs of
// consecutive dirty blocks in one write each (never more than n blocks),
// leaving the same bytes on the device as block by block.
func TestCoalesce(t *testing.T) {
	v := &Std{Label: "t", Xor: 7}
	for _, c := range []struct {
		name      string
		n         int
		order     func(i int) uint64 // the block written i-th
		wantFewer bool
	}{
		{"sequential", 8, func(i int) uint64 { return uint64(i) }, true},
		{"strided", 8, func(i int) uint64 { return uint64(i * 2 % 199) }, false},
		{"rewrites", 4, func(i int) uint64 { return uint64(i % 37) }, true},
		{"off", 0, func(i int) uint64 { return uint64(i) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var imgs [2][]byte
			var writes [2]int
			for k, opts := range [][]Option{{WithCacheBytes(16 * Size)}, {WithCacheBytes(16 * Size), Coalesce(c.n)}} {
				dev := &countingDevice{MemDevice: NewMemDevice(300 * Size)}
				m := NewManager(dev, opts...)
				seen := map[uint64]bool{}
				for i := 0; i < 300; i++ {
					lock := m.WriteLock
					if loc := c.order(i); !seen[loc] {
						seen[loc], lock = true, m.WriteLockZero
					}
					b, err := lock(c.order(i), v)
					if err != nil {
						t.Fatal(err)
					}
					b.Data()[100+i%50]++
					m.Unlock(b)
				}
				// every write so far made room in the 16-block cache
				evicted := m.EvictWrites
				if evicted == 0 || evicted != m.Writes {
					t.Fatalf("%d eviction writes, %d writes before the flush", evicted, m.Writes)
				}
				if err := m.Flush(); err != nil {
					t.Fatal(err)
				}
				if m.EvictWrites != evicted || m.Writes == evicted {
					t.Fatalf("after the flush: %d eviction writes (was %d), %d writes", m.EvictWrites, evicted, m.Writes)
				}
				imgs[k], writes[k] = dev.Bytes(), dev.writes
				if k == 1 && dev.most > max(c.n, 1) {
					t.Fatalf("a write of %d blocks, limit %d", dev.most, c.n)
				}
			}
			if !slices.Equal(imgs[0], imgs[1]) {
				t.Fatal("coalesced writes leave other bytes")
			}
			if fewer := writes[1] < writes[0]; fewer != c.wantFewer {
				t.Fatalf("%d writes coalesced, %d block by block", writes[1], writes[0])
			}
		})
	}
}

// TestUnlockCold: a block released with UnlockCold is the first to leave a
// full cache; one released with Unlock stays while older ones go.
func TestUnlockCold(t *testing.T) {
	for _, c := range []struct {
		name      string
		cold      bool
		wantDrops bool // block 0 is evicted by the next new block
	}{
		{"unlock", false, false},
		{"cold", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev := NewMemDevice(64 * Size)
			m := NewManager(dev, WithCacheBytes(16*Size))
			// Blocks 1..15 fill the cache, oldest first; block 0 is
			// read last.
			for i := uint64(1); i < 16; i++ {
				b, err := m.ReadLock(i, nil)
				if err != nil {
					t.Fatal(err)
				}
				m.Unlock(b)
			}
			b, err := m.ReadLock(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.cold {
				m.UnlockCold(b)
			} else {
				m.Unlock(b)
			}
			reads := m.Reads
			nb, err := m.ReadLock(20, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.Unlock(nb)
			if m.Cached() != 16 {
				t.Fatalf("%d blocks cached, want 16", m.Cached())
			}
			again, err := m.ReadLock(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.Unlock(again)
			if dropped := m.Reads-reads == 2; dropped != c.wantDrops {
				t.Fatalf("block 0 re-read: %v, want %v", dropped, c.wantDrops)
			}
		})
	}
}

// TestOffHeap: blocks in off-heap buffers hold what is written to them
// through eviction, re-reads and flushes, as heap buffers do.
func TestOffHeap(t *testing.T) {
	v := &Std{Label: "t", Xor: 9}
	var imgs [][]byte
	for _, opts := range [][]Option{{WithCacheBytes(16 * Size)}, {WithCacheBytes(16 * Size), OffHeap()}} {
		dev := NewMemDevice(600 * Size)
		m := NewManager(dev, opts...)
		for i := 0; i < 2000; i++ {
			loc := uint64(i * 7 % 599)
			lock := m.WriteLock
			if i < 599 {
				lock = m.WriteLockZero
			}
			b, err := lock(loc, v)
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint64(b.Data()[16+8*(i%400):], uint64(i))
			m.Unlock(b)
		}
		if err := m.Flush(); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, dev.Bytes())
		if m.Locked() != 0 {
			t.Fatalf("%d blocks still locked", m.Locked())
		}
	}
	if !slices.Equal(imgs[0], imgs[1]) {
		t.Fatal("off-heap buffers leave other bytes")
	}
}

// TestShadow: Shadow gives nb a write-locked copy of orig, and the device
// the same reads and writes, whether orig's buffer moves to nb (dropOrig,
// orig clean and unlocked) or is copied; a moved orig leaves the cache.
func TestShadow(t *testing.T) {
	v := &Std{Label: "t", Xor: 3}
	const orig, nb = 4, 9
	for _, c := range []struct {
		name     string
		dropOrig bool
		setup    func(t *testing.T, m *Manager) (cleanup func())
		wantErr  error
		moved    bool // orig leaves the cache
	}{
		{"cached, moved", true, nil, nil, true},
		{"not cached, read then moved", true, func(t *testing.T, m *Manager) func() {
			m.Reset()
			return nil
		}, nil, true},
		{"kept", false, nil, nil, false},
		{"orig read locked elsewhere", true, func(t *testing.T, m *Manager) func() {
			b, err := m.ReadLock(orig, v)
			if err != nil {
				t.Fatal(err)
			}
			return func() { m.Unlock(b) }
		}, nil, false},
		{"orig dirty", true, func(t *testing.T, m *Manager) func() {
			b, err := m.WriteLock(orig, v)
			if err != nil {
				t.Fatal(err)
			}
			m.Unlock(b)
			return nil
		}, nil, false},
		{"stale nb cached", true, func(t *testing.T, m *Manager) func() {
			b, err := m.ReadLock(nb, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.Unlock(b)
			return nil
		}, nil, true},
		{"nb locked", true, func(t *testing.T, m *Manager) func() {
			b, err := m.ReadLock(nb, nil)
			if err != nil {
				t.Fatal(err)
			}
			return func() { m.Unlock(b) }
		}, linuxerr.EDEADLK, false},
		{"read only", true, func(t *testing.T, m *Manager) func() {
			m.SetReadOnly(true)
			return func() { m.SetReadOnly(false) }
		}, linuxerr.EPERM, false},
		{"orig corrupt", true, func(t *testing.T, m *Manager) func() {
			m.Reset()
			m.dev.WriteAt([]byte{0xff}, orig*Size+100)
			return nil
		}, linuxerr.EILSEQ, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dev := NewMemDevice(16 * Size)
			dev.Log = []MemOp{}
			m := NewManager(dev)
			b, err := m.WriteLockZero(orig, v)
			if err != nil {
				t.Fatal(err)
			}
			b.Data()[100] = 42
			m.Unlock(b)
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			var cleanup func()
			if c.setup != nil {
				cleanup = c.setup(t, m)
			}
			reads := m.Reads
			dev.Log = dev.Log[:0]
			s, err := m.Shadow(orig, nb, v, c.dropOrig)
			if cleanup != nil {
				cleanup()
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err != nil {
				if m.Locked() != 0 {
					t.Fatalf("%d blocks left locked", m.Locked())
				}
				return
			}
			if s.Location() != nb || s.Data()[100] != 42 {
				t.Fatalf("shadow at %d holds %d", s.Location(), s.Data()[100])
			}
			s.Data()[200] = 7
			m.Unlock(s)
			if m.Locked() != 0 {
				t.Fatalf("%d blocks left locked", m.Locked())
			}
			if cached := m.cache.get(orig) != nil; cached == c.moved {
				t.Fatalf("orig cached: %v, want %v", cached, !c.moved)
			}
			// the device sees the same: orig read when it was not cached,
			// nothing written until the flush, then nb (and orig when it
			// was dirty)
			if err := m.Flush(); err != nil {
				t.Fatal(err)
			}
			wantReads := uint64(0)
			if c.name == "not cached, read then moved" {
				wantReads = 1
			}
			if m.Reads-reads != wantReads {
				t.Fatalf("%d reads, want %d", m.Reads-reads, wantReads)
			}
			var wantOps []MemOp
			if c.name == "orig dirty" {
				wantOps = append(wantOps, MemOp{'W', orig})
			}
			wantOps = append(wantOps, MemOp{'W', nb}, MemOp{'F', -1})
			if !slices.Equal(dev.Log, wantOps) {
				t.Fatalf("ops %v, want %v", dev.Log, wantOps)
			}
			img := dev.Bytes()
			if img[orig*Size+100] != 42 || img[orig*Size+200] != 0 || img[nb*Size+100] != 42 || img[nb*Size+200] != 7 {
				t.Fatal("the device holds other bytes")
			}
			// orig reads back from the device when it is needed again
			ob, err := m.ReadLock(orig, v)
			if err != nil || ob.Data()[100] != 42 || ob.Data()[200] != 0 {
				t.Fatalf("orig after the shadow: %v", err)
			}
			m.Unlock(ob)
		})
	}
}

// failingDevice fails the writes of one block while fail is set.
type failingDevice struct {
	*MemDevice
	block int64
	fail  bool
}

func (d *failingDevice) WriteAt(p []byte, off int64) (int, error) {
	if d.fail && off <= d.block*Size && d.block*Size < off+int64(len(p)) {
		return 0, linuxerr.EIO
	}
	return d.MemDevice.WriteAt(p, off)
}

// TestFlushWritesDirty: a flush writes every dirty unlocked block once, in
// block order, whatever happened to it since it was made dirty (evicted
// and read again, cleaned by an earlier flush and dirtied again, still
// write locked); a block whose write failed stays dirty for the next
// flush. A model follows which blocks are dirty from the device's log.
func TestFlushWritesDirty(t *testing.T) {
	v := &Std{Label: "t", Xor: 2}
	for _, coalesce := range []int{0, 8} {
		t.Run(fmt.Sprint("coalesce ", coalesce), func(t *testing.T) {
			dev := &failingDevice{MemDevice: NewMemDevice(64 * Size), block: 7}
			dev.Log = []MemOp{}
			m := NewManager(dev, WithCacheBytes(16*Size), Coalesce(coalesce))
			dirty := map[int64]bool{}
			seen := map[uint64]bool{}
			// written drops the blocks the device wrote from the model
			written := func() []int64 {
				var w []int64
				for _, op := range dev.Log {
					if op.Op == 'W' {
						w = append(w, op.Block)
						delete(dirty, op.Block)
					}
				}
				dev.Log = dev.Log[:0]
				return w
			}
			touch := func(loc uint64) *Block {
				t.Helper()
				lock := m.WriteLock
				if !seen[loc] {
					seen[loc], lock = true, m.WriteLockZero
				}
				b, err := lock(loc, v)
				if err != nil {
					t.Fatal(err)
				}
				written() // evictions
				b.Data()[100]++
				dirty[int64(loc)] = true
				return b
			}
			flush := func(held ...int64) {
				t.Helper()
				var want []int64
				for b := range dirty {
					if !slices.Contains(held, b) {
						want = append(want, b)
					}
				}
				slices.Sort(want)
				if dev.fail {
					if i := slices.Index(want, dev.block); i >= 0 {
						// with Coalesce, the run holding it fails
						for coalesce > 1 && i > 0 && want[i-1] == want[i]-1 {
							i--
						}
						want = want[:i]
					}
				}
				err := m.Flush()
				if got := written(); !slices.Equal(got, want) {
					t.Fatalf("flush wrote %v, want %v (%v)", got, want, err)
				}
			}
			for _, loc := range []uint64{9, 3, 7, 4, 30} {
				m.Unlock(touch(loc))
			}
			flush()
			flush()
			// 3 dirtied again, then pushed out by 40..59
			m.Unlock(touch(3))
			for loc := uint64(40); loc < 60; loc++ {
				m.Unlock(touch(loc))
			}
			flush()
			for _, loc := range []uint64{9, 30, 5, 6} {
				m.Unlock(touch(loc))
			}
			held := touch(4)
			m.Unlock(touch(7))
			dev.fail = true
			flush(4)
			dev.fail = false
			m.Unlock(held)
			flush()
			flush()
			if len(dirty) != 0 {
				t.Fatalf("%v never written", dirty)
			}
		})
	}
}
