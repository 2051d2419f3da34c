package dmsim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dmsim/dmsim/linuxerr"
)

// Disk is an emulated virtio disk (virtio_blk on qemu with
// cache=writeback): /dev/vdX, major 254, minor 16·i, backed by a sparse
// image file. Completed writes are in the image unless the disk models a
// volatile write cache (DiskSpec.VolatileCache), in which case they are
// durable only once a flush or their own FUA covered them.
type Disk struct {
	k         *Kernel
	name      string
	dev       DevT
	size      atomic.Uint64 // sectors
	noDiscard bool
	volatile  bool
	faults    *Faults // nil: no injection

	mu    sync.Mutex
	f     *os.File
	cache map[uint64][]byte // sector -> 512 bytes not yet durable
}

// virtio-blk queue limits under qemu 7.2 (raw image): 512-byte sectors,
// max_sectors_kb 1280, discard granularity one sector and
// max-discard-sectors BDRV_REQUEST_MAX_SECTORS when discard=unmap.
const (
	virtioMaxSectors        = 2560
	virtioMaxHWSectors      = 2560
	virtioMaxDiscardSectors = 4194303
)

func openDisk(k *Kernel, i int, spec DiskSpec) (*Disk, error) {
	f, err := os.OpenFile(spec.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() < spec.Size {
		if err := TruncateImage(f, spec.Size); err != nil {
			f.Close()
			return nil, err
		}
	}
	d := &Disk{
		k:         k,
		name:      "vd" + diskLetters(i),
		dev:       DevT{VirtioMajor, uint32(16 * i)},
		noDiscard: spec.NoDiscard,
		volatile:  spec.VolatileCache,
		faults:    spec.Faults,
		f:         f,
		cache:     map[uint64][]byte{},
	}
	d.size.Store(uint64(spec.Size) / SectorSize)
	return d, nil
}

// diskLetters is the virtio_blk disk name suffix: a..z, aa, ab, ...
func diskLetters(i int) string {
	s := ""
	for {
		s = string(rune('a'+i%26)) + s
		i = i/26 - 1
		if i < 0 {
			return s
		}
	}
}

func (d *Disk) Name() string   { return d.name }
func (d *Disk) Dev() DevT      { return d.dev }
func (d *Disk) Size() uint64   { return d.size.Load() }
func (d *Disk) ReadOnly() bool { return false }
func (d *Disk) String() string { return fmt.Sprintf("%s (%s)", d.name, d.dev) }
func (d *Disk) Path() string   { return d.f.Name() }
func (d *Disk) Volatile() bool { return d.volatile }

// Faults is the disk's fault injector (DiskSpec.Faults), nil if none.
func (d *Disk) Faults() *Faults { return d.faults }

// Resize changes the disk's capacity, as qemu's block_resize does
// (virtblk_update_capacity()): the image grows or shrinks to bytes.
func (d *Disk) Resize(bytes int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return linuxerr.EIO
	}
	if err := TruncateImage(d.f, bytes); err != nil {
		return err
	}
	d.size.Store(uint64(bytes) / SectorSize)
	return nil
}
func (d *Disk) Limits() QueueLimits {
	l := DefaultQueueLimits()
	l.MaxSectors = virtioMaxSectors
	l.MaxHWSectors = virtioMaxHWSectors
	l.WriteCache = true
	if !d.noDiscard {
		l.MaxDiscardSectors = virtioMaxDiscardSectors
		l.DiscardGranularity = SectorSize
	}
	return l
}

// Submit runs the bio against the image, synchronously.
func (d *Disk) Submit(bio *Bio) {
	if !d.k.submitChecks(d, d.Limits(), bio) {
		return
	}
	var corrupt func()
	if d.faults != nil {
		var err error
		if corrupt, err = d.faults.submit(bio); err != nil {
			bio.Endio(err)
			return
		}
	}
	err := d.do(bio)
	if err == nil && corrupt != nil {
		corrupt()
	}
	bio.Endio(err)
}

