package delay_test

import (
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// FuzzCtr loads arbitrary delay parameters into an inactive table. The
// constructor must never panic, fail only with its own texts (EINVAL, or
// the lookup's errno for "Device lookup failed"), and give back a table
// line of 1, 2 or 3 classes as the input had 3, 6 or 9 arguments, which
// loads back unchanged.
func FuzzCtr(f *testing.F) {
	for _, s := range []string{
		"/dev/vda 0 100", "/dev/vda 0 0 /dev/vda 8 20", "/dev/vda 0 1 254:0 2 3 /dev/vda 4 5",
		"/dev/vda 0 4294967295", "/dev/vda 00 007", "/dev/vda x 0", "/dev/vda 0 x", "",
		"/dev/vda 0 0 /dev/nonexistent 0 0", "7:0 0 0", "/dev/vda 0 0 /dev/vda",
	} {
		f.Add(s)
	}
	m := Boot(f, 1<<20)
	if err := m.K.Modprobe("dm-delay", nil); err != nil {
		f.Fatal(err)
	}
	if _, err := m.API.DevCreate("d", "", dmsim.IoctlFlags{}); err != nil {
		f.Fatal(err)
	}
	ref := dmsim.DevRef{Name: "d"}
	inactive := dmsim.IoctlFlags{Inactive: true}
	load := func(t *testing.T, params string) (string, error) {
		m.Log()
		_, err := m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 8, "delay", params)}, dmsim.IoctlFlags{})
		if err != nil {
			return "", err
		}
		_, st, err := m.API.TableStatus(ref, dmsim.StatusTable, inactive)
		if err != nil || len(st) != 1 {
			t.Fatalf("%q: table %v %v", params, st, err)
		}
		_, info, err := m.API.TableStatus(ref, dmsim.StatusInfo, inactive)
		if err != nil || len(info) != 1 || info[0].Params != "0 0 0" {
			t.Fatalf("%q: status %v %v", params, info, err)
		}
		if _, err := m.API.TableClear(ref); err != nil {
			t.Fatal(err)
		}
		return st[0].Params, nil
	}
	texts := map[string]bool{
		"Requires exactly 3, 6 or 9 arguments": true,
		"Invalid device sector":                true,
		"Invalid delay":                        true,
	}
	f.Fuzz(func(t *testing.T, params string) {
		line, err := load(t, params)
		if err != nil {
			log := m.Log()
			const prefix = "<3>device-mapper: table: 253:0: delay: "
			if len(log) == 0 || !strings.HasPrefix(log[0], prefix) {
				return // refused by the core (e.g. the device-area check)
			}
			text, errno, _ := strings.Cut(strings.TrimPrefix(log[0], prefix), " (-")
			if text == "Device lookup failed" {
				return
			}
			if !texts[text] || errno != "EINVAL)" || linuxerr.ToErrno(err) != linuxerr.EINVAL {
				t.Fatalf("%q: %v, log %q", params, err, log)
			}
			return
		}
		// The parameter string is a C string in the ioctl.
		c, _, _ := strings.Cut(params, "\x00")
		n := len(table.SplitArgs(c))
		if w := strings.Fields(line); len(w) != n || strings.HasSuffix(line, " ") {
			t.Fatalf("%q (%d arguments): table line %q", params, n, line)
		}
		again, err := load(t, line)
		if err != nil || again != line {
			t.Fatalf("%q: %q loads back as %q (%v)", params, line, again, err)
		}
	})
}
