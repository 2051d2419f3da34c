package userland

import (
	"context"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// devRegFile is an open regular file under /dev (dmsim.DevFile): what a
// shell redirect makes where no device node is.
type devRegFile struct {
	f      *dmsim.DevFile
	name   string
	off    int64
	append bool
	cpu    cpu
}

// openDevFile opens the regular file at name under /dev, making it when
// flag has O_CREATE and nothing is there. ok is false when name is a
// device node (or nothing, without O_CREATE): the caller opens the node.
func (s *SimFS) openDevFile(ctx context.Context, name string, flag int) (f File, ok bool, err error) {
	var df *dmsim.DevFile
	kdo(ctx, s.Kernel, func() { df = s.Kernel.DevFile(name) })
	if df == nil {
		if flag&O_CREATE == 0 || s.isDevNode(ctx, name) {
			return nil, false, nil
		}
		kdo(ctx, s.Kernel, func() { df, err = s.Kernel.CreateDevFile(name) })
		if err != nil {
			return nil, true, pathErr("open", name, err)
		}
	} else if flag&(O_CREATE|O_EXCL) == O_CREATE|O_EXCL {
		return nil, true, pathErr("open", name, linuxerr.EEXIST)
	}
	if flag&O_TRUNC != 0 && flag&(O_WRONLY|O_RDWR) != 0 {
		df.Truncate(0)
	}
	return &devRegFile{f: df, name: name, append: flag&O_APPEND != 0, cpu: cpuOf(ctx)}, true, nil
}

// isDevNode reports whether a block device node (or a device found by
// lookup) is at name.
func (s *SimFS) isDevNode(ctx context.Context, name string) bool {
	if _, ok := s.nodes(ctx, path.Dir(name))[path.Base(name)]; ok {
		return true
	}
	var err error
	kdo(ctx, s.Kernel, func() { _, err = s.Kernel.LookupBdev(name) })
	return err == nil
}

func (d *devRegFile) Name() string { return d.name }
func (d *devRegFile) Stat() (fs.FileInfo, error) {
	return regInfo{name: path.Base(d.name), size: d.f.Size()}, nil
}
func (d *devRegFile) Read(p []byte) (int, error) {
	n, err := d.ReadAt(p, d.off)
	d.off += int64(n)
	return n, err
}
func (d *devRegFile) ReadAt(p []byte, off int64) (int, error) {
	n := d.f.ReadAt(p, off)
	d.cpu.io(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (d *devRegFile) Write(p []byte) (int, error) {
	if d.append {
		d.off = d.f.Size()
	}
	n, err := d.WriteAt(p, d.off)
	d.off += int64(n)
	return n, err
}
func (d *devRegFile) WriteAt(p []byte, off int64) (int, error) {
	n := d.f.WriteAt(p, off)
	d.cpu.io(n)
	return n, nil
}
func (d *devRegFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += d.off
	case io.SeekEnd:
		off += d.f.Size()
	}
	if off < 0 {
		return 0, linuxerr.EINVAL
	}
	d.off = off
	return off, nil
}
func (d *devRegFile) Close() error { return nil }

// regInfo describes a regular file under /dev.
type regInfo struct {
	name string
	size int64
}

func (r regInfo) Name() string       { return r.name }
func (r regInfo) Size() int64        { return r.size }
func (r regInfo) Mode() fs.FileMode  { return 0o644 }
func (r regInfo) ModTime() time.Time { return time.Time{} }
func (r regInfo) IsDir() bool        { return false }
func (r regInfo) Sys() any           { return nil }
