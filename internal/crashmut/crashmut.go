// Package crashmut holds the crash sweep's test-only mutations: switches
// that re-introduce known dm-thin crash bugs, so that the sweep (package
// crash) can show it catches them. Nothing but tests sets them; each site
// that reads one names it. Off (the default), every site behaves as the
// kernel does.
package crashmut

import "sync/atomic"

// Mutation is one re-introduced bug.
type Mutation int32

const (
	None Mutation = iota
	// SkipDataFlush: the pool's pre-commit callback does not flush the
	// data device (the bug 694cfe7f31db fixed). Site: targets/thin
	// pool_target.go, the pre-commit callback.
	SkipDataFlush
	// FUAOverwriteEarly: a whole-block overwrite carrying FUA completes
	// before the commit (the bug 4ae280b4ee34 fixed). Site: targets/thin
	// datapath.go completeOverwriteBio.
	FUAOverwriteEarly
	// SuperblockFirst: the superblock is written before the other dirty
	// metadata blocks are flushed (the pre-commit flush leaves them dirty;
	// the commit writes the superblock, then them, then flushes). Sites:
	// persistent-data/block Manager.Flush and Manager.CommitSuperblock.
	SuperblockFirst
	// ReuseFreed: the allocator reuses a block freed in the same
	// transaction (it searches from block 0, so the blocks freed behind
	// its position are found). Site: persistent-data/spacemap
	// findCommonFree.
	ReuseFreed
	// NoFlushAfterSuperblock: the flush after the superblock write is
	// dropped. Site: persistent-data/block Manager.CommitSuperblock.
	NoFlushAfterSuperblock
)

var names = []string{"none", "skip-data-flush", "fua-overwrite-early", "superblock-first", "reuse-freed", "no-flush-after-superblock"}

func (m Mutation) String() string {
	if int(m) < len(names) {
		return names[m]
	}
	return "mutation?"
}

// All are the mutations, in order.
var All = []Mutation{SkipDataFlush, FUAOverwriteEarly, SuperblockFirst, ReuseFreed, NoFlushAfterSuperblock}

var active atomic.Int32

// Set switches m on (None: all off) for the whole process and returns the
// function that switches it off again. Tests only.
func Set(m Mutation) (restore func()) {
	old := active.Swap(int32(m))
	return func() { active.Store(old) }
}

// On reports whether m is switched on.
func On(m Mutation) bool { return active.Load() == int32(m) }
