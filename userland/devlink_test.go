package userland

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// TestDevLinks: directories and symlinks under /dev as stat, lstat,
// readdir, open and unlink see them.
func TestDevLinks(t *testing.T) {
	k, err := dmsim.NewKernel(dmsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &SimFS{Kernel: k, Root: t.TempDir()}
	ctx := context.Background()
	for _, op := range []struct {
		name string
		err  error
		want linuxerr.Errno
	}{
		{"mkdir", s.Mkdir(ctx, "/dev/mapper/d"), 0},
		{"mkdir again", s.Mkdir(ctx, "/dev/mapper/d"), linuxerr.EEXIST},
		{"mkdir in sysfs", s.Mkdir(ctx, "/sys/x"), linuxerr.EPERM},
		{"symlink to null", s.Symlink(ctx, "/dev/null", "/dev/mapper/n"), 0},
		{"symlink to a dir", s.Symlink(ctx, "d", "/dev/mapper/ld"), 0},
		{"dangling symlink", s.Symlink(ctx, "/nowhere", "/dev/mapper/x"), 0},
		{"symlink in scratch", s.Symlink(ctx, "/dev/null", "/tmp/l"), linuxerr.EPERM},
		{"file through a dir link", func() error {
			f, err := s.OpenFile(ctx, "/dev/mapper/ld/f", O_WRONLY|O_CREATE, 0o644)
			if err == nil {
				io.WriteString(f, "hi")
				f.Close()
			}
			return err
		}(), 0},
	} {
		if got := linuxerr.ToErrno(op.err); got != op.want {
			t.Errorf("%s: errno %v, want %v", op.name, got, op.want)
		}
	}
	for _, c := range []struct {
		name   string
		follow bool
		mode   fs.FileMode // type bits; 0 for a regular file
		errno  linuxerr.Errno
	}{
		{"/dev/mapper/d", true, fs.ModeDir, 0},
		{"/dev/mapper/n", true, fs.ModeDevice | fs.ModeCharDevice, 0},
		{"/dev/mapper/n", false, fs.ModeSymlink, 0},
		{"/dev/mapper/ld", true, fs.ModeDir, 0},
		{"/dev/mapper/ld", false, fs.ModeSymlink, 0},
		{"/dev/mapper/d/f", true, 0, 0},
		{"/dev/mapper/x", true, 0, linuxerr.ENOENT},
		{"/dev/mapper/x", false, fs.ModeSymlink, 0},
		{"/dev/mapper/n/y", true, 0, linuxerr.ENOTDIR},
	} {
		stat := s.Stat
		if !c.follow {
			stat = s.Lstat
		}
		fi, err := stat(ctx, c.name)
		if linuxerr.ToErrno(err) != c.errno {
			t.Errorf("stat(%s, follow %v): %v, want errno %v", c.name, c.follow, err, c.errno)
			continue
		}
		if err == nil && fi.Mode().Type() != c.mode {
			t.Errorf("stat(%s, follow %v): mode %v, want %v", c.name, c.follow, fi.Mode().Type(), c.mode)
		}
	}
	ents, err := s.ReadDir(ctx, "/dev/mapper")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name()+":"+e.Type().String())
	}
	want := "[control:Dc--------- d:d--------- ld:L--------- n:L--------- x:L---------]"
	if s := fmt.Sprint(got); s != want {
		t.Errorf("ReadDir = %s, want %s", s, want)
	}
	if _, err := s.ReadDir(ctx, "/dev/mapper/none"); linuxerr.ToErrno(err) != linuxerr.ENOENT {
		t.Errorf("ReadDir of nothing: %v", err)
	}
	if err := s.Remove("/dev/mapper/ld"); err != nil {
		t.Errorf("unlink a link: %v", err)
	}
	if err := s.Remove("/dev/mapper/d"); linuxerr.ToErrno(err) != linuxerr.EISDIR {
		t.Errorf("unlink a directory: %v", err)
	}
	if _, err := s.Stat(ctx, "/dev/mapper/d/f"); err != nil {
		t.Errorf("the file went with the link: %v", err)
	}
}
