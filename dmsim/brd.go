package dmsim

import (
	"fmt"
	"strconv"
	"sync"
)

// brd: RAM-backed block devices /dev/ramN (drivers/block/brd.c), major 1,
// created when the module loads: rd_nr disks of rd_size KiB. Memory is
// sparse: only written pages are kept. No discard, no write cache.

type brdState struct {
	disks []*RamDisk // set by brd's init, never changed
}

// RamDisk is one brd device.
type RamDisk struct {
	k     *Kernel
	name  string
	dev   DevT
	size  uint64 // sectors
	mu    sync.Mutex
	pages map[uint64][]byte // 4 KiB pages by index; guarded by mu
}

const brdPage = 4096

func (r *RamDisk) Name() string   { return r.name }
func (r *RamDisk) Dev() DevT      { return r.dev }
func (r *RamDisk) Size() uint64   { return r.size }
func (r *RamDisk) ReadOnly() bool { return false }
func (r *RamDisk) Limits() QueueLimits {
	l := DefaultQueueLimits()
	// blk_set_default_limits() (BLK_SAFE_MAX_SECTORS), then
	// blk_queue_physical_block_size(PAGE_SIZE), which raises io_min too.
	l.MaxSectors, l.MaxHWSectors = 255, 255
	l.PhysicalBlockSize = brdPage
	l.IOMin = brdPage
	l.NonRotational = true
	return l
}

// Submit copies to or from the pages, synchronously.
func (r *RamDisk) Submit(bio *Bio) {
	if !r.k.submitChecks(r, r.Limits(), bio) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	off := bio.Sector * SectorSize
	switch bio.Op {
	case OpRead:
		for done := uint64(0); done < uint64(len(bio.Data)); {
			pg, po := (off+done)/brdPage, (off+done)%brdPage
			n := min(brdPage-po, uint64(len(bio.Data))-done)
			if p, ok := r.pages[pg]; ok {
				copy(bio.Data[done:done+n], p[po:])
			} else {
				clear(bio.Data[done : done+n])
			}
			done += n
		}
	case OpWrite:
		for done := uint64(0); done < uint64(len(bio.Data)); {
			pg, po := (off+done)/brdPage, (off+done)%brdPage
			n := min(brdPage-po, uint64(len(bio.Data))-done)
			p, ok := r.pages[pg]
			if !ok {
				p = make([]byte, brdPage)
				r.pages[pg] = p
			}
			copy(p[po:], bio.Data[done:done+n])
			done += n
		}
	}
	bio.Endio(nil)
}

// PagesInUse is how many 4 KiB pages hold data.
func (r *RamDisk) PagesInUse() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pages)
}

// brdInit is brd_init().
func brdInit(k *Kernel, _ map[string]string) error {
	nr, _ := strconv.Atoi(k.ModuleParam("brd", "rd_nr"))
	sizeKB, _ := strconv.ParseUint(k.ModuleParam("brd", "rd_size"), 10, 64)
	st := &brdState{}
	for i := 0; i < nr; i++ {
		r := &RamDisk{
			k:     k,
			name:  fmt.Sprintf("ram%d", i),
			dev:   DevT{RamdiskMajor, uint32(i)},
			size:  sizeKB * 2,
			pages: map[uint64][]byte{},
		}
		st.disks = append(st.disks, r)
		k.addDisk(r.name, r.dev, 1, r)
	}
	k.brd = st
	k.registerBlkdevMajor(RamdiskMajor, "ramdisk")
	k.Log.Printk(KernInfo, "brd: module loaded")
	return nil
}

// RamDisks returns the brd devices (nil before brd is loaded).
func (k *Kernel) RamDisks() []*RamDisk {
	if k.brd == nil {
		return nil
	}
	return append([]*RamDisk(nil), k.brd.disks...)
}
