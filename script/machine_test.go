package script_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// The facade: disks and their variables, attached and kept images, extra
// environment, and a reboot that keeps what reached the disks and drops
// the kernel's state.
func TestMachine(t *testing.T) {
	const reboot = "# reboot"
	type step struct{ line, want string }
	cases := []struct {
		name  string
		cfg   func(dir string) script.Config
		steps []step
		kept  []string // files Close leaves in dir
	}{
		{
			name: "disk variables and environment",
			cfg: func(string) script.Config {
				return script.Config{Disks: []script.Disk{{Name: "meta", Size: 1 << 20}, {Name: "data", Size: 2 << 20}},
					Env: []string{"GREETING=hello"}}
			},
			steps: []step{
				{"echo $DISK_meta $DISK_data $GREETING", "/dev/vda /dev/vdb hello\n"},
				{"blockdev --getsize64 $DISK_data", "2097152\n"},
			},
		},
		{
			name: "attached image of its own size, new image kept in Dir",
			cfg: func(dir string) script.Config {
				img := filepath.Join(dir, "old.bin")
				if err := os.WriteFile(img, make([]byte, 3<<20), 0o644); err != nil {
					t.Fatal(err)
				}
				return script.Config{Dir: dir, Disks: []script.Disk{{Name: "old", Image: img}, {Name: "new", Size: 1 << 20}}}
			},
			steps: []step{
				{"blockdev --getsize64 $DISK_old", "3145728\n"},
				{"blockdev --getsize64 $DISK_new", "1048576\n"},
			},
			kept: []string{"new.img", "old.bin"},
		},
		{
			name: "reboot keeps the disks, not the devices",
			cfg: func(string) script.Config {
				return script.Config{Disks: []script.Disk{{Name: "a", Size: 1 << 20}}}
			},
			steps: []step{
				{`dmsetup create lin --table "0 2048 linear $DISK_a 0"`, ""},
				{"echo data > /tmp/f; dd if=/tmp/f of=/dev/mapper/lin conv=sync status=none oflag=direct", ""},
				{"dmsetup ls", "lin\t(253:0)\n"},
				{reboot, ""},
				{"dmsetup ls", "No devices found\n"},
				{"head -c 5 $DISK_a", "data\n"},
				{"cat /tmp/f || true", ""},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := script.NewMachine(c.cfg(dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.steps {
				if s.line == reboot {
					k := m.Kernel
					if err := m.Reboot(); err != nil {
						t.Fatal(err)
					}
					if m.Kernel == k {
						t.Fatal("reboot kept the kernel")
					}
					continue
				}
				r, err := m.Run(s.line)
				if err != nil || string(r.Stdout) != s.want {
					t.Errorf("%s: %q, %v; want %q", s.line, r.Stdout, err, s.want)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Run("true"); !errors.Is(err, script.ErrHalted) {
				t.Errorf("Run after Close: %v, want ErrHalted", err)
			}
			var kept []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				kept = append(kept, e.Name())
			}
			if strings.Join(kept, " ") != strings.Join(c.kept, " ") {
				t.Errorf("left in Dir: %q, want %q", kept, c.kept)
			}
		})
	}
}

// A failing line: an *ExitError with its status and standard error, and
// the Result filled all the same.
func TestMachineRunExitError(t *testing.T) {
	m, err := script.NewMachine(script.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := m.Run("echo out; echo oops >&2; exit 3")
	var exit *script.ExitError
	if !errors.As(err, &exit) || exit.Status != 3 || exit.Stderr != "oops\n" || err.Error() != "echo out; echo oops >&2; exit 3: exit status 3: oops" {
		t.Fatalf("error %#v (%v)", err, err)
	}
	if string(r.Stdout) != "out\n" || r.Status != 3 {
		t.Fatalf("result %+v", r)
	}
}

func TestNewMachineErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		disks []script.Disk
		want  string
	}{
		{"no name", []script.Disk{{Size: 1 << 20}}, `disk name "": empty or given twice`},
		{"twice", []script.Disk{{Name: "a", Size: 1 << 20}, {Name: "a", Size: 1 << 20}}, `disk name "a": empty or given twice`},
		{"missing image", []script.Disk{{Name: "a", Image: "/nonexistent/a.img"}}, "no such file or directory"},
	} {
		m, err := script.NewMachine(script.Config{Disks: c.disks})
		if err == nil {
			m.Close()
			t.Errorf("%s: booted", c.name)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestDiskFlag(t *testing.T) {
	var disks []script.Disk
	f := script.DiskFlag{Disks: &disks}
	for _, v := range []string{"meta=4M", "data=2T", "raw=1048576", "img=/some/image.img"} {
		if err := f.Set(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	want := []script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 2 << 40}, {Name: "raw", Size: 1 << 20},
		{Name: "img", Image: "/some/image.img"}}
	if !reflect.DeepEqual(disks, want) {
		t.Errorf("got %+v, want %+v", disks, want)
	}
	for _, bad := range []string{"meta", "=4M", "meta=", ""} {
		if err := f.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
