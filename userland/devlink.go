package userland

import (
	"context"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// LinkFS is implemented by file systems that have directories and
// symbolic links to make (busybox mkdir and ln use it).
type LinkFS interface {
	// Lstat is lstat(2): a symlink itself, not what it leads to.
	Lstat(ctx context.Context, name string) (fs.FileInfo, error)
	// Mkdir is mkdir(2).
	Mkdir(ctx context.Context, name string) error
	// Symlink is symlink(2): a link at name holding target.
	Symlink(ctx context.Context, target, name string) error
}

func (HostFS) Lstat(_ context.Context, name string) (fs.FileInfo, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	return fi, nil
}

func (HostFS) Mkdir(_ context.Context, name string) error {
	if err := os.Mkdir(name, 0o777); err != nil {
		return pathErr("mkdir", name, err)
	}
	return nil
}

func (HostFS) Symlink(_ context.Context, target, name string) error {
	if err := os.Symlink(target, name); err != nil {
		return pathErr("symlink", name, err)
	}
	return nil
}

// devStat is stat(2) (follow) or lstat(2) of a path under /dev, through
// devtmpfs's directories and symlinks; a symlink out of /dev is followed
// into the rest of the namespace.
func (s *SimFS) devStat(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	var e dmsim.DevEntry
	var resolved string
	var err error
	kdo(ctx, s.Kernel, func() { e, resolved, err = s.Kernel.DevStat(name, follow) })
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	if !isUnder(resolved, "/dev") {
		if follow {
			return s.Stat(ctx, resolved)
		}
		return s.Lstat(ctx, resolved)
	}
	return devEntryInfo(path.Base(name), e, resolved), nil
}

// devEntryInfo is the FileInfo of a devtmpfs entry.
func devEntryInfo(name string, e dmsim.DevEntry, p string) fs.FileInfo {
	switch e.Kind {
	case dmsim.DevDir:
		return dirInfo(name)
	case dmsim.DevLink:
		return linkInfo{name: name, size: e.Size}
	case dmsim.DevReg:
		return regInfo{name: name, size: e.Size}
	case dmsim.DevChr:
		if p == mapperControl {
			return devInfo{name: name, mode: fs.ModeDevice | fs.ModeCharDevice | 0o600}
		}
		return devInfo{name: name, mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}
	}
	return devInfo{name: name, mode: fs.ModeDevice | 0o600}
}

// Lstat is lstat(2): under /dev a symlink is reported as itself.
func (s *SimFS) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	name = path.Clean(name)
	switch {
	case isUnder(name, "/dev") && s.Kernel != nil:
		return s.devStat(ctx, name, false)
	case isUnder(name, "/dev") || isUnder(name, "/sys") || isUnder(name, "/proc"):
		return s.Stat(ctx, name)
	}
	fi, err := os.Lstat(s.hostPath(name))
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	return fi, nil
}

// Mkdir is mkdir(2): in devtmpfs, or in the scratch directory; sysfs and
// procfs refuse.
func (s *SimFS) Mkdir(ctx context.Context, name string) error {
	name = path.Clean(name)
	switch {
	case isUnder(name, "/dev"):
		if s.Kernel == nil {
			return pathErr("mkdir", name, linuxerr.ENOENT)
		}
		var err error
		kdo(ctx, s.Kernel, func() { err = s.Kernel.Mkdir(name) })
		if err != nil {
			return pathErr("mkdir", name, err)
		}
		return nil
	case isUnder(name, "/sys") || isUnder(name, "/proc"):
		if _, err := s.Stat(ctx, name); err == nil {
			return pathErr("mkdir", name, linuxerr.EEXIST)
		}
		return pathErr("mkdir", name, linuxerr.EPERM)
	case name == "/":
		return pathErr("mkdir", name, linuxerr.EEXIST)
	}
	if err := os.Mkdir(s.hostPath(name), 0o777); err != nil {
		return pathErr("mkdir", name, err)
	}
	return nil
}

// Symlink is symlink(2). Only devtmpfs holds symlinks: the scratch
// directory is the host's, where an absolute target would name a host
// path, so there it is EPERM.
func (s *SimFS) Symlink(ctx context.Context, target, name string) error {
	name = path.Clean(name)
	if !isUnder(name, "/dev") || s.Kernel == nil {
		if _, err := s.Lstat(ctx, name); err == nil {
			return pathErr("symlink", name, linuxerr.EEXIST)
		}
		return pathErr("symlink", name, linuxerr.EPERM)
	}
	var err error
	kdo(ctx, s.Kernel, func() { err = s.Kernel.Symlink(target, name) })
	if err != nil {
		return pathErr("symlink", name, err)
	}
	return nil
}

// linkInfo describes a symlink under /dev (its size is the target's
// length).
type linkInfo struct {
	name string
	size int64
}

func (l linkInfo) Name() string       { return l.name }
func (l linkInfo) Size() int64        { return l.size }
func (l linkInfo) Mode() fs.FileMode  { return fs.ModeSymlink | 0o777 }
func (l linkInfo) ModTime() time.Time { return time.Time{} }
func (l linkInfo) IsDir() bool        { return false }
func (l linkInfo) Sys() any           { return nil }

// Lstat is lstat(2) of a path relative to the process's directory; a file
// system without symlinks answers as stat(2).
func (p *Proc) Lstat(name string) (fs.FileInfo, error) {
	if l, ok := p.FS.(LinkFS); ok {
		return l.Lstat(p.ctx(), p.Abs(name))
	}
	return p.Stat(name)
}

// Mkdir is mkdir(2) of a path relative to the process's directory.
func (p *Proc) Mkdir(name string) error {
	if l, ok := p.FS.(LinkFS); ok {
		return l.Mkdir(p.ctx(), p.Abs(name))
	}
	return pathErr("mkdir", name, linuxerr.EPERM)
}

// Symlink is symlink(2) of a path relative to the process's directory.
func (p *Proc) Symlink(target, name string) error {
	if l, ok := p.FS.(LinkFS); ok {
		return l.Symlink(p.ctx(), target, p.Abs(name))
	}
	return pathErr("symlink", name, linuxerr.EPERM)
}

// Unlink is unlink(2) of a path relative to the process's directory.
func (p *Proc) Unlink(name string) error {
	if p.FS == nil {
		return HostFS{}.Remove(name)
	}
	return p.FS.Remove(p.Abs(name))
}