func (d *Disk) do(bio *Bio) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return linuxerr.EIO
	}
	if bio.Flags&ReqPreflush != 0 || bio.Op == OpFlush {
		if err := d.flushLocked(); err != nil {
			return err
		}
	}
	switch bio.Op {
	case OpRead:
		if err := readFull(d.f, bio.Data, int64(bio.Sector)*SectorSize); err != nil {
			return linuxerr.EIO
		}
		if len(d.cache) > 0 {
			for i := uint64(0); i < bio.Sectors; i++ {
				if b, ok := d.cache[bio.Sector+i]; ok {
					copy(bio.Data[i*SectorSize:], b)
				}
			}
		}
	case OpWrite:
		if d.volatile && bio.Flags&ReqFUA == 0 {
			for i := uint64(0); i < bio.Sectors; i++ {
				b := make([]byte, SectorSize)
				copy(b, bio.Data[i*SectorSize:])
				d.cache[bio.Sector+i] = b
			}
			return nil
		}
		for i := uint64(0); i < bio.Sectors && len(d.cache) > 0; i++ {
			delete(d.cache, bio.Sector+i)
		}
		if _, err := d.f.WriteAt(bio.Data, int64(bio.Sector)*SectorSize); err != nil {
			return linuxerr.EIO
		}
	case OpDiscard:
		// qemu discard=unmap on a raw image punches a hole: the range reads
		// back as zeros.
		for i := uint64(0); i < bio.Sectors && len(d.cache) > 0; i++ {
			delete(d.cache, bio.Sector+i)
		}
		if err := punchHole(d.f, int64(bio.Sector)*SectorSize, int64(bio.Sectors)*SectorSize); err != nil {
			return linuxerr.EIO
		}
	}
	return nil
}

func (d *Disk) flushLocked() error {
	if len(d.cache) == 0 {
		return nil
	}
	for s, b := range d.cache {
		if _, err := d.f.WriteAt(b, int64(s)*SectorSize); err != nil {
			return linuxerr.EIO
		}
	}
	clear(d.cache)
	return nil
}

// Flush makes every completed write durable (blkdev_issue_flush).
func (d *Disk) Flush() error {
	if d.faults != nil {
		if err := d.faults.flush(); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return linuxerr.EIO
	}
	return d.flushLocked()
}

// DirtySectors is the number of written sectors not yet durable.
func (d *Disk) DirtySectors() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cache)
}

// close drops the volatile cache (a power cut) and closes the image.
func (d *Disk) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	d.cache = map[uint64][]byte{}
}

// TruncateImage sets the length of a sparse disk image to size bytes. A
// host file system that cannot hold a file that long (EFBIG: ext4 stops at
// 16 TiB - 4 KiB) keeps the image at the longest length it can: reads past
// the image's end see zeros as the rest of a sparse image would, and only a
// write beyond the host's limit fails (EIO). A thin pool's data disk is
// written from its start (the data space map allocates the lowest free
// block), so a 64 TiB pool runs on ext4.
func TruncateImage(f *os.File, size int64) error {
	err := f.Truncate(size)
	if !errors.Is(err, syscall.EFBIG) {
		return err
	}
	st, serr := f.Stat()
	if serr != nil {
		return serr
	}
	// Find the longest length the file system takes, to the 4 KiB.
	lo, hi := st.Size()/4096, size/4096 // lo fits, hi does not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if f.Truncate(mid*4096) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return f.Truncate(max(lo*4096, st.Size()))
}

func readFull(f *os.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		clear(p[n:])
		return nil
	}
	return err
}

var zeroBuf = make([]byte, 1<<16)

// punchHole deallocates a byte range of a file (FALLOC_FL_PUNCH_HOLE |
// FALLOC_FL_KEEP_SIZE), or writes zeros where the file system cannot.
func punchHole(f *os.File, off, n int64) error {
	if n == 0 {
		return nil
	}
	if err := syscall.Fallocate(int(f.Fd()), 0x02|0x01, off, n); err == nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if off >= st.Size() {
		return nil
	}
	n = min(n, st.Size()-off)
	for n > 0 {
		c := min(n, int64(len(zeroBuf)))
		if _, err := f.WriteAt(zeroBuf[:c], off); err != nil {
			return err
		}
		off += c
		n -= c
	}
	return nil
}
