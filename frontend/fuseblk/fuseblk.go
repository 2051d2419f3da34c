// Package fuseblk serves block devices as files of a FUSE file system, so
// that the host kernel can attach a loop device to each and real programs
// (mkfs, mount, dd, blkdiscard) reach them as block devices.
//
// Every file is opened in direct-I/O mode: no page cache stands between a
// write and the device, so a write, a flush (fsync, which is what loop makes
// of REQ_PREFLUSH) and a discard (fallocate PUNCH_HOLE, loop's discard) each
// reach the Device before the system call returns. ZERO_RANGE is
// write-zeroes.
//
// The data path. The server reads each request with read(2) on /dev/fuse
// (go-fuse's loop): a write's data is copied by the kernel into a buffer
// of ours, and the Device copies it again to where it goes (a disk image);
// a read is copied out of the image, then by the kernel into the caller's
// pages. A plain loop device on a file copies once. Splicing a write
// request from /dev/fuse into a pipe, and from the pipe into the image,
// does not save the first copy: the kernel lends a pipe the pages of a
// request only when they are its own (page cache); a direct-I/O request's
// pages, which are what every request here carries (loop's direct I/O,
// FOPEN_DIRECT_IO), it copies into new pipe pages (fuse_copy_folio() with
// args->user_pages, since Linux 5.17: 6.1 and 6.18 alike), so
// the splice costs what read(2) does. The README's direct I/O row has the
// figures; BenchmarkFUSECeiling in package frontend measures this package
// alone (a Device that only writes a tmpfs file) against a plain loop
// device.
package fuseblk

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dmsim/dmsim/linuxerr"
)

// Device is a block device as a file serves it. Its methods may be called
// from many goroutines at once.
type Device interface {
	// Size is the device's size in bytes.
	Size() int64
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Flush is REQ_PREFLUSH: it returns once every completed write is
	// durable.
	Flush() error
	// Discard is REQ_OP_DISCARD of n bytes at off.
	Discard(off, n int64) error
	// WriteZeroes is REQ_OP_WRITE_ZEROES of n bytes at off.
	WriteZeroes(off, n int64) error
}

// fallocate(2) modes (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

// FS is a mounted file system of device files.
type FS struct {
	dir    string
	root   *fs.Inode
	server *fuse.Server

	mu    sync.Mutex // guards files and each file's opens
	files map[string]*file
	ino   uint64
}

type rootNode struct{ fs.Inode }

// Mount mounts an empty file system on dir.
func Mount(dir string) (*FS, error) {
	root := &rootNode{}
	sec := time.Duration(0)
	server, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			AllowOther: true,
			FsName:     "dmsim",
			Name:       "dmsim",
			// Reads and writes as large as the kernel will send.
			MaxWrite: 1 << 20,
			// FUSE_ASYNC_DIO: the loop device's direct I/O (an async
			// kiocb) does not wait for one request before it sends the
			// next: the two requests a 1 MiB I/O becomes (the loop
			// queue's 128 segments) are served at once. Each still
			// completes only once the device has it.
			ExtraCapabilities: fuse.CAP_ASYNC_DIO,
			// Requests in flight at once (the loop queue holds 128).
			MaxBackground: 64,
			// As root, mount(2) directly; fusermount3 otherwise.
			DirectMount: true,
			// Read results are Go memory, not files: nothing to splice.
			DisableSplice: true,
		},
		AttrTimeout:  &sec,
		EntryTimeout: &sec,
	})
	if err != nil {
		return nil, fmt.Errorf("fuse mount on %s: %w", dir, err)
	}
	return &FS{dir: dir, root: &root.Inode, server: server, files: map[string]*file{}, ino: 1}, nil
}

// Dir is the mount point.
func (f *FS) Dir() string { return f.dir }

// Add makes dev the file dir/name.
func (f *FS) Add(name string, dev Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[name]; ok {
		return fmt.Errorf("%s: %w", name, linuxerr.EEXIST)
	}
	f.ino++
	n := &file{fs: f, dev: dev}
	ch := f.root.NewPersistentInode(context.Background(), n, fs.StableAttr{Mode: syscall.S_IFREG, Ino: f.ino})
	if !f.root.AddChild(name, ch, false) {
		return fmt.Errorf("%s: %w", name, linuxerr.EEXIST)
	}
	f.files[name] = n
	return nil
}

