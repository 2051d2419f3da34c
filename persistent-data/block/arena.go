package block

import "runtime"

// slabBlocks is how many block buffers one arena slab holds (1 MiB).
const slabBlocks = 256

// arena hands out the cache's block buffers from slabs outside the Go heap
// (OffHeap): a cache of N MiB then costs N MiB of memory, not the twice
// as much the garbage collector lets a heap of N MiB grow to. Buffers are
// recycled through the manager's free list and never returned one by one;
// the slabs are unmapped when the manager is garbage collected.
type arena struct {
	slabs [][]byte
	rest  []byte // the unused end of the newest slab
}

// alloc returns a new buffer of Size bytes, or nil when no slab can be
// mapped (the caller then uses the heap).
func (a *arena) alloc() []byte {
	if len(a.rest) == 0 {
		s := mapSlab(slabBlocks * Size)
		if s == nil {
			return nil
		}
		a.slabs = append(a.slabs, s)
		a.rest = s
	}
	b := a.rest[:Size:Size]
	a.rest = a.rest[Size:]
	return b
}

func (a *arena) release() {
	for _, s := range a.slabs {
		unmapSlab(s)
	}
	a.slabs, a.rest = nil, nil
}

// OffHeap takes the cache's buffers from memory outside the Go heap, for a
// large cache (a pool's). The manager's blocks must not be used once the
// manager itself is unreachable: their memory goes with it.
func OffHeap() Option {
	return func(m *Manager) {
		if m.arena == nil {
			m.arena = &arena{}
			runtime.AddCleanup(m, func(a *arena) { a.release() }, m.arena)
		}
	}
}
