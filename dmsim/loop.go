package dmsim

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// loop: block devices over files (drivers/block/loop.c), major 7. Loading
// the module creates /dev/loop0../dev/loop7 (CONFIG_BLK_DEV_LOOP_MIN_COUNT=8
// on Debian's 6.1 kernel, max_loop=0); more appear when asked for
// (LOOP_CTL_GET_FREE, or attaching a file to a higher number).

type loopState struct {
	mu   sync.Mutex
	devs map[int]*LoopDev // guarded by mu
}

// LoopDev is one loop device.
type LoopDev struct {
	k    *Kernel
	n    int
	name string
	dev  DevT

	// mu guards everything below.
	mu        sync.Mutex
	f         *os.File
	path      string
	ro        bool
	size      uint64 // sectors
	autoclear bool
	openers   int
}

const loopMinCount = 8

// loopInit is loop_init().
func loopInit(k *Kernel, _ map[string]string) error {
	nr := loopMinCount
	if m, _ := strconv.Atoi(k.ModuleParam("loop", "max_loop")); m > 0 {
		nr = m
	}
	k.loop = &loopState{devs: map[int]*LoopDev{}}
	k.registerMisc(237, "loop-control")
	k.registerBlkdevMajor(LoopMajor, "loop")
	for i := 0; i < nr; i++ {
		k.loop.add(k, i)
	}
	k.Log.Printk(KernInfo, "loop: module loaded")
	return nil
}

// add is loop_add().
func (s *loopState) add(k *Kernel, n int) *LoopDev {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.devs[n]; ok {
		return l
	}
	l := &LoopDev{k: k, n: n, name: fmt.Sprintf("loop%d", n), dev: DevT{LoopMajor, uint32(n)}}
	s.devs[n] = l
	k.addDisk(l.name, l.dev, 1, l)
	return l
}

func (s *loopState) get(n int) *LoopDev {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devs[n]
}

func (s *loopState) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.devs {
		l.mu.Lock()
		if l.f != nil {
			l.f.Close()
			l.f = nil
		}
		l.mu.Unlock()
	}
}

func (l *LoopDev) Name() string { return l.name }
func (l *LoopDev) Dev() DevT    { return l.dev }
func (l *LoopDev) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}
func (l *LoopDev) ReadOnly() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ro
}

// Limits: 512-byte blocks over a regular file; discard by punching holes
// (granularity the file system's block size: 4 KiB on the guest's tmpfs);
// a write cache when the file is writable (loop_configure()).
func (l *LoopDev) Limits() QueueLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := DefaultQueueLimits()
	lim.MaxSectors, lim.MaxHWSectors = 255, 255
	if l.f != nil {
		lim.MaxDiscardSectors = UintMax >> 9
		lim.MaxHWDiscardSectors = UintMax >> 9
		lim.DiscardGranularity = 4096
		lim.WriteCache = !l.ro
	}
	return lim
}

func (l *LoopDev) Open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.openers++
	return nil
}

// Release: the last close of a device whose detach was deferred
// (LO_FLAGS_AUTOCLEAR) detaches it.
func (l *LoopDev) Release() {
	l.mu.Lock()
	l.openers--
	clearNow := l.openers == 0 && l.autoclear && l.f != nil
	l.mu.Unlock()
	if clearNow {
		l.clear()
	}
}

// Submit reads and writes the backing file; reads beyond its end give
// zeros.
func (l *LoopDev) Submit(bio *Bio) {
	if !l.k.submitChecks(l, l.Limits(), bio) {
		return
	}
	l.mu.Lock()
	f, ro := l.f, l.ro
	l.mu.Unlock()
	if f == nil {
		bio.Endio(linuxerr.EIO)
		return
	}
	var err error
	switch bio.Op {
	case OpRead:
		err = readFull(f, bio.Data, int64(bio.Sector)*SectorSize)
	case OpWrite:
		if ro {
			err = linuxerr.EIO
		} else {
			_, err = f.WriteAt(bio.Data, int64(bio.Sector)*SectorSize)
		}
	case OpDiscard:
		err = punchHole(f, int64(bio.Sector)*SectorSize, int64(bio.Sectors)*SectorSize)
	}
	if err != nil {
		err = linuxerr.EIO
	}
	bio.Endio(err)
}

