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
