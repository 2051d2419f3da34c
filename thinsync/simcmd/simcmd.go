// Package simcmd registers thinsync as a userland command of the emulated
// machine: its Sys is a userland.Proc, whose subprocesses (dmsetup,
// thin_dump, thin_delta) are the registered commands and whose files are
// the process's file namespace.
package simcmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/thinsync"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	userland.Register(&userland.Command{
		Name:    "thinsync",
		Summary: "verified, resumable send/receive of thin volumes",
		Options: []string{"send", "recv", "inspect", "verify", "--pool", "--id", "--base", "--size", "--dev",
			"--state", "--resume", "--abort", "--compress", "-o", "-i"},
		Run: func(p *userland.Proc) int {
			st := thinsync.Main(&sys{p: p}, p.Args[1:])
			if st == thinsync.ExitKilled {
				return p.KilledStatus()
			}
			return st
		},
	})
}

type sys struct{ p *userland.Proc }

func (s *sys) Exec(argv []string, nokill bool) ([]byte, []byte, int) {
	var out, errb bytes.Buffer
	child := *s.p
	child.Stdin = strings.NewReader("")
	child.Stdout, child.Stderr = &out, &errb
	if nokill {
		child.Ctx = context.Background()
	}
	st := userland.Run(&child, argv)
	return out.Bytes(), errb.Bytes(), st
}

var flagMap = []struct{ from, to int }{
	{thinsync.OWrite, userland.O_WRONLY}, {thinsync.ORdWr, userland.O_RDWR}, {thinsync.OCreate, userland.O_CREATE},
	{thinsync.OExcl, userland.O_EXCL}, {thinsync.OTrunc, userland.O_TRUNC}, {thinsync.ODirect, userland.O_DIRECT},
}

func (s *sys) Open(name string, flag int) (thinsync.File, error) {
	uf := 0
	for _, m := range flagMap {
		if flag&m.from != 0 {
			uf |= m.to
		}
	}
	f, err := s.p.OpenFile(name, uf, 0o644)
	if err != nil {
		return nil, err
	}
	return file{f}, nil
}

func (s *sys) ReadDir(name string) ([]string, error) {
	if !strings.HasPrefix(name, "/sys/") || s.p.Kernel == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: linuxerr.ENOENT}
	}
	var out []string
	var err error
	s.p.Kcall(func() { out, err = s.p.Kernel.SysfsList(name) })
	return out, err
}

func (s *sys) Remove(name string) error {
	if s.p.FS == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: linuxerr.ENOENT}
	}
	return s.p.FS.Remove(s.p.Abs(name))
}

func (s *sys) IsDevice(name string) bool {
	fi, err := s.p.Stat(name)
	return err == nil && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0
}

func (s *sys) Stdin() io.Reader  { return s.p.Stdin }
func (s *sys) Stdout() io.Writer { return s.p.Stdout }
func (s *sys) Stderr() io.Writer { return s.p.Stderr }
func (s *sys) Killed() bool      { return s.p.Killed() }
func (s *sys) Terminal() bool    { return false }
func (s *sys) Now() time.Time    { return time.Time{} }

func (s *sys) Sleep(d time.Duration) {
	if s.p.Kernel != nil {
		s.p.Kcall(func() { _ = s.p.Kernel.Clock.Sleep(s.p.Ctx, d) })
	}
}

// file adapts a userland.File.
type file struct{ userland.File }

// WriteAt writes all of p or fails, as os.File.WriteAt does on Linux: a
// short write (at a device's end) is retried, and the retry gets ENOSPC.
func (f file) WriteAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := f.File.WriteAt(p[done:], off+int64(done))
		done += n
		if err != nil {
			var pe *fs.PathError
			if !errors.As(err, &pe) {
				err = &fs.PathError{Op: "write", Path: f.Name(), Err: err} // as os.File
			}
			return done, err
		}
		if n == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

func (f file) Sync() error {
	if s, ok := f.File.(userland.Syncer); ok {
		return s.Sync()
	}
	return nil
}

func (f file) Size() (int64, error) {
	if b, ok := f.File.(userland.BlockFile); ok {
		return b.Size(), nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f file) Discard(off, length int64) error {
	if b, ok := f.File.(userland.BlockFile); ok {
		return b.Discard(off, length)
	}
	return linuxerr.EOPNOTSUPP
}
