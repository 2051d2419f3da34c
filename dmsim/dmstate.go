package dmsim

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// dmState is device-mapper's global state in one kernel: the name and
// UUID hash (dm-ioctl.c's rb-trees), the minor allocator (_minor_idr), the
// global event counter and the deferred-remove work.
type dmState struct {
	k        *Kernel
	major    uint32
	removeWQ *sim.Workqueue // kdmremove

	hashMu sync.Mutex           // _hash_lock
	byName map[string]*hashCell // guarded by hashMu
	byUUID map[string]*hashCell // guarded by hashMu

	minorMu     sync.Mutex               // _minor_lock
	minors      map[uint32]*MappedDevice // guarded by minorMu
	globalEvent uint32                   // guarded by minorMu
}

// hashCell is struct hash_cell: a device's name, UUID and inactive table.
// Its fields are guarded by dmState.hashMu.
type hashCell struct {
	name   string
	uuid   string
	md     *MappedDevice
	newMap *Table
}

func newDMState(k *Kernel, major uint32) *dmState {
	return &dmState{
		k:        k,
		major:    major,
		byName:   map[string]*hashCell{},
		byUUID:   map[string]*hashCell{},
		minors:   map[uint32]*MappedDevice{},
		removeWQ: k.Clock.NewWorkqueue(),
	}
}

func (s *dmState) issueGlobalEvent() {
	s.minorMu.Lock()
	s.globalEvent++
	s.minorMu.Unlock()
}

func (s *dmState) mdByDevT(d DevT) *MappedDevice {
	if d.Major != s.major {
		return nil
	}
	s.minorMu.Lock()
	defer s.minorMu.Unlock()
	return s.minors[d.Minor]
}

// create is dm_create(): allocate a minor (the lowest free one, or the one
// asked for: EBUSY if taken) and the device.
func (s *dmState) create(persistent bool, minor uint32) (*MappedDevice, error) {
	s.minorMu.Lock()
	if persistent {
		if minor >= 1<<20 {
			s.minorMu.Unlock()
			return nil, linuxerr.EINVAL
		}
		if _, used := s.minors[minor]; used {
			s.minorMu.Unlock()
			return nil, linuxerr.EBUSY
		}
	} else {
		minor = 0
		for {
			if _, used := s.minors[minor]; !used {
				break
			}
			minor++
		}
	}
	k := s.k
	md := &MappedDevice{
		k:           k,
		dev:         DevT{s.major, minor},
		suspendLock: k.Clock.NewMutex(),
		typeLock:    k.Clock.NewMutex(),
		wq:          k.Clock.NewWorkqueue(),
		limits:      StackingLimits(),
	}
	md.bdev = &mdDisk{md: md}
	md.disk = &gendisk{name: fmt.Sprintf("dm-%d", minor), dev: md.dev, minors: 1, bdev: md.bdev, raKB: defaultRAKB}
	s.minors[minor] = md
	s.minorMu.Unlock()
	return md, nil
}

// destroy is __dm_destroy(): mark the device as being freed, run the
// suspend hooks if it is not suspended, destroy the live table, remove the
// disk and free the minor.
func (s *dmState) destroy(md *MappedDevice) {
	md.mu.Lock()
	md.freeing = true
	md.mu.Unlock()

	locked := md.suspendLock.Lock(context.Background()) == nil
	md.mu.Lock()
	t := md.live
	wasSuspended := md.suspended
	md.mu.Unlock()
	if !wasSuspended && locked {
		t.presuspendTargets()
		md.mu.Lock()
		md.suspended = true
		md.postSuspending = true
		md.mu.Unlock()
		t.postsuspendTargets()
		md.mu.Lock()
		md.postSuspending = false
		md.mu.Unlock()
	}
	if locked {
		md.suspendLock.Unlock()
	}

	md.mu.Lock()
	md.live = nil
	md.blockIO = true
	deferred := md.deferred
	md.deferred = nil
	hasQueue := md.hasQueue
	md.mu.Unlock()
	if t != nil {
		md.syncTable()
		t.destroy()
	}
	md.wq.Stop()
	for _, b := range deferred {
		b.Endio(linuxerr.EIO)
	}
	if hasQueue {
		s.k.delDisk(md.disk)
	}
	s.minorMu.Lock()
	if s.minors[md.dev.Minor] == md {
		delete(s.minors, md.dev.Minor)
	}
	s.minorMu.Unlock()
}

// ---- the hash (dm-ioctl.c) ----

