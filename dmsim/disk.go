package dmsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dmsim/dmsim/linuxerr"
)

// Disk is an emulated virtio disk (virtio_blk on qemu with
// cache=writeback): /dev/vdX, major 254, minor 16·i, backed by a sparse
// image file. Completed writes are in the image unless the disk models a
// volatile write cache (DiskSpec.VolatileCache), in which case they are
// durable only once a flush or a FUA covered them (the contract in
// crash.go); a power cut (Halt) then keeps none of the current epoch.
// With DiskSpec.BioLog the disk records every bio it executes, and
// CrashStates enumerates the images a crash may leave.
type Disk struct {
	k         *Kernel
	name      string
	dev       DevT
	size      atomic.Uint64 // sectors
	noDiscard bool
	volatile  bool
	nativeFUA bool
	faults    *Faults // nil: no injection
	log       *bioLog // nil: no bio log
	path      string
	image     DiskImage // Image disks: the backing store, kept after close

	// mu: reads with nothing cached and writes through to the image
	// without a bio log share it (the image file alone orders them, as a
	// disk orders concurrent requests); everything else holds it alone.
	mu    sync.RWMutex
	f     DiskImage         // nil once closed
	cache map[uint64][]byte // sector -> 512 bytes not yet durable (zeroSector: discarded)
}

// virtio-blk queue limits under qemu 7.2 (raw image): 512-byte sectors,
// max_sectors_kb 1280, discard granularity one sector and
// max-discard-sectors BDRV_REQUEST_MAX_SECTORS when discard=unmap.
const (
	virtioMaxSectors        = 2560
	virtioMaxHWSectors      = UintMax // virtblk_probe(): blk_queue_max_hw_sectors(q, -1U)
	virtioMaxDiscardSectors = 4194303
)

// DiskImage is a disk's backing store when it is not an image file
// (DiskSpec.Image): whole sectors are read and written at sector offsets.
type DiskImage interface {
	io.ReaderAt
	io.WriterAt
	// Punch makes n bytes at off read as zeros.
	Punch(off, n int64) error
	// Truncate sets the image's size.
	Truncate(size int64) error
	Close() error
}

// fileImage is an image file as a DiskImage.
type fileImage struct{ *os.File }

func (f fileImage) Punch(off, n int64) error  { return punchHole(f.File, off, n) }
func (f fileImage) Truncate(size int64) error { return TruncateImage(f.File, size) }

