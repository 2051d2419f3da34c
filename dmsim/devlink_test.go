package dmsim

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

func TestDevDirsAndLinks(t *testing.T) {
	k, err := NewKernel(Config{})
	if err != nil {
		t.Fatal(err)
	}
	stat := func(p string, follow bool) func() error {
		return func() error { _, _, err := k.DevStat(p, follow); return err }
	}
	kind := func(p string, follow bool, want DevKind) func() error {
		return func() error {
			e, _, err := k.DevStat(p, follow)
			if err == nil && e.Kind != want {
				t.Errorf("%s: kind %d, want %d", p, e.Kind, want)
			}
			return err
		}
	}
	tests := []struct {
		name string
		op   func() error
		want linuxerr.Errno
	}{
		{"mkdir", func() error { return k.Mkdir("/dev/mapper/d") }, 0},
		{"mkdir again", func() error { return k.Mkdir("/dev/mapper/d") }, linuxerr.EEXIST},
		{"mkdir /dev/mapper", func() error { return k.Mkdir("/dev/mapper") }, linuxerr.EEXIST},
		{"mkdir without parent", func() error { return k.Mkdir("/dev/mapper/g/h") }, linuxerr.ENOENT},
		{"mkdir nested", func() error { return k.Mkdir("/dev/mapper/d/e") }, 0},
		{"mknod", func() error { return k.Mknod("/dev/mapper/node", DevT{253, 0}) }, 0},
		{"mkdir under a node", func() error { return k.Mkdir("/dev/mapper/node/x") }, linuxerr.ENOTDIR},
		{"symlink to a char device", func() error { return k.Symlink("/dev/null", "/dev/mapper/n") }, 0},
		{"symlink again", func() error { return k.Symlink("/dev/null", "/dev/mapper/n") }, linuxerr.EEXIST},
		{"empty target", func() error { return k.Symlink("", "/dev/mapper/e") }, linuxerr.ENOENT},
		{"stat follows", kind("/dev/mapper/n", true, DevChr), 0},
		{"lstat does not", kind("/dev/mapper/n", false, DevLink), 0},
		{"relative link to a dir", func() error { return k.Symlink("d", "/dev/mapper/ld") }, 0},
		{"through a dir link", kind("/dev/mapper/ld/e", false, DevDir), 0},
		{"mkdir through a dir link", func() error { return k.Mkdir("/dev/mapper/ld/f") }, 0},
		{"it is in d", kind("/dev/mapper/d/f", false, DevDir), 0},
		{"dangling link", func() error { return k.Symlink("/dev/mapper/none", "/dev/mapper/dl") }, 0},
		{"stat of a dangling link", stat("/dev/mapper/dl", true), linuxerr.ENOENT},
		{"lstat of a dangling link", stat("/dev/mapper/dl", false), 0},
		{"mknod over a dangling link", func() error { return k.Mknod("/dev/mapper/dl", DevT{253, 1}) }, linuxerr.EEXIST},
		{"loop a", func() error { return k.Symlink("b", "/dev/mapper/a") }, 0},
		{"loop b", func() error { return k.Symlink("a", "/dev/mapper/b") }, 0},
		{"stat of a loop", stat("/dev/mapper/a", true), linuxerr.ELOOP},
		{"link to a block node", func() error { return k.Symlink("node", "/dev/mapper/ln") }, 0},
		{"lookup_bdev follows", func() error { _, err := k.lookupDevT("/dev/mapper/ln"); return err }, 0},
		{"unlink a directory", func() error { return k.Unlink("/dev/mapper/d") }, linuxerr.EISDIR},
		{"unlink a link", func() error { return k.Unlink("/dev/mapper/ln") }, 0},
		{"the node stays", kind("/dev/mapper/node", false, DevBlk), 0},
		{"rename a node", func() error { return k.Rename("/dev/mapper/node", "/dev/mapper/node2") }, 0},
		{"rename onto a directory", func() error { return k.Rename("/dev/mapper/node2", "/dev/mapper/d") }, linuxerr.EISDIR},
		{"rename nothing", func() error { return k.Rename("/dev/mapper/node", "/dev/mapper/x") }, linuxerr.ENOENT},
		{"rename onto a link", func() error { return k.Rename("/dev/mapper/node2", "/dev/mapper/dl") }, 0},
		{"the node moved", kind("/dev/mapper/dl", false, DevBlk), 0},
	}
	for _, tt := range tests {
		if got := linuxerr.ToErrno(tt.op()); got != tt.want {
			t.Errorf("%s: errno %v, want %v", tt.name, got, tt.want)
		}
	}
	// getdents: newest first (a rename is a new entry)
	names, err := k.DevReadDir("/dev/mapper")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dl", "b", "a", "ld", "n", "d"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("DevReadDir = %q, want %q", names, want)
	}
	if names, _ := k.DevReadDir("/dev/mapper/ld"); !reflect.DeepEqual(names, []string{"f", "e"}) {
		t.Errorf("DevReadDir through a link = %q", names)
	}
	if _, err := k.DevReadDir("/dev/mapper/n"); linuxerr.ToErrno(err) != linuxerr.ENOTDIR {
		t.Errorf("DevReadDir of a char device: %v", err)
	}
	// a link out of /dev ends there
	k.Symlink("/tmp/x", "/dev/mapper/out")
	if _, r, err := k.DevStat("/dev/mapper/out", true); err != nil || r != "/tmp/x" {
		t.Errorf("link out of /dev: %q, %v", r, err)
	}
}

// FuzzDevResolve makes links and directories from the input and looks paths
// up: no panic, no hang (link loops are ELOOP).
func FuzzDevResolve(f *testing.F) {
	f.Add("l a b\nl b a\ns a\nd x\nl x/y ../x\ns x/y/y/y")
	f.Add("l ../../.. r\ns r/dev/mapper\nd /dev/mapper/q/\nl . z\ns z/z/z")
	f.Fuzz(func(t *testing.T, script string) {
		k, err := NewKernel(Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(script, "\n") {
			w := strings.Fields(line)
			if len(w) < 2 {
				continue
			}
			p := "/dev/mapper/" + w[1]
			switch w[0] {
			case "l":
				if len(w) > 2 {
					k.Symlink(w[2], p)
				}
			case "d":
				k.Mkdir(p)
			case "s":
				k.DevStat(p, true)
				k.DevStat(p, false)
				k.DevEntries(p)
				k.Unlink(p)
			}
		}
	})
}
