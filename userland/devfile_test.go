package userland

import (
	"context"
	"io"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// TestDevRegularFiles: a redirect to a name under /dev with no node makes a
// regular file there; O_TRUNC, O_APPEND and O_EXCL act on it, and a node
// is still opened as the device.
func TestDevRegularFiles(t *testing.T) {
	k, err := dmsim.NewKernel(dmsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Mknod("/dev/mapper/node", dmsim.DevT{Major: 253, Minor: 0}); err != nil {
		t.Fatal(err)
	}
	s := &SimFS{Kernel: k, Root: t.TempDir()}
	ctx := context.Background()
	write := func(name string, flag int, text string) error {
		f, err := s.OpenFile(ctx, name, flag, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.WriteString(f, text)
		return err
	}
	read := func(name string) string {
		f, err := s.OpenFile(ctx, name, O_RDONLY, 0)
		if err != nil {
			return "error: " + linuxerr.ToErrno(err).Name()
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return string(b)
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr linuxerr.Errno
		file    string
		want    string
	}{
		{"create", func() error { return write("/dev/mapper/f", O_WRONLY|O_CREATE|O_TRUNC, "one\n") }, 0, "/dev/mapper/f", "one\n"},
		{"append", func() error { return write("/dev/mapper/f", O_WRONLY|O_CREATE|O_APPEND, "two\n") }, 0, "/dev/mapper/f", "one\ntwo\n"},
		{"truncate", func() error { return write("/dev/mapper/f", O_WRONLY|O_CREATE|O_TRUNC, "3\n") }, 0, "/dev/mapper/f", "3\n"},
		{"exclusive", func() error { return write("/dev/mapper/f", O_WRONLY|O_CREATE|O_EXCL, "x") }, linuxerr.EEXIST, "/dev/mapper/f", "3\n"},
		{"no create", func() error { return write("/dev/mapper/g", O_WRONLY, "x") }, linuxerr.ENOENT, "/dev/mapper/g", "error: ENOENT"},
		{"a node is the device", func() error { return write("/dev/mapper/node", O_WRONLY|O_CREATE|O_TRUNC, "x") }, linuxerr.ENXIO, "/dev/mapper/node", "error: ENXIO"},
	}
	for _, st := range steps {
		if got := linuxerr.ToErrno(st.do()); got != st.wantErr {
			t.Errorf("%s: errno %v, want %v", st.name, got, st.wantErr)
		}
		if got := read(st.file); got != st.want {
			t.Errorf("%s: %s reads %q, want %q", st.name, st.file, got, st.want)
		}
	}
	fi, err := s.Stat(ctx, "/dev/mapper/f")
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 2 {
		t.Errorf("stat: %v, %v", fi, err)
	}
	ents, err := s.ReadDir(ctx, "/dev/mapper")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if err != nil || len(names) != 3 || names[0] != "control" || names[1] != "f" || names[2] != "node" {
		t.Errorf("readdir: %q, %v", names, err)
	}
}
