package userland

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// Open flags: os.O_* plus O_DIRECT (Linux's value; never passed to the host).
const (
	O_RDONLY = os.O_RDONLY
	O_WRONLY = os.O_WRONLY
	O_RDWR   = os.O_RDWR
	O_CREATE = os.O_CREATE
	O_EXCL   = os.O_EXCL
	O_TRUNC  = os.O_TRUNC
	O_APPEND = os.O_APPEND
	O_DIRECT = 0x4000
)

// File is an open file.
type File interface {
	io.Reader
	io.Writer
	io.ReaderAt
	io.WriterAt
	io.Seeker
	io.Closer
	// Name is the path it was opened by.
	Name() string
	Stat() (fs.FileInfo, error)
}

// BlockFile is an open block device (what the BLK* ioctls reach).
type BlockFile interface {
	File
	Dev() dmsim.DevT
	// Size is the capacity in bytes (BLKGETSIZE64).
	Size() int64
	// SectorSize is the logical block size (BLKSSZGET).
	SectorSize() int
	// BlockSize is the page cache's buffer size (BLKBSZGET).
	BlockSize() int64
	// ReadOnly is BLKROGET.
	ReadOnly() bool
	// Discard discards a byte range (BLKDISCARD).
	Discard(off, length int64) error
	// Sync writes back buffered data and flushes the device's cache (fsync).
	Sync() error
}

// Syncer is implemented by files that buffer writes.
type Syncer interface{ Sync() error }

// DirectSetter is implemented by files whose O_DIRECT flag can be turned
// off (fcntl F_SETFL), as busybox dd does when a direct transfer is refused.
type DirectSetter interface{ SetDirect(bool) }

// FS is the file namespace commands see.
type FS interface {
	// OpenFile opens an absolute, clean path.
	OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error)
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error)
	Remove(name string) error
	Truncate(name string, size int64) error
}

// pathErr builds the *fs.PathError commands print, with a dmsim.Errno so its
// text is glibc's strerror.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: linuxerr.Reduce(err)}
}

// ---- host files ----

// HostFS is the host's file system, for commands run outside the simulation.
type HostFS struct{}

func (HostFS) OpenFile(_ context.Context, name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag&^O_DIRECT, perm)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &osFile{File: f, name: name}, nil
}

func (HostFS) Stat(_ context.Context, name string) (fs.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return fi, nil
}

func (HostFS) ReadDir(_ context.Context, name string) ([]fs.DirEntry, error) {
	d, err := os.ReadDir(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return d, nil
}

func (HostFS) Remove(name string) error {
	if err := os.Remove(name); err != nil {
		return pathErr("remove", name, err)
	}
	return nil
}

func (HostFS) Truncate(name string, size int64) error {
	if err := os.Truncate(name, size); err != nil {
		return pathErr("truncate", name, err)
	}
	return nil
}

// osFile is a host file shown under its emulated path, with errno errors.
// Inside the simulation (a scratch file) its reads and writes cost the
// opener CPU time.
type osFile struct {
	*os.File
	name string
	cpu  cpu
}

func (f *osFile) Name() string { return f.name }
func (f *osFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.cpu.io(n)
	return n, fileErr(err)
}
func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.cpu.io(n)
	return n, fileErr(err)
}
func (f *osFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.cpu.io(n)
	return n, fileErr(err)
}
func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.cpu.io(n)
	return n, fileErr(err)
}
func (f *osFile) Sync() error { return fileErr(f.File.Sync()) }

func fileErr(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return linuxerr.Reduce(err)
}

// ---- the simulation's file system ----

// SimFS is the file namespace inside the simulation: /dev nodes are the
// kernel's block devices (plus null, zero, full, random and urandom), /sys
// and /proc are the kernel's attribute files, and every other path lives
// under Root, a scratch directory on the host.
type SimFS struct {
	Kernel *dmsim.Kernel
	Root   string
	rand   *detRand
}

// NewSimFS returns the file system of one run; root is created with /tmp.
func NewSimFS(k *dmsim.Kernel, root string) (*SimFS, error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		return nil, err
	}
	return &SimFS{Kernel: k, Root: root, rand: newDetRand()}, nil
}

