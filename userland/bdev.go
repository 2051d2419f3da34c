package userland

import (
	"context"
	"io"
	"io/fs"
	"path"
	"sort"

	"github.com/dmsim/dmsim/dmsim"
)

// pageSize is the page cache's granularity for buffered block device I/O.
const pageSize = 4096

// bdevFile is an open block device node. O_DIRECT I/O goes to the device as
// one bio per call and must be sector aligned (EINVAL otherwise, as
// blkdev_direct_IO). Buffered writes go to a page cache that is written back
// when the file is synced or closed (the last close of a block device writes
// its dirty pages back; errors then are not reported to the writer).
type bdevFile struct {
	k       *dmsim.Kernel
	b       dmsim.BlockDevice
	release func()
	name    string
	flag    int
	direct  bool
	off     int64
	dirty   map[int64][]byte // page index -> page
	closed  bool
}

func openBdev(_ context.Context, k *dmsim.Kernel, name string, flag int) (File, error) {
	mode := dmsim.FModeRead
	switch flag & (O_WRONLY | O_RDWR) {
	case O_WRONLY:
		mode = dmsim.FModeWrite
	case O_RDWR:
		mode |= dmsim.FModeWrite
	}
	k.Clock.Enter()
	b, rel, err := k.OpenBdev(name, mode)
	k.Clock.Exit()
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &bdevFile{k: k, b: b, release: rel, name: name, flag: flag, direct: flag&O_DIRECT != 0,
		dirty: map[int64][]byte{}}, nil
}

func (f *bdevFile) Name() string    { return f.name }
func (f *bdevFile) Dev() dmsim.DevT { return f.b.Dev() }
func (f *bdevFile) Size() int64     { return int64(f.b.Size()) * dmsim.SectorSize }
func (f *bdevFile) ReadOnly() bool  { return f.b.ReadOnly() }
func (f *bdevFile) SectorSize() int {
	if s := f.b.Limits().LogicalBlockSize; s > 0 {
		return int(s)
	}
	return dmsim.SectorSize
}

func (f *bdevFile) Stat() (fs.FileInfo, error) {
	return devInfo{name: path.Base(f.name), mode: fs.ModeDevice | 0o600}, nil
}

// submit runs one bio as a clock actor; the wait is uninterruptible.
func (f *bdevFile) submit(op dmsim.Op, sector uint64, data []byte, sectors uint64) error {
	c := f.k.Clock
	c.Enter()
	defer c.Exit()
	bio := dmsim.NewBio(op, f.b, sector, data, nil)
	if data == nil {
		bio.Sectors = sectors
	}
	return dmsim.SubmitWait(context.Background(), c, bio)
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

func (f *bdevFile) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, EBADF
	}
	if f.flag&(O_WRONLY|O_RDWR) == O_WRONLY {
		return 0, EBADF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.direct && !f.aligned(p, off) {
		return 0, dmsim.EINVAL
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
		if err := f.submit(dmsim.OpRead, uint64(off/dmsim.SectorSize), want, 0); err != nil {
			return 0, toErrno(err)
		}
		return len(want), nil
	}
	// Buffered: read whole sectors, then lay dirty pages over them.
	start := off &^ (dmsim.SectorSize - 1)
	end := (off + int64(len(want)) + dmsim.SectorSize - 1) &^ (dmsim.SectorSize - 1)
	buf := make([]byte, end-start)
	if err := f.submit(dmsim.OpRead, uint64(start/dmsim.SectorSize), buf, 0); err != nil {
		return 0, toErrno(err)
	}
	for pg := start / pageSize; pg*pageSize < end; pg++ {
		if d, ok := f.dirty[pg]; ok {
			overlay(buf, start, d, pg*pageSize)
		}
	}
	copy(want, buf[off-start:])
	return len(want), nil
}

// overlay copies src (at byte offset srcOff) over dst (at dstOff) where they meet.
func overlay(dst []byte, dstOff int64, src []byte, srcOff int64) {
	lo := max(dstOff, srcOff)
	hi := min(dstOff+int64(len(dst)), srcOff+int64(len(src)))
	if lo < hi {
		copy(dst[lo-dstOff:hi-dstOff], src[lo-srcOff:hi-srcOff])
	}
}

