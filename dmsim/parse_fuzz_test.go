package dmsim

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// FuzzDevtFromPath checks dm_get_device's device-number parsing on every
// input: it never panics, a result names a device number that fits the
// kernel's dev_t, "M:m" forms resolve to exactly their numbers, and
// ENODEV/EOVERFLOW are the only failures.
func FuzzDevtFromPath(f *testing.F) {
	for _, s := range []string{"254:0", "/dev/vda", "/dev/vda1", "fe00", "1:2:3", "4096:0",
		"/dev/ram", "/dev/nfs", "/dev/mapper/x", "0", "", " 7: 3", "/dev/loop0p1", "0x1f"} {
		f.Add(s)
	}
	k, err := NewKernel(Config{Disks: []DiskSpec{{Path: filepath.Join(f.TempDir(), "a"), Size: 1 << 20}}})
	if err != nil {
		f.Fatal(err)
	}
	defer k.Halt()
	f.Fuzz(func(t *testing.T, s string) {
		d, err := k.devtFromPath(s)
		if err != nil {
			if err != linuxerr.ENODEV && err != linuxerr.EOVERFLOW {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		if d.Major >= 1<<12 || d.Minor >= 1<<20 {
			t.Fatalf("%q: %v does not fit a dev_t", s, d)
		}
		if pd, ok, perr := ParseDevT(s); ok && perr == nil && pd != d {
			t.Fatalf("%q: %v, ParseDevT says %v", s, d, pd)
		}
		if strings.HasPrefix(s, "/dev/") && d == (DevT{}) {
			t.Fatalf("%q: resolved to 0:0", s)
		}
	})
}

func FuzzModuleParams(f *testing.F) {
	for _, s := range []string{"1", "Y", "n", "-1", "0x10", "on", "", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []func(string) (string, error){ParamSetInt, ParamSetUint, ParamSetUlong, ParamSetBool} {
			v, err := p(s)
			if err != nil {
				continue
			}
			// The canonical text parses to itself.
			if v2, err := p(v); err != nil || v2 != v {
				t.Fatalf("%q -> %q -> %q, %v", s, v, v2, err)
			}
		}
	})
}
