package userland

import (
	"context"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// PageSize is the page size of the emulated machine.
const PageSize = 4096

// bdevFile is an open block device node.
//
// O_DIRECT I/O goes to the device as one bio per call and must be aligned
// to the logical block size (EINVAL otherwise, as blkdev_direct_IO).
//
// Buffered I/O goes through a page cache of buffers of the device's block
// size (set_init_blocksize: the largest power of two up to the page size
// dividing the device size): reads fetch whole pages, one bio per buffer,
// and a buffer that fails logs "Buffer I/O error ..., async page read"
// (block_read_full_folio); writes dirty buffers (reading a buffer first
// when it is only partly overwritten) that are written back, one bio per
// buffer, on fsync and on close (the last close of a block device writes
// its dirty pages back); a buffer whose write-back fails logs "..., lost
// async page write" and only a later fsync sees the error.
type bdevFile struct {
	k       *dmsim.Kernel
	tok     *sim.Token // the opener's clock token
	cpu     cpu        // the opener's CPU time
	b       dmsim.BlockDevice
	release func()
	name    string
	flag    int
	direct  bool
	off     int64
	bsize   int64            // buffer (block) size of the page cache
	dirty   map[int64][]byte // block index -> block
	wbErr   error            // write-back error not yet reported (AS_EIO)
	closed  bool
}

func openBdev(ctx context.Context, k *dmsim.Kernel, name string, flag int) (File, error) {
	mode := dmsim.FModeRead
	switch flag & (O_WRONLY | O_RDWR) {
	case O_WRONLY:
		mode = dmsim.FModeWrite
	case O_RDWR:
		mode |= dmsim.FModeWrite
	}
	if flag&O_EXCL != 0 {
		mode |= dmsim.FModeExcl // O_EXCL on a block device: an exclusive claim
	}
	var b dmsim.BlockDevice
	var rel func()
	var err error
	kdo(ctx, k, func() { b, rel, err = k.OpenBdev(name, mode) })
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	f := &bdevFile{k: k, tok: tokenFrom(ctx), cpu: cpuOf(ctx), b: b, release: rel, name: name, flag: flag, direct: flag&O_DIRECT != 0,
		dirty: map[int64][]byte{}}
	f.bsize = int64(f.SectorSize())
	for f.bsize < PageSize && f.Size()%(f.bsize*2) == 0 {
		f.bsize *= 2
	}
	return f, nil
}

func (f *bdevFile) Name() string      { return f.name }
func (f *bdevFile) Dev() dmsim.DevT   { return f.b.Dev() }
func (f *bdevFile) Size() int64       { return int64(f.b.Size()) * dmsim.SectorSize }
func (f *bdevFile) ReadOnly() bool    { return f.b.ReadOnly() }
func (f *bdevFile) SetDirect(on bool) { f.direct = on }
func (f *bdevFile) SectorSize() int {
	if s := f.b.Limits().LogicalBlockSize; s > 0 {
		return int(s)
	}
	return dmsim.SectorSize
}

// BlockSize is the page cache's buffer size (BLKBSZGET).
func (f *bdevFile) BlockSize() int64 { return f.bsize }

func (f *bdevFile) Stat() (fs.FileInfo, error) {
	return devInfo{name: path.Base(f.name), mode: fs.ModeDevice | 0o600}, nil
}

// submit runs one bio and waits for it as the opener (the wait, which
// gives the token up, is uninterruptible).
func (f *bdevFile) submit(op dmsim.Op, sector uint64, data []byte, sectors uint64) (err error) {
	bio := dmsim.NewBio(op, f.b, sector, data, nil)
	if data == nil {
		bio.Sectors = sectors
	}
	f.tok.Do(f.k.Clock, func() { err = dmsim.SubmitWait(context.Background(), f.k.Clock, bio) })
	return err
}

func (f *bdevFile) aligned(p []byte, off int64) bool {
	ss := int64(f.SectorSize())
	return off%ss == 0 && int64(len(p))%ss == 0
}

func (f *bdevFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *bdevFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.off)
	f.off += int64(n)
	return n, err
}

// bufferIOError is buffer_io_error(): printk_ratelimited at KERN_ERR.
func (f *bdevFile) bufferIOError(block int64, msg string) {
	if ratelimit(f.k, "buffer_io_error") {
		f.k.Log.Printk(dmsim.KernErr, "Buffer I/O error on dev %s, logical block %d, %s", f.b.Name(), block, msg)
	}
}

// ratelimitState is a printk_ratelimited call site (5 s interval, burst 10).
type ratelimitState struct {
	mu      sync.Mutex
	begin   time.Duration
	started bool
	printed int
	missed  int
}