// hostPath maps an emulated path to the scratch directory.
func (s *SimFS) hostPath(name string) string {
	return filepath.Join(s.Root, filepath.FromSlash(path.Clean("/"+name)))
}

func isUnder(name, dir string) bool {
	return name == dir || strings.HasPrefix(name, dir+"/")
}

var charDevs = map[string]bool{"/dev/null": true, "/dev/zero": true, "/dev/full": true,
	"/dev/random": true, "/dev/urandom": true}

// mapperControl is /dev/mapper/control, the device-mapper control node
// devtmpfs creates when dm_mod loads.
const mapperControl = "/dev/mapper/control"

func (s *SimFS) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error) {
	name = path.Clean(name)
	if flag&O_DIRECT != 0 && !isUnder(name, "/dev") || charDevs[name] && flag&O_DIRECT != 0 {
		// ramfs, sysfs and the memory devices have no direct I/O
		if _, err := s.Stat(ctx, name); err == nil {
			return nil, pathErr("open", name, linuxerr.EINVAL)
		}
	}
	switch {
	case charDevs[name]:
		return &charFile{name: name, rand: s.rand, cpu: cpuOf(ctx)}, nil
	case isUnder(name, "/dev"):
		if name == "/dev" || name == "/dev/mapper" {
			return nil, pathErr("open", name, linuxerr.EISDIR)
		}
		if s.Kernel == nil {
			return nil, pathErr("open", name, linuxerr.ENOENT)
		}
		var e dmsim.DevEntry
		var resolved string
		var rerr error
		kdo(ctx, s.Kernel, func() { e, resolved, rerr = s.Kernel.DevStat(name, true) })
		if rerr == nil && resolved != name {
			return s.OpenFile(ctx, resolved, flag, perm) // through a symlink
		}
		if rerr == nil && e.Kind == dmsim.DevDir {
			return nil, pathErr("open", name, linuxerr.EISDIR)
		}
		if f, ok, err := s.openDevFile(ctx, name, flag); ok {
			return f, err
		}
		return openBdev(ctx, s.Kernel, name, flag)
	case isUnder(name, "/sys") || isUnder(name, "/proc"):
		if s.Kernel == nil {
			return nil, pathErr("open", name, linuxerr.ENOENT)
		}
		var data string
		var err error
		kdo(ctx, s.Kernel, func() { data, err = s.Kernel.SysfsRead(name) })
		if err != nil {
			return nil, pathErr("open", name, err)
		}
		return &sysFile{k: s.Kernel, tok: tokenFrom(ctx), cpu: cpuOf(ctx), name: name, data: []byte(data)}, nil
	}
	f, err := os.OpenFile(s.hostPath(name), flag&^O_DIRECT, perm)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &osFile{File: f, name: name, cpu: cpuOf(ctx)}, nil
}

func (s *SimFS) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	name = path.Clean(name)
	switch {
	case name == "/dev" || name == "/dev/mapper" || name == "/sys" || name == "/proc":
		return dirInfo(path.Base(name)), nil
	case charDevs[name]:
		return devInfo{name: path.Base(name), mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}, nil
	case name == mapperControl:
		return devInfo{name: "control", mode: fs.ModeDevice | fs.ModeCharDevice | 0o600}, nil
	case isUnder(name, "/dev"):
		if s.Kernel != nil {
			return s.devStat(ctx, name, true)
		}
		return nil, pathErr("stat", name, linuxerr.ENOENT)
	case isUnder(name, "/sys") || isUnder(name, "/proc"):
		if s.Kernel != nil {
			var err error
			kdo(ctx, s.Kernel, func() { _, err = s.Kernel.SysfsRead(name) })
			if err == nil {
				return devInfo{name: path.Base(name), mode: 0o644}, nil
			}
			if strings.HasPrefix(name, "/sys/module/") {
				mod := strings.SplitN(strings.TrimPrefix(name, "/sys/module/"), "/", 2)
				loaded := false
				kdo(ctx, s.Kernel, func() { loaded = s.Kernel.ModuleLoaded(mod[0]) })
				if len(mod) == 1 && loaded {
					return dirInfo(mod[0]), nil
				}
			}
		}
		return nil, pathErr("stat", name, linuxerr.ENOENT)
	}
	fi, err := os.Stat(s.hostPath(name))
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return fi, nil
}