func (f *bdevFile) WriteAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, EBADF
	}
	if f.flag&(O_WRONLY|O_RDWR) == 0 {
		return 0, EBADF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.b.ReadOnly() {
		return 0, dmsim.EPERM // blkdev_write_iter
	}
	if f.direct && !f.aligned(p, off) {
		return 0, dmsim.EINVAL
	}
	size := f.Size()
	if off >= size {
		return 0, dmsim.ENOSPC
	}
	data := p
	if off+int64(len(p)) > size {
		data = p[:size-off]
	}
	if f.direct {
		if err := f.submit(dmsim.OpWrite, uint64(off/dmsim.SectorSize), data, 0); err != nil {
			return 0, toErrno(err)
		}
		return len(data), nil
	}
	for done := 0; done < len(data); {
		pos := off + int64(done)
		pg := pos / pageSize
		in := pos - pg*pageSize
		n := min(int64(len(data)-done), pageSize-in)
		page, ok := f.dirty[pg]
		if !ok {
			page = make([]byte, pageSize)
			if in != 0 || n != pageSize {
				if err := f.readPage(pg, page); err != nil {
					return done, toErrno(err)
				}
			}
			f.dirty[pg] = page
		}
		copy(page[in:in+n], data[done:])
		done += int(n)
	}
	return len(data), nil
}

// readPage fills a page from the device (the part inside the device).
func (f *bdevFile) readPage(pg int64, page []byte) error {
	start := pg * pageSize
	n := min(int64(pageSize), f.Size()-start)
	n &^= dmsim.SectorSize - 1
	if n <= 0 {
		return nil
	}
	return f.submit(dmsim.OpRead, uint64(start/dmsim.SectorSize), page[:n], 0)
}

// writeback writes the dirty pages, lowest first, one bio per run of
// adjacent pages.
func (f *bdevFile) writeback() error {
	if len(f.dirty) == 0 {
		return nil
	}
	pages := make([]int64, 0, len(f.dirty))
	for pg := range f.dirty {
		pages = append(pages, pg)
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i] < pages[j] })
	size := f.Size()
	var first error
	for i := 0; i < len(pages); {
		j := i + 1
		for j < len(pages) && pages[j] == pages[j-1]+1 && j-i < 256 {
			j++
		}
		start := pages[i] * pageSize
		buf := make([]byte, 0, (j-i)*pageSize)
		for _, pg := range pages[i:j] {
			buf = append(buf, f.dirty[pg]...)
		}
		if start+int64(len(buf)) > size {
			buf = buf[:size-start]
		}
		buf = buf[:int64(len(buf))&^(dmsim.SectorSize-1)]
		if len(buf) > 0 {
			if err := f.submit(dmsim.OpWrite, uint64(start/dmsim.SectorSize), buf, 0); err != nil && first == nil {
				first = toErrno(err)
			}
		}
		i = j
	}
	clear(f.dirty)
	return first
}

// Sync is fsync: write back, then flush the device's cache.
func (f *bdevFile) Sync() error {
	if f.closed {
		return EBADF
	}
	err := f.writeback()
	if ferr := f.submit(dmsim.OpFlush, 0, nil, 0); err == nil && ferr != nil {
		err = toErrno(ferr)
	}
	return err
}

// Discard is BLKDISCARD: the range must be sector aligned and inside the device.
func (f *bdevFile) Discard(off, length int64) error {
	// blk_ioctl_discard
	if f.flag&(O_WRONLY|O_RDWR) == 0 {
		return EBADF
	}
	if !f.b.Limits().DiscardSupported() {
		return dmsim.EOPNOTSUPP
	}
	if off%dmsim.SectorSize != 0 || length%dmsim.SectorSize != 0 {
		return dmsim.EINVAL
	}
	if off < 0 || length < 0 || off+length > f.Size() {
		return dmsim.EINVAL
	}
	for pg := off / pageSize; pg*pageSize < off+length; pg++ {
		delete(f.dirty, pg) // truncate_bdev_range
	}
	if length == 0 {
		return nil
	}
	return toErrno(f.submit(dmsim.OpDiscard, uint64(off/dmsim.SectorSize), nil, uint64(length/dmsim.SectorSize)))
}

func (f *bdevFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += f.Size()
	default:
		return 0, dmsim.EINVAL
	}
	if off < 0 {
		return 0, dmsim.EINVAL
	}
	f.off = off
	return off, nil
}

// Close writes back dirty pages (errors are lost, as on the last close of
// a block device) and releases the device.
func (f *bdevFile) Close() error {
	if f.closed {
		return EBADF
	}
	_ = f.writeback()
	f.closed = true
	if f.release != nil {
		f.k.Clock.Enter()
		f.release()
		f.k.Clock.Exit()
	}
	return nil
}