type ratelimitKey string

// ratelimit is ___ratelimit() for one call site, in virtual time.
func ratelimit(k *dmsim.Kernel, site string) bool {
	rs := k.ModuleState(ratelimitKey(site), func() any { return &ratelimitState{} }).(*ratelimitState)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := k.Clock.Now()
	if !rs.started {
		rs.begin, rs.started = now, true
	}
	if now > rs.begin+5*time.Second {
		if rs.missed > 0 {
			k.Log.Printk(dmsim.KernWarning, "%s: %d callbacks suppressed", site, rs.missed)
		}
		rs.begin, rs.printed, rs.missed = now, 0, 0
	}
	if rs.printed < 10 {
		rs.printed++
		return true
	}
	rs.missed++
	return false
}

// readBlock fills buf (one buffer, clipped to the device) from the cache or
// the device.
func (f *bdevFile) readBlock(blk int64, buf []byte) error {
	if d, ok := f.dirty[blk]; ok {
		copy(buf, d)
		return nil
	}
	return f.submit(dmsim.OpRead, uint64(blk*f.bsize/dmsim.SectorSize), buf, 0)
}

// readPage returns one page: from the device's page cache (with this
// file's dirty buffers over it), else read from the device buffer by
// buffer (block_read_full_folio) and cached; it reports an error if any
// buffer failed.
func (f *bdevFile) readPage(pg int64) ([]byte, error) {
	size := f.Size()
	start := pg * PageSize
	n := min(int64(PageSize), size-start)
	if page, ok := f.k.CachedPage(f.b.Dev(), pg); ok && int64(len(page)) == n {
		for off := int64(0); off < n; off += f.bsize {
			if d, ok := f.dirty[(start+off)/f.bsize]; ok {
				copy(page[off:], d)
			}
		}
		return page, nil
	}
	page := make([]byte, n)
	var first error
	defer func() {
		if first == nil {
			f.k.CachePage(f.b.Dev(), pg, page)
		}
	}()
	for off := int64(0); off < n; off += f.bsize {
		blk := (start + off) / f.bsize
		if err := f.readBlock(blk, page[off:min(off+f.bsize, n)]); err != nil {
			f.bufferIOError(blk, "async page read")
			if first == nil {
				first = linuxerr.Reduce(err)
			}
		}
	}
	return page, first
}

// ReadAt and WriteAt cost the opener a system call, plus the copy from or
// to the page cache unless the I/O is direct (the device reads and writes
// the process's buffer).
func (f *bdevFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.readAt(p, off)
	f.charge(n)
	return n, err
}

func (f *bdevFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.writeAt(p, off)
	f.charge(n)
	return n, err
}

func (f *bdevFile) charge(n int) {
	if f.direct {
		n = 0
	}
	f.cpu.io(n)
}

func (f *bdevFile) readAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, linuxerr.EBADF
	}
	if f.flag&(O_WRONLY|O_RDWR) == O_WRONLY {
		return 0, linuxerr.EBADF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.direct && !f.aligned(p, off) {
		return 0, linuxerr.EINVAL
	}
	size := f.Size()
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if off+int64(len(p)) > size {
		want = p[:size-off]
	}
	if f.direct {
		if err := f.writeback(); err != nil {
			f.wbErr = nil
		}
		if err := f.submit(dmsim.OpRead, uint64(off/dmsim.SectorSize), want, 0); err != nil {
			return 0, linuxerr.Reduce(err)
		}
		return len(want), nil
	}
	done := 0
	for done < len(want) {
		pos := off + int64(done)
		pg := pos / PageSize
		page, err := f.readPage(pg)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		done += copy(want[done:], page[pos-pg*PageSize:])
	}
	return done, nil
}