// BackingFile is the attached host file ("" if none).
func (l *LoopDev) BackingFile() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.path
}

func (l *LoopDev) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.path, l.ro, l.size, l.autoclear = nil, "", false, 0, false
}

// LoopSetFile attaches a host file to /dev/loopN (LOOP_SET_FD), LoopClear
// detaches it (LOOP_CLR_FD); LoopFile reports the attached file.
//
// LoopSetFile: ENXIO if the loop module is not loaded, EBUSY if the device
// is bound; /dev/loopN is created if it does not exist yet (loop_probe). The
// size is the file's, in whole sectors; the kernel logs "loopN: detected
// capacity change from 0 to SECTORS".
func (k *Kernel) LoopSetFile(n int, hostPath string, readOnly bool) error {
	if k.loop == nil || n < 0 || n >= 1<<20 {
		return linuxerr.ENXIO
	}
	l := k.loop.add(k, n)
	l.mu.Lock()
	if l.f != nil {
		l.mu.Unlock()
		return linuxerr.EBUSY
	}
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(hostPath, flag, 0)
	if err != nil && !readOnly {
		// losetup falls back to read-only when the file cannot be written.
		f, err = os.OpenFile(hostPath, os.O_RDONLY, 0)
		readOnly = err == nil
	}
	if err != nil {
		l.mu.Unlock()
		return linuxerr.ToErrno(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		l.mu.Unlock()
		return linuxerr.EIO
	}
	l.f, l.path, l.ro = f, hostPath, readOnly
	l.size = uint64(st.Size()) / SectorSize
	size := l.size
	l.mu.Unlock()
	if size != 0 {
		k.Log.Printk(KernInfo, "%s: detected capacity change from 0 to %d", l.name, size)
	}
	return nil
}

// LoopClear detaches: ENXIO if nothing is attached; a device still open
// (by a table, say) is detached at its last close instead.
func (k *Kernel) LoopClear(n int) error {
	if k.loop == nil {
		return linuxerr.ENXIO
	}
	l := k.loop.get(n)
	if l == nil {
		return linuxerr.ENXIO
	}
	l.mu.Lock()
	if l.f == nil {
		l.mu.Unlock()
		return linuxerr.ENXIO
	}
	if l.openers > 0 {
		l.autoclear = true
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	l.clear()
	return nil
}

// LoopFile reports the host file attached to /dev/loopN.
func (k *Kernel) LoopFile(n int) (string, bool) {
	if k.loop == nil {
		return "", false
	}
	l := k.loop.get(n)
	if l == nil {
		return "", false
	}
	p := l.BackingFile()
	return p, p != ""
}

// LoopGetFree is LOOP_CTL_GET_FREE: the lowest unbound loop device,
// created if all existing ones are bound; ENODEV without the loop module.
func (k *Kernel) LoopGetFree() (int, error) {
	if k.loop == nil {
		return 0, linuxerr.ENODEV
	}
	k.loop.mu.Lock()
	n := 0
	for {
		l, ok := k.loop.devs[n]
		if !ok {
			break
		}
		l.mu.Lock()
		free := l.f == nil
		l.mu.Unlock()
		if free {
			k.loop.mu.Unlock()
			return n, nil
		}
		n++
	}
	k.loop.mu.Unlock()
	k.loop.add(k, n)
	return n, nil
}

// LoopDevices lists the existing loop device numbers, in order.
func (k *Kernel) LoopDevices() []int {
	if k.loop == nil {
		return nil
	}
	k.loop.mu.Lock()
	defer k.loop.mu.Unlock()
	var out []int
	for n := range k.loop.devs {
		out = append(out, n)
	}
	sortInts(out)
	return out
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
