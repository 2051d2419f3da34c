package flakey_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// ctrTexts are every ti->error flakey_ctr() and parse_features() set.
var ctrTexts = map[string]bool{
	"Invalid argument count":                                                     true,
	"Invalid device sector":                                                      true,
	"Invalid up interval":                                                        true,
	"Total (up + down) interval is zero":                                         true,
	"Interval overflow":                                                          true,
	"Invalid number of feature args":                                             true,
	"Insufficient feature arguments":                                             true,
	"Feature drop_writes duplicated":                                             true,
	"Feature drop_writes conflicts with feature error_writes":                    true,
	"Feature error_writes duplicated":                                            true,
	"Feature error_writes conflicts with feature drop_writes":                    true,
	"Feature corrupt_bio_byte requires parameters":                               true,
	"Invalid corrupt bio byte":                                                   true,
	"Invalid corrupt bio direction (r or w)":                                     true,
	"Invalid corrupt value to write into bio byte (0-255)":                       true,
	"Invalid corrupt bio flags mask":                                             true,
	"Unrecognised flakey feature requested":                                      true,
	"drop_writes is incompatible with corrupt_bio_byte with the WRITE flag set":  true,
	"error_writes is incompatible with corrupt_bio_byte with the WRITE flag set": true,
}

// FuzzCtr loads arbitrary flakey parameters into an inactive table. It
// checks that the constructor never panics, fails only with one of its
// texts (EINVAL, or the lookup's errno for "Device lookup failed"), and
// that a table line it accepts is canonical: loading it back gives the
// same line, whose feature count matches its words and whose intervals
// do not sum to zero.
func FuzzCtr(f *testing.F) {
	for _, s := range []string{
		"/dev/vda 0 1 1", "/dev/vda 0 0 1 1 drop_writes", "/dev/vda 8 5 5 1 error_writes",
		"/dev/vda 0 1 1 5 corrupt_bio_byte 32 r 1 0", "/dev/vda 0 1 1 6 drop_writes corrupt_bio_byte 1 r 255 131072",
		"/dev/vda 0 1 1 2 corrupt_bio_byte 1", "/dev/vda 0 1 1 4 corrupt_bio_byte 1 r 0 0",
		"/dev/vda 0 4294967295 2", "/dev/vda 0 1 1 0 extra", "254:0 0 1 1 1 DROP_WRITES",
		"/dev/vda 0 1 1 2 drop_writes error_writes", "/dev/vda x 1 1", "",
		"/dev/vda 0 1 1 6 corrupt_bio_byte 1 W 0 0 error_writes",
	} {
		f.Add(s)
	}
	m := Boot(f, 1<<20)
	if err := m.K.Modprobe("dm-flakey", nil); err != nil {
		f.Fatal(err)
	}
	if _, err := m.API.DevCreate("f", "", dmsim.IoctlFlags{}); err != nil {
		f.Fatal(err)
	}
	ref := dmsim.DevRef{Name: "f"}
	inactive := dmsim.IoctlFlags{Inactive: true}
	load := func(t *testing.T, params string) (string, error) {
		m.Log()
		_, err := m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 8, "flakey", params)}, dmsim.IoctlFlags{})
		if err != nil {
			return "", err
		}
		_, st, err := m.API.TableStatus(ref, dmsim.StatusTable, inactive)
		if err != nil || len(st) != 1 {
			t.Fatalf("%q: status %v %v", params, st, err)
		}
		if _, err := m.API.TableClear(ref); err != nil {
			t.Fatal(err)
		}
		return st[0].Params, nil
	}
	f.Fuzz(func(t *testing.T, params string) {
		line, err := load(t, table.EscapeParams(params))
		if err != nil {
			log := m.Log()
			const prefix = "<3>device-mapper: table: 253:0: flakey: "
			if len(log) == 0 || !strings.HasPrefix(log[0], prefix) {
				// The core refused the line before the constructor (e.g. a
				// table the device-area check rejects).
				return
			}
			text, errno, _ := strings.Cut(strings.TrimPrefix(log[0], prefix), " (-")
			if text == "Device lookup failed" {
				return
			}
			if !ctrTexts[text] || errno != "EINVAL)" || linuxerr.ToErrno(err) != linuxerr.EINVAL {
				t.Fatalf("%q: %v, log %q", params, err, log)
			}
			return
		}
		w := strings.Fields(line)
		if len(w) < 5 || !strings.HasSuffix(line, " ") {
			t.Fatalf("%q: table line %q", params, line)
		}
		up, _ := strconv.ParseUint(w[2], 10, 32)
		down, _ := strconv.ParseUint(w[3], 10, 32)
		if up+down == 0 || up+down > 1<<32-1 {
			t.Fatalf("%q: intervals %q", params, line)
		}
		if n, _ := strconv.Atoi(w[4]); n != len(w)-5 {
			t.Fatalf("%q: feature count in %q", params, line)
		}
		again, err := load(t, line)
		if err != nil || again != line {
			t.Fatalf("%q: %q loads back as %q (%v)", params, line, again, err)
		}
	})
}