func (f *bdevFile) writeAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, linuxerr.EBADF
	}
	if f.flag&(O_WRONLY|O_RDWR) == 0 {
		return 0, linuxerr.EBADF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.b.ReadOnly() {
		return 0, linuxerr.EPERM // blkdev_write_iter
	}
	if f.direct && !f.aligned(p, off) {
		return 0, linuxerr.EINVAL
	}
	size := f.Size()
	if off >= size {
		return 0, linuxerr.ENOSPC
	}
	data := p
	if off+int64(len(p)) > size {
		data = p[:size-off] // a short write; the next one gets ENOSPC
	}
	if f.direct {
		if err := f.writeback(); err != nil {
			f.wbErr = nil
		}
		err := f.submit(dmsim.OpWrite, uint64(off/dmsim.SectorSize), data, 0)
		// generic_file_direct_write(): the cached pages of the range go.
		f.invalidate(off, int64(len(data)))
		if err != nil {
			return 0, linuxerr.Reduce(err)
		}
		return len(data), nil
	}
	for done := 0; done < len(data); {
		pos := off + int64(done)
		blk := pos / f.bsize
		in := pos - blk*f.bsize
		blen := min(f.bsize, size-blk*f.bsize)
		n := min(int64(len(data)-done), blen-in)
		buf, ok := f.dirty[blk]
		if !ok {
			buf = make([]byte, blen)
			if in != 0 || n != blen {
				// __block_write_begin reads the buffer synchronously:
				// a failure is not logged
				if err := f.readBlock(blk, buf); err != nil {
					if done > 0 {
						return done, nil
					}
					return 0, linuxerr.Reduce(err)
				}
			}
			f.dirty[blk] = buf
		}
		copy(buf[in:in+n], data[done:int(n)+done])
		pg := pos / PageSize
		f.k.UpdateCachedPage(f.b.Dev(), pg, int(pos-pg*PageSize), data[done:int(n)+done])
		done += int(n)
	}
	return len(data), nil
}

// writeback writes the dirty buffers back, lowest first, one bio each.
func (f *bdevFile) writeback() error {
	if len(f.dirty) == 0 {
		return nil
	}
	blocks := make([]int64, 0, len(f.dirty))
	for b := range f.dirty {
		blocks = append(blocks, b)
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i] < blocks[j] })
	for _, blk := range blocks {
		buf := f.dirty[blk]
		if err := f.submit(dmsim.OpWrite, uint64(blk*f.bsize/dmsim.SectorSize), buf, 0); err != nil {
			f.bufferIOError(blk, "lost async page write")
			if f.wbErr == nil {
				f.wbErr = linuxerr.Reduce(err)
			}
		}
	}
	clear(f.dirty)
	return f.wbErr
}

// Sync is fsync: write back, then flush the device's cache; a write-back
// error is reported once.
func (f *bdevFile) Sync() error {
	if f.closed {
		return linuxerr.EBADF
	}
	err := f.writeback()
	f.wbErr = nil
	if ferr := f.submit(dmsim.OpFlush, 0, nil, 0); err == nil && ferr != nil {
		err = linuxerr.Reduce(ferr)
	}
	return err
}

// Discard is BLKDISCARD (blk_ioctl_discard).
func (f *bdevFile) Discard(off, length int64) error {
	if f.flag&(O_WRONLY|O_RDWR) == 0 {
		return linuxerr.EBADF
	}
	if !f.b.Limits().DiscardSupported() {
		return linuxerr.EOPNOTSUPP
	}
	if off%dmsim.SectorSize != 0 || length%dmsim.SectorSize != 0 {
		return linuxerr.EINVAL
	}
	if off < 0 || length < 0 || off+length > f.Size() {
		return linuxerr.EINVAL
	}
	for blk := off / f.bsize; blk*f.bsize < off+length; blk++ {
		delete(f.dirty, blk) // truncate_bdev_range
	}
	f.invalidate(off, length)
	if length == 0 {
		return nil
	}
	// blkdev_issue_discard(): the range goes as one bio per piece, and the
	// first error is the answer.
	sector := uint64(off / dmsim.SectorSize)
	var err error
	for _, n := range dmsim.BlkdevDiscardPieces(f.b.Limits(), sector, uint64(length/dmsim.SectorSize)) {
		if e := f.submit(dmsim.OpDiscard, sector, nil, n); e != nil && err == nil {
			err = e
		}
		sector += n
	}
	return linuxerr.Reduce(err)
}

// invalidate drops the cached pages that overlap [off, off+length).
func (f *bdevFile) invalidate(off, length int64) {
	if length <= 0 {
		return
	}
	f.k.InvalidatePages(f.b.Dev(), off/PageSize, (off+length+PageSize-1)/PageSize)
}

// FlushBufs is BLKFLSBUF: write back, then drop the device's clean pages
// (sync_blockdev, invalidate_bdev).
func (f *bdevFile) FlushBufs() error {
	err := f.writeback()
	f.wbErr = nil
	f.k.InvalidatePages(f.b.Dev(), 0, -1)
	return err
}

func (f *bdevFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += f.Size()
	default:
		return 0, linuxerr.EINVAL
	}
	if off < 0 {
		return 0, linuxerr.EINVAL
	}
	f.off = off
	return off, nil
}

// Close writes dirty buffers back (errors are lost) and releases the device.
func (f *bdevFile) Close() error {
	if f.closed {
		return linuxerr.EBADF
	}
	_ = f.writeback()
	f.closed = true
	if f.release != nil {
		f.tok.Do(f.k.Clock, f.release)
	}
	return nil
}
