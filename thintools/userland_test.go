package thintools

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/userland"
)

// TestUserlandCommands runs the registered commands the way a script or
// `dmsim thin_dump IMAGE` does, on the host file system.
func TestUserlandCommands(t *testing.T) {
	dir := t.TempDir()
	setupDir(t, dir)
	cases := []struct {
		argv []string
		want string // golden case with the same output
	}{
		{[]string{"thin_dump", "basic.img"}, "dump_basic"},
		{[]string{"thin_check", "basic.img"}, "check_basic"},
		{[]string{"thin_ls", "basic.img"}, "ls_basic"},
		{[]string{"thin_dump", "nothere.img"}, "dump_missing"},
		{[]string{"thin_check", "."}, "check_dir"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.argv, " "), func(t *testing.T) {
			cmd, ok := userland.Lookup(c.argv[0])
			if !ok || !cmd.Host {
				t.Fatalf("%s is not registered as a host command", c.argv[0])
			}
			var out, errb bytes.Buffer
			rc := userland.Run(&userland.Proc{
				Ctx: context.Background(), Stdout: &out, Stderr: &errb,
				Dir: dir, FS: userland.HostFS{},
			}, c.argv)
			compare(t, "stdout", out.String(), readGolden(t, c.want, "out"))
			compare(t, "stderr", errb.String(), readGolden(t, c.want, "err"))
			if want := strings.TrimSpace(readGolden(t, c.want, "rc")); want != strings.TrimSpace(itoa(uint64(rc))) {
				t.Errorf("exit code %d, want %s", rc, want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "basic.img")); err != nil {
		t.Fatal(err)
	}
}

// TestIsHostFile: only the host's files are read from other goroutines.
func TestIsHostFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	osf, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	hostf, err := userland.HostFS{}.OpenFile(context.Background(), p, userland.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer hostf.Close()
	dev, err := OSFS{}.OpenDevice(p, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDev(dev)
	for _, c := range []struct {
		name string
		x    any
		want bool
	}{
		{"os.File", osf, true},
		{"OSFS device", dev, true},
		{"userland.HostFS file", hostf, true},
		{"HostFS file as a tool's device", &procDevice{hostf}, true},
		{"a reader", strings.NewReader("x"), false},
		{"a memory device", blockDevice{nil}, false},
	} {
		if got := isHostFile(c.x); got != c.want {
			t.Errorf("%s: isHostFile %v, want %v", c.name, got, c.want)
		}
	}
}