func (s *SimFS) nodes(ctx context.Context, dir string) map[string]dmsim.DevT {
	if s.Kernel == nil {
		return nil
	}
	var m map[string]dmsim.DevT
	kdo(ctx, s.Kernel, func() { m = s.Kernel.DevNodes(dir) })
	out := make(map[string]dmsim.DevT, len(m))
	for n, d := range m {
		out[path.Base(n)] = d
	}
	return out
}

func (s *SimFS) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	name = path.Clean(name)
	if isUnder(name, "/dev") {
		var out []fs.DirEntry
		if s.Kernel != nil {
			var ents map[string]dmsim.DevEntry
			var err error
			kdo(ctx, s.Kernel, func() { ents, err = s.Kernel.DevEntries(name) })
			if err != nil {
				return nil, pathErr("open", name, err)
			}
			for n, e := range ents {
				out = append(out, fs.FileInfoToDirEntry(devEntryInfo(n, e, name+"/"+n)))
			}
		} else if name == "/dev" {
			out = append(out, fs.FileInfoToDirEntry(dirInfo("mapper")))
		}
		if name == "/dev/mapper" {
			if _, ok := s.nodes(ctx, name)["control"]; !ok {
				out = append(out, fs.FileInfoToDirEntry(devInfo{name: "control", mode: fs.ModeDevice | fs.ModeCharDevice | 0o600}))
			}
		}
		if name == "/dev" {
			for n := range charDevs {
				out = append(out, fs.FileInfoToDirEntry(devInfo{name: path.Base(n), mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}))
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
		return out, nil
	}
	if isUnder(name, "/sys") || isUnder(name, "/proc") {
		return nil, pathErr("open", name, linuxerr.ENOENT)
	}
	d, err := os.ReadDir(s.hostPath(name))
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if name == "/" {
		d = append(d, fs.FileInfoToDirEntry(dirInfo("dev")), fs.FileInfoToDirEntry(dirInfo("sys")),
			fs.FileInfoToDirEntry(dirInfo("proc")))
		sort.Slice(d, func(i, j int) bool { return d[i].Name() < d[j].Name() })
	}
	return d, nil
}

func (s *SimFS) Remove(name string) error {
	name = path.Clean(name)
	if isUnder(name, "/dev") && s.Kernel != nil && name != mapperControl && !charDevs[name] {
		// unlink(2) in devtmpfs: a node, file or symlink (not a directory)
		if err := s.Kernel.Unlink(name); err != nil {
			return pathErr("remove", name, err)
		}
		return nil
	}
	if isUnder(name, "/dev") || isUnder(name, "/sys") || isUnder(name, "/proc") {
		return pathErr("remove", name, linuxerr.EPERM)
	}
	if err := os.Remove(s.hostPath(name)); err != nil {
		return pathErr("remove", name, err)
	}
	return nil
}

func (s *SimFS) Truncate(name string, size int64) error {
	name = path.Clean(name)
	if isUnder(name, "/dev") || isUnder(name, "/sys") || isUnder(name, "/proc") {
		return pathErr("truncate", name, linuxerr.EINVAL)
	}
	if err := os.Truncate(s.hostPath(name), size); err != nil {
		return pathErr("truncate", name, err)
	}
	return nil
}

// HostPath returns where a scratch file lives on the host ("" for /dev,
// /sys and /proc), e.g. for losetup.
func (s *SimFS) HostPath(name string) string {
	name = path.Clean(name)
	if isUnder(name, "/dev") || isUnder(name, "/sys") || isUnder(name, "/proc") {
		return ""
	}
	return s.hostPath(name)
}

type devInfo struct {
	name string
	mode fs.FileMode
}

func (d devInfo) Name() string       { return d.name }
func (d devInfo) Size() int64        { return 0 }
func (d devInfo) Mode() fs.FileMode  { return d.mode }
func (d devInfo) ModTime() time.Time { return time.Time{} }
func (d devInfo) IsDir() bool        { return d.mode.IsDir() }
func (d devInfo) Sys() any           { return nil }

func dirInfo(name string) devInfo { return devInfo{name: name, mode: fs.ModeDir | 0o755} }

// ---- character devices ----

// charFile is one of the memory devices (drivers/char/mem.c); its reads
// and writes cost the opener CPU time: a read fills the buffer
// (read_zero: clear_user), a write to /dev/null moves nothing
// (write_null).
type charFile struct {
	name string
	rand *detRand
	cpu  cpu
}

func (c *charFile) Name() string { return c.name }
func (c *charFile) Stat() (fs.FileInfo, error) {
	return devInfo{name: path.Base(c.name), mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}, nil
}
func (c *charFile) Read(p []byte) (int, error) {
	switch c.name {
	case "/dev/null":
		c.cpu.io(0)
		return 0, io.EOF
	case "/dev/random", "/dev/urandom":
		c.rand.fill(p)
	default:
		clear(p)
	}
	c.cpu.charge(SyscallCost + bytesCost(len(p), ClearBytePicos))
	return len(p), nil
}
func (c *charFile) ReadAt(p []byte, _ int64) (int, error) { return c.Read(p) }
func (c *charFile) Write(p []byte) (int, error) {
	c.cpu.io(0)
	if c.name == "/dev/full" {
		return 0, linuxerr.ENOSPC
	}
	return len(p), nil
}
func (c *charFile) WriteAt(p []byte, _ int64) (int, error) { return c.Write(p) }
func (c *charFile) Seek(int64, int) (int64, error)         { return 0, nil }
func (c *charFile) Close() error                           { return nil }

// detRand is /dev/urandom made deterministic, so two runs print the same.
type detRand struct{ x uint64 }

func newDetRand() *detRand { return &detRand{x: 0x9e3779b97f4a7c15} }

func (r *detRand) fill(p []byte) {
	for i := range p {
		// xorshift64*
		r.x ^= r.x >> 12
		r.x ^= r.x << 25
		r.x ^= r.x >> 27
		p[i] = byte((r.x * 2685821657736338717) >> 56)
	}
}

// ---- sysfs attributes ----

type sysFile struct {
	k    *dmsim.Kernel
	tok  *sim.Token
	cpu  cpu
	name string
	data []byte
	off  int64
}

func (f *sysFile) Name() string { return f.name }
func (f *sysFile) Stat() (fs.FileInfo, error) {
	return devInfo{name: path.Base(f.name), mode: 0o644}, nil
}
func (f *sysFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	return n, err
}
func (f *sysFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	f.cpu.io(n)
	return n, nil
}

// Write stores the value: one write(2) is one store into the attribute.
func (f *sysFile) Write(p []byte) (int, error) {
	f.cpu.io(len(p))
	var err error
	f.tok.Do(f.k.Clock, func() { err = f.k.SysfsWrite(f.name, string(p)) })
	if err != nil {
		return 0, linuxerr.Reduce(err)
	}
	return len(p), nil
}
func (f *sysFile) WriteAt(p []byte, _ int64) (int, error) { return f.Write(p) }
func (f *sysFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		f.off = off
	case io.SeekCurrent:
		f.off += off
	case io.SeekEnd:
		f.off = int64(len(f.data)) + off
	}
	return f.off, nil
}
func (f *sysFile) Close() error { return nil }

// ---- standard streams as files ----

type streamFile struct {
	name string
	r    io.Reader
	w    io.Writer
}

func (f *streamFile) Name() string { return f.name }
func (f *streamFile) Stat() (fs.FileInfo, error) {
	return devInfo{name: path.Base(f.name), mode: fs.ModeNamedPipe | 0o600}, nil
}
func (f *streamFile) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, linuxerr.EBADF
	}
	return f.r.Read(p)
}
func (f *streamFile) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, linuxerr.EBADF
	}
	return f.w.Write(p)
}
func (f *streamFile) ReadAt([]byte, int64) (int, error)  { return 0, linuxerr.ESPIPE }
func (f *streamFile) WriteAt([]byte, int64) (int, error) { return 0, linuxerr.ESPIPE }
func (f *streamFile) Seek(int64, int) (int64, error)     { return 0, linuxerr.ESPIPE }
func (f *streamFile) Close() error                       { return nil }