func openDisk(k *Kernel, i int, spec DiskSpec) (*Disk, error) {
	var f DiskImage = spec.Image
	if f == nil {
		of, err := os.OpenFile(spec.Path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		st, err := of.Stat()
		if err != nil {
			of.Close()
			return nil, err
		}
		if st.Size() < spec.Size {
			if err := TruncateImage(of, spec.Size); err != nil {
				of.Close()
				return nil, err
			}
		}
		f = fileImage{of}
	}
	d := &Disk{
		k:         k,
		name:      "vd" + diskLetters(i),
		dev:       DevT{VirtioMajor, uint32(16 * i)},
		noDiscard: spec.NoDiscard,
		volatile:  spec.VolatileCache,
		nativeFUA: spec.NativeFUA,
		faults:    spec.Faults,
		path:      spec.Path,
		image:     spec.Image,
		f:         f,
		cache:     map[uint64][]byte{},
	}
	if spec.BioLog {
		d.log = &bioLog{undo: map[uint64][]byte{}}
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
func (d *Disk) Path() string   { return d.path }
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
	if err := d.f.Truncate(bytes); err != nil {
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
	l.FUA = d.nativeFUA
	if !d.noDiscard {
		l.MaxDiscardSectors = virtioMaxDiscardSectors
		l.MaxHWDiscardSectors = virtioMaxDiscardSectors
		l.DiscardGranularity = SectorSize
	}
	return l
}

// Submit runs the bio against the image, synchronously.
func (d *Disk) Submit(bio *Bio) {
	if !d.k.submitChecks(d, d.Limits(), bio) {
		return
	}
	var act faultAction
	if d.faults != nil {
		if act = d.faults.submit(bio); act.fail != nil {
			bio.Endio(act.fail)
			return
		}
	}
	var err error
	switch {
	case act.drop:
	case act.run != nil:
		err = d.do(act.run)
	default:
		err = d.do(bio)
	}
	if err == nil && act.after != nil {
		act.after()
	}
	if err == nil {
		err = act.ack
	}
	bio.Endio(err)
}

func (d *Disk) do(bio *Bio) error {
	if done, err := d.doShared(bio); done {
		return err
	}
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
		fua := bio.Flags&ReqFUA != 0
		switch {
		case !d.volatile:
			if err := d.writeImage(bio.Data, bio.Sector); err != nil {
				return err
			}
		case fua && d.nativeFUA:
			// The FUA write alone is durable; it supersedes cached
			// copies of its sectors.
			for i := uint64(0); i < bio.Sectors && len(d.cache) > 0; i++ {
				delete(d.cache, bio.Sector+i)
			}
			if err := d.writeImage(bio.Data, bio.Sector); err != nil {
				return err
			}
		default:
			for i := uint64(0); i < bio.Sectors; i++ {
				d.cache[bio.Sector+i] = append([]byte(nil), bio.Data[i*SectorSize:(i+1)*SectorSize]...)
			}
			if fua {
				// blk-flush without QUEUE_FLAG_FUA: the data, then a
				// post-flush (REQ_FSEQ_POSTFLUSH).
				if err := d.flushLocked(); err != nil {
					return err
				}
			}
		}
	case OpDiscard:
		// qemu discard=unmap on a raw image punches a hole: the range reads
		// back as zeros.
		if d.volatile {
			for i := uint64(0); i < bio.Sectors; i++ {
				d.cache[bio.Sector+i] = zeroSector
			}
		} else if err := d.punchImage(bio.Sector, bio.Sectors); err != nil {
			return err
		}
	}
	d.record(bio)
	return nil
}

// doShared runs a plain read or write-through under the shared lock, so
// the pieces of one large I/O (the FUSE front end sends them at once) are
// copied in parallel. It reports false when the bio needs the exclusive
// path: a flush, a bio log, a volatile cache to consult or fill, an image
// that is not a file.
func (d *Disk) doShared(bio *Bio) (bool, error) {
	if d.log != nil || bio.Flags&ReqPreflush != 0 {
		return false, nil
	}
	if bio.Op != OpRead && (bio.Op != OpWrite || d.volatile) {
		return false, nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, file := d.f.(fileImage); !file || len(d.cache) > 0 {
		// A DiskSpec.Image need not take concurrent calls.
		return false, nil
	}
	off := int64(bio.Sector) * SectorSize
	if bio.Op == OpRead {
		if err := readFull(d.f, bio.Data, off); err != nil {
			return true, linuxerr.EIO
		}
		return true, nil
	}
	if _, err := d.f.WriteAt(bio.Data, off); err != nil {
		return true, linuxerr.EIO
	}
	return true, nil
}

// canMerge reports whether bio may wait to be merged with its neighbours
// (plug): a plain read, or a write when writes go through to the
// image, with no fault injection or bio log to see it alone.
func (d *Disk) canMerge(bio *Bio) bool {
	return (bio.Op == OpRead || bio.Op == OpWrite && !d.volatile) && bio.Flags == 0 && d.faults == nil && d.log == nil
}

// plug is a mapped device's submission's current->bio_list and blk_plug
// in one: the clones its targets remapped, submitted once every piece is
// mapped (pending: those bound for mapped devices, whose own remapped
// clones join the same plug), and the disk-bound ones merged where they
// follow on (blk_attempt_plug_merge(), up to max_sectors) and submitted
// last, at blk_finish_plug(). Once finished, a plug takes nothing: a clone
// that a target deferred to its worker is submitted there, on its own.
type plug struct {
	mu      sync.Mutex
	closed  bool
	pending []*Bio
	disk    []*Bio
	// The first few of each, without an allocation.
	pendingBuf, diskBuf [4]*Bio
}

// open reports whether p takes bios.
func (p *plug) open() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed
}

// hold keeps a remapped clone for later, or reports false: it is then
// submitted at once.
func (p *plug) hold(c *Bio) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	switch d := c.Dev.(type) {
	case *Disk:
		if !d.canMerge(c) {
			return false
		}
		if p.disk == nil {
			p.disk = p.diskBuf[:0]
		}
		p.disk = append(p.disk, c)
	case *mdDisk:
		if p.pending == nil {
			p.pending = p.pendingBuf[:0]
		}
		p.pending = append(p.pending, c)
	default:
		return false
	}
	return true
}

// finish submits what p holds, in order, and closes it.
func (p *plug) finish() {
	for {
		p.mu.Lock()
		if len(p.pending) == 0 {
			disk := p.disk
			p.disk, p.pending, p.closed = nil, nil, true
			p.mu.Unlock()
			submitPlugged(disk)
			return
		}
		b := p.pending[0]
		p.pending = p.pending[1:]
		p.mu.Unlock()
		b.Dev.Submit(b)
	}
}

// submitPlugged runs the disk-bound clones of a plug: each run of bios to
// one disk, of one op, each starting where the last ends, goes to the
// image as one request.
func submitPlugged(bios []*Bio) {
	for i := 0; i < len(bios); {
		first := bios[i]
		n, j := first.Sectors, i+1
		for ; j < len(bios); j++ {
			b, prev := bios[j], bios[j-1]
			if b.Dev != first.Dev || b.Op != first.Op || b.Sector != prev.Sector+prev.Sectors || n+b.Sectors > virtioMaxSectors {
				break
			}
			n += b.Sectors
		}
		first.Dev.(*Disk).submitRun(bios[i:j])
		i = j
	}
}

// submitRun runs contiguous bios of one op as one request; each bio still
// gets the block layer's checks and its own completion.
func (d *Disk) submitRun(run []*Bio) {
	if len(run) == 1 {
		d.Submit(run[0])
		return
	}
	lim := d.Limits()
	live := make([]*Bio, 0, len(run))
	for _, b := range run {
		if d.k.submitChecks(d, lim, b) {
			live = append(live, b)
		}
	}
	done, err := d.doRun(live)
	for _, b := range live {
		if !done {
			err = d.do(b)
		}
		b.Endio(err)
	}
}

// doRun reads or writes the bios' data with one preadv or pwritev under
// the shared lock (doShared's conditions), and reports false when it
// cannot.
func (d *Disk) doRun(bios []*Bio) (bool, error) {
	if len(bios) < 2 {
		return false, nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	img, file := d.f.(fileImage)
	if !file || len(d.cache) > 0 {
		return false, nil
	}
	iov := make([][]byte, len(bios))
	total := 0
	for i, b := range bios {
		iov[i] = b.Data
		total += len(b.Data)
	}
	off := int64(bios[0].Sector) * SectorSize
	var n int
	var err error
	if bios[0].Op == OpRead {
		n, err = unix.Preadv(int(img.Fd()), iov, off)
	} else {
		n, err = unix.Pwritev(int(img.Fd()), iov, off)
	}
	if err != nil {
		n = 0
	}
	// The rest of a short transfer (the image's end, for a read) bio by
	// bio, as doShared does.
	for _, b := range bios {
		l := len(b.Data)
		done := min(max(n, 0), l)
		n -= l
		if done == l {
			continue
		}
		at := int64(b.Sector)*SectorSize + int64(done)
		if b.Op == OpRead {
			if err := readFull(d.f, b.Data[done:], at); err != nil {
				return true, linuxerr.EIO
			}
		} else if _, err := d.f.WriteAt(b.Data[done:], at); err != nil {
			return true, linuxerr.EIO
		}
	}
	return true, nil
}

// record appends a completed bio to the bio log.
func (d *Disk) record(bio *Bio) {
	if d.log == nil {
		return
	}
	r := BioRecord{Seq: d.k.bioSeq.Add(1), Op: bio.Op, Flags: bio.Flags, Sector: bio.Sector, Sectors: bio.Sectors}
	if bio.Op == OpFlush {
		r.Flags &^= ReqPreflush // implied by the op
	}
	switch bio.Op {
	case OpWrite:
		r.data = append([]byte(nil), bio.Data...)
		r.Hash = dataHash(r.data)
	case OpRead:
		r.Hash = dataHash(bio.Data)
	}
	d.log.mu.Lock()
	d.log.recs = append(d.log.recs, r)
	d.log.mu.Unlock()
}

// saveUndo keeps, for the bio log's base image, what the image held in
// sectors [s, s+n) before they first change.
func (d *Disk) saveUndo(s, n uint64) error {
	if d.log == nil {
		return nil
	}
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	for i := s; i < s+n; i++ {
		if _, ok := d.log.undo[i]; ok {
			continue
		}
		b := make([]byte, SectorSize)
		if err := readFull(d.f, b, int64(i)*SectorSize); err != nil {
			return linuxerr.EIO
		}
		if bytes.Equal(b, zeroSector) {
			b = zeroSector
		}
		d.log.undo[i] = b
	}
	return nil
}

// writeImage writes whole sectors to the image file.
func (d *Disk) writeImage(p []byte, sector uint64) error {
	if err := d.saveUndo(sector, uint64(len(p))/SectorSize); err != nil {
		return err
	}
	if _, err := d.f.WriteAt(p, int64(sector)*SectorSize); err != nil {
		return linuxerr.EIO
	}
	return nil
}

// punchImage zeroes sectors of the image file.
func (d *Disk) punchImage(sector, n uint64) error {
	if err := d.saveUndo(sector, n); err != nil {
		return err
	}
	if err := d.f.Punch(int64(sector)*SectorSize, int64(n)*SectorSize); err != nil {
		return linuxerr.EIO
	}
	return nil
}

func (d *Disk) flushLocked() error {
	if len(d.cache) == 0 {
		return nil
	}
	sectors := make([]uint64, 0, len(d.cache))
	for s := range d.cache {
		sectors = append(sectors, s)
	}
	slices.Sort(sectors)
	for _, s := range sectors {
		b := d.cache[s]
		var err error
		if &b[0] == &zeroSector[0] {
			err = d.punchImage(s, 1)
		} else {
			err = d.writeImage(b, s)
		}
		if err != nil {
			return err
		}
	}
	clear(d.cache)
	return nil
}

// Flush makes every completed write durable: blkdev_issue_flush(), an
// empty REQ_PREFLUSH bio through the disk's queue.
func (d *Disk) Flush() error {
	bio := NewBio(OpFlush, d, 0, nil, nil)
	bio.Flags = ReqPreflush
	var status error
	bio.SetEndio(func(_ *Bio, err error) { status = err })
	d.Submit(bio) // synchronous
	return status
}

// BioLog returns a copy of the disk's bio log (nil without DiskSpec.BioLog).
func (d *Disk) BioLog() []BioRecord {
	if d.log == nil {
		return nil
	}
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	return slices.Clone(d.log.recs)
}

// CrashStates enumerates the durable images a crash may leave, from the
// bio log (see the package function CrashStates). Their base is the image
// as it was when the log started: valid until another kernel changes the
// image file.
func (d *Disk) CrashStates(opt CrashOptions) iter.Seq[*CrashState] {
	opt.NativeFUA = d.nativeFUA
	return CrashStates(d.baseImage(), d.Size(), d.BioLog(), opt)
}

// BaseImage is the image as it was when the bio log started (nil without
// a bio log): valid until another kernel changes the image file.
func (d *Disk) BaseImage() io.ReaderAt { return d.baseImage() }

// baseImage reads the image as it was when the bio log started: the
// saved sectors, else the image file.
func (d *Disk) baseImage() io.ReaderAt {
	if d.log == nil {
		return nil
	}
	d.log.mu.Lock()
	undo := maps.Clone(d.log.undo)
	d.log.mu.Unlock()
	return &undoReader{path: d.path, img: d.image, undo: undo}
}

// undoReader is an image file seen through saved sectors.
type undoReader struct {
	path string
	img  DiskImage // Image disks: read instead of path
	undo map[uint64][]byte
	once sync.Once
	f    *os.File
	err  error
}

func (u *undoReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		s, o := uint64(pos/SectorSize), int(pos%SectorSize)
		c := min(SectorSize-o, len(p)-n)
		if b, ok := u.undo[s]; ok {
			copy(p[n:n+c], b[o:])
		} else if u.img != nil {
			if _, err := readSectorPart(u.img, p[n:n+c], pos); err != nil {
				return n, err
			}
		} else {
			u.once.Do(func() {
				u.f, u.err = os.Open(u.path)
				if u.err == nil {
					runtime.AddCleanup(u, func(f *os.File) { f.Close() }, u.f)
				}
			})
			if u.err != nil {
				return n, u.err
			}
			if err := readFull(u.f, p[n:n+c], pos); err != nil {
				return n, err
			}
		}
		n += c
	}
	return n, nil
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

func readFull(f io.ReaderAt, p []byte, off int64) error {
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
