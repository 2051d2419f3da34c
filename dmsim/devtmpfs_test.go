package dmsim

import (
	"reflect"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

func TestDevFiles(t *testing.T) {
	k, err := NewKernel(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Mknod("/dev/mapper/node", DevT{253, 0}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		op   func() error
		want linuxerr.Errno
	}{
		{"create a file", func() error { _, err := k.CreateDevFile("/dev/mapper/f"); return err }, 0},
		{"create it again", func() error { _, err := k.CreateDevFile("/dev/mapper/f"); return err }, linuxerr.EEXIST},
		{"create over a node", func() error { _, err := k.CreateDevFile("/dev/mapper/node"); return err }, linuxerr.EEXIST},
		{"create outside /dev", func() error { _, err := k.CreateDevFile("/dev/x/f"); return err }, linuxerr.ENOENT},
		{"mknod over a file", func() error { return k.Mknod("/dev/mapper/f", DevT{253, 1}) }, linuxerr.EEXIST},
		{"create another", func() error { _, err := k.CreateDevFile("/dev/mapper/e"); return err }, 0},
		{"unlink a file", func() error { return k.Unlink("/dev/mapper/e") }, 0},
		{"unlink it again", func() error { return k.Unlink("/dev/mapper/e") }, linuxerr.ENOENT},
	}
	for _, tt := range tests {
		if got := linuxerr.ToErrno(tt.op()); got != tt.want {
			t.Errorf("%s: errno %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := k.DevFileNames("/dev/mapper"); !reflect.DeepEqual(got, []string{"f"}) {
		t.Errorf("DevFileNames = %q", got)
	}
	if _, ok := k.DevNodes("/dev/mapper")["f"]; ok {
		t.Error("a regular file listed as a node")
	}
	f := k.DevFile("/dev/mapper/f")
	f.WriteAt([]byte("abc"), 2)
	buf := make([]byte, 8)
	if n := f.ReadAt(buf, 0); n != 5 || string(buf[:n]) != "\x00\x00abc" {
		t.Errorf("read %q", buf[:n])
	}
	f.Truncate(1)
	if f.Size() != 1 {
		t.Errorf("size %d after truncate", f.Size())
	}
}