// insert is dm_hash_insert(): EBUSY if the name or UUID is taken.
func (s *dmState) insert(name, uuid string, md *MappedDevice) error {
	s.hashMu.Lock()
	defer s.hashMu.Unlock()
	if _, ok := s.byName[name]; ok {
		return linuxerr.EBUSY
	}
	if uuid != "" {
		if _, ok := s.byUUID[uuid]; ok {
			return linuxerr.EBUSY
		}
	}
	hc := &hashCell{name: name, uuid: uuid, md: md}
	s.byName[name] = hc
	if uuid != "" {
		s.byUUID[uuid] = hc
	}
	md.mu.Lock()
	md.hc, md.name, md.uuid = hc, name, uuid
	md.mu.Unlock()
	return nil
}

// hashRemoveLocked is __hash_remove(); hashMu held. It raises an event on the
// live table and returns the inactive table for the caller to destroy.
func (s *dmState) hashRemoveLocked(hc *hashCell) *Table {
	delete(s.byName, hc.name)
	if hc.uuid != "" && s.byUUID[hc.uuid] == hc {
		delete(s.byUUID, hc.uuid)
	}
	md := hc.md
	md.mu.Lock()
	md.hc = nil
	live := md.live
	md.mu.Unlock()
	if live != nil {
		live.Event()
	}
	t := hc.newMap
	hc.newMap = nil
	return t
}

// findCellLocked is __find_device_hash_cell(): by UUID if given, else by
// name, else by device number; nil if not found or the reference is malformed
// (the kernel logs those); hashMu held.
func (s *dmState) findCellLocked(ref DevRef) *hashCell {
	switch {
	case ref.UUID != "":
		if ref.Name != "" || ref.Dev != (DevT{}) {
			s.k.Log.DMErr("ioctl", "Invalid ioctl structure: uuid %s, name %s, dev %x", ref.UUID, ref.Name, hugeEncode(ref.Dev))
			return nil
		}
		return s.byUUID[ref.UUID]
	case ref.Name != "":
		if ref.Dev != (DevT{}) {
			s.k.Log.DMErr("ioctl", "Invalid ioctl structure: name %s, dev %x", ref.Name, hugeEncode(ref.Dev))
			return nil
		}
		return s.byName[ref.Name]
	case ref.Dev != (DevT{}):
		md := s.mdByDevT(ref.Dev)
		if md == nil {
			return nil
		}
		md.mu.Lock()
		hc := md.hc
		md.mu.Unlock()
		return hc
	}
	return nil
}

// hugeEncode is huge_encode_dev().
func hugeEncode(d DevT) uint64 {
	return uint64(d.Minor&0xff) | uint64(d.Major)<<8 | uint64(d.Minor&^0xff)<<12
}

// sortedCells returns the cells in name order (rb-tree order: strcmp).
func (s *dmState) sortedCells() []*hashCell {
	s.hashMu.Lock()
	defer s.hashMu.Unlock()
	return s.sortedCellsLocked()
}

func (s *dmState) sortedCellsLocked() []*hashCell {
	out := make([]*hashCell, 0, len(s.byName))
	for _, hc := range s.byName {
		out = append(out, hc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// removeAll is dm_hash_remove_all(): remove every device, one at a time
// in name order, starting again after each removal (a device may have held
// another open); with keepOpen, open devices are skipped (and with
// markDeferred marked for deferred removal); onlyDeferred removes only
// devices marked so.
func (s *dmState) removeAll(keepOpen, markDeferred, onlyDeferred bool) {
	for {
		skipped := 0
		removed := false
		s.hashMu.Lock()
		for _, hc := range s.sortedCellsLocked() {
			md := hc.md
			if keepOpen {
				if err := md.lockForDeletion(markDeferred, onlyDeferred); err != nil {
					skipped++
					continue
				}
			}
			t := s.hashRemoveLocked(hc)
			s.hashMu.Unlock()
			if t != nil {
				md.syncTable()
				t.destroy()
			}
			s.destroy(md)
			removed = true
			break
		}
		if !removed {
			s.hashMu.Unlock()
			if skipped > 0 {
				s.k.Log.DMWarn("ioctl", "remove_all left %d open device(s)", skipped)
			}
			return
		}
	}
}

// queueDeferredRemove runs dm_deferred_remove() on the kdmremove queue.
func (s *dmState) queueDeferredRemove() {
	s.removeWQ.Queue(func() { s.removeAll(true, false, true) })
}