// Remove takes the file away. Descriptors still open on it (a loop device
// being torn down) get ENXIO from then on, as from a removed device.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.files[name]
	if !ok {
		return fmt.Errorf("%s: %w", name, linuxerr.ENOENT)
	}
	n.gone = true
	delete(f.files, name)
	f.root.RmChild(name)
	f.root.NotifyEntry(name)
	return nil
}

// OpenCount is how many open file descriptions the file has.
func (f *FS) OpenCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.files[name]; ok {
		return n.opens
	}
	return 0
}

// Unmount unmounts the file system.
func (f *FS) Unmount() error { return f.server.Unmount() }

// file is one device's file.
type file struct {
	fs.Inode
	fs    *FS
	dev   Device
	opens int  // guarded by fs.mu
	gone  bool // removed; guarded by fs.mu
}

// removed reports whether the file's device is gone.
func (n *file) removed() bool {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.gone
}

var (
	_ fs.NodeOpener      = (*file)(nil)
	_ fs.NodeReleaser    = (*file)(nil)
	_ fs.NodeGetattrer   = (*file)(nil)
	_ fs.NodeSetattrer   = (*file)(nil)
	_ fs.NodeReader      = (*file)(nil)
	_ fs.NodeWriter      = (*file)(nil)
	_ fs.NodeFsyncer     = (*file)(nil)
	_ fs.NodeFlusher     = (*file)(nil)
	_ fs.NodeAllocater   = (*file)(nil)
	_ fs.InodeEmbedder   = (*file)(nil)
	_ fs.NodeOnForgetter = (*file)(nil)
)

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return syscall.Errno(linuxerr.ToErrno(err))
}

func (n *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.fs.mu.Lock()
	n.opens++
	n.fs.mu.Unlock()
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

func (n *file) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	n.fs.mu.Lock()
	n.opens--
	n.fs.mu.Unlock()
	return 0
}

func (n *file) OnForget() {}

func (n *file) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o600
	out.Size = uint64(n.dev.Size())
	out.Blksize = 4096
	out.Blocks = (out.Size + 511) / 512
	return 0
}

// Setattr allows what does not change the device: a truncate to its own
// size, and times and modes that are not kept.
func (n *file) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok && int64(sz) != n.dev.Size() {
		return syscall.EPERM
	}
	return n.Getattr(ctx, f, out)
}

func (n *file) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if n.removed() {
		return nil, syscall.ENXIO
	}
	size := n.dev.Size()
	if off < 0 {
		return nil, syscall.EINVAL
	}
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	if int64(len(dest)) > size-off {
		dest = dest[:size-off]
	}
	m, err := n.dev.ReadAt(dest, off)
	if err != nil && m == 0 {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:m]), 0
}

// Write past the end of the device is ENOSPC, as on a block device.
func (n *file) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if n.removed() {
		return 0, syscall.ENXIO
	}
	size := n.dev.Size()
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= size {
		return 0, syscall.ENOSPC
	}
	if int64(len(data)) > size-off {
		data = data[:size-off]
	}
	m, err := n.dev.WriteAt(data, off)
	if err != nil && m == 0 {
		return 0, errno(err)
	}
	return uint32(m), 0
}

// Fsync is a flush: loop turns REQ_PREFLUSH (and FUA, which it does not
// have) into vfs_fsync().
func (n *file) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if n.removed() {
		return syscall.ENXIO
	}
	return errno(n.dev.Flush())
}

// Flush is close(2); every write has reached the device already.
func (n *file) Flush(ctx context.Context, f fs.FileHandle) syscall.Errno { return 0 }

// Allocate is fallocate(2): PUNCH_HOLE is a discard (loop's REQ_OP_DISCARD),
// ZERO_RANGE is write-zeroes, and a plain allocation inside the device has
// nothing to do.
func (n *file) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if n.removed() {
		return syscall.ENXIO
	}
	devSize := uint64(n.dev.Size())
	if size == 0 || off > devSize || size > devSize-off {
		if mode&fallocKeepSize != 0 && off <= devSize {
			size = min(size, devSize-off)
		} else {
			return syscall.ENOSPC
		}
	}
	if size == 0 {
		return 0
	}
	switch {
	case mode&fallocPunchHole != 0:
		if mode&fallocKeepSize == 0 {
			return syscall.EINVAL
		}
		return errno(n.dev.Discard(int64(off), int64(size)))
	case mode&fallocZeroRange != 0:
		return errno(n.dev.WriteZeroes(int64(off), int64(size)))
	case mode&^fallocKeepSize == 0:
		return 0
	}
	return syscall.EOPNOTSUPP
}
