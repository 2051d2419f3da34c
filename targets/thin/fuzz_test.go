package thin

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// refKstrtoull10 is kstrtoull(s, 10) written another way, to check the
// parser against.
// An overflowing number is ERANGE even with garbage after it.
func refKstrtoull10(s string) (uint64, error) {
	s = strings.TrimPrefix(s, "+")
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, linuxerr.EINVAL
	}
	v, err := strconv.ParseUint(s[:digits], 10, 64)
	if err != nil {
		return 0, linuxerr.ERANGE
	}
	if rest := s[digits:]; rest != "" && rest != "\n" {
		return 0, linuxerr.EINVAL
	}
	return v, nil
}

func TestKstrtoull(t *testing.T) {
	for _, tc := range []struct {
		s    string
		base int
		v    uint64
		err  error
	}{
		{"0", 10, 0, nil},
		{"128", 10, 128, nil},
		{"+128", 10, 128, nil},
		{"0128", 10, 128, nil},
		{"128\n", 10, 128, nil},
		{"128\n\n", 10, 0, linuxerr.EINVAL},
		{"", 10, 0, linuxerr.EINVAL},
		{"+", 10, 0, linuxerr.EINVAL},
		{"-1", 10, 0, linuxerr.EINVAL},
		{"0x80", 10, 0, linuxerr.EINVAL},
		{"12a", 10, 0, linuxerr.EINVAL},
		{" 1", 10, 0, linuxerr.EINVAL},
		{"18446744073709551615", 10, 18446744073709551615, nil},
		{"18446744073709551616", 10, 0, linuxerr.ERANGE},
		{"0x10", 0, 16, nil},
		{"010", 0, 8, nil},
		{"09", 0, 0, linuxerr.EINVAL},
		{"0x", 0, 0, linuxerr.EINVAL},
		{"60", 0, 60, nil},
		{"60\n", 0, 60, nil},
	} {
		v, err := kstrtoull(tc.s, tc.base)
		if v != tc.v || err != tc.err {
			t.Errorf("kstrtoull(%q, %d) = %d %v, want %d %v", tc.s, tc.base, v, err, tc.v, tc.err)
		}
	}
}

func TestParseUintParam(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		err     error
	}{
		{"60", "60", nil},
		{"5\n", "5", nil},
		{"0", "0", nil},
		{"0x10", "16", nil},
		{"4294967295", "4294967295", nil},
		{"4294967296", "", linuxerr.ERANGE},
		{"-1", "", linuxerr.EINVAL},
		{"abc", "", linuxerr.EINVAL},
		{"", "", linuxerr.EINVAL},
	} {
		out, err := parseUintParam(tc.in)
		if out != tc.out || err != tc.err {
			t.Errorf("parseUintParam(%q) = %q %v, want %q %v", tc.in, out, err, tc.out, tc.err)
		}
	}
}

func FuzzKstrtoull(f *testing.F) {
	for _, s := range []string{"0", "+1", "128\n", "-1", "0x80", "18446744073709551616", "", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := kstrtoull(s, 10)
		rv, rerr := refKstrtoull10(s)
		if v != rv || err != rerr {
			t.Fatalf("kstrtoull(%q) = %d %v, reference %d %v", s, v, err, rv, rerr)
		}
		n, ok := sscanfUint(s)
		trimmed := strings.TrimLeft(s, " \t\n\v\f\r")
		if ok != (trimmed != "" && strings.Trim(trimmed, "0123456789") == "") {
			t.Fatalf("sscanfUint(%q) ok=%v", s, ok)
		}
		if ok && len(trimmed) < 10 {
			if w, _ := strconv.ParseUint(trimmed, 10, 64); uint32(w) != n {
				t.Fatalf("sscanfUint(%q) = %d", s, n)
			}
		}
	})
}

// poolCtrErrors are every ti->error pool_ctr() can leave.
var poolCtrErrors = map[string]bool{
	"Invalid argument count":                          true,
	"Error setting metadata or data device":           true,
	"Invalid number of pool feature arguments":        true,
	"Unrecognised pool feature requested":             true,
	"Error opening metadata block device":             true,
	"Error getting data device":                       true,
	"Invalid block size":                              true,
	"Invalid low water mark":                          true,
	"metadata device already in use by a pool":        true,
	"data device already in use by a pool":            true,
	"different pool cannot replace a pool":            true,
	"Error creating metadata object":                  true,
	"Discard support cannot be disabled once enabled": true,
	"Error registering metadata threshold":            true,
}

// FuzzPoolCtrArgs builds pools from arbitrary argument strings: the
// constructor must fail with one of its own texts and an errno, or build a
// pool whose table line parses back to the same pool, and never leak an
// opened device.
func FuzzPoolCtrArgs(f *testing.F) {
	for _, s := range []string{
		"/dev/vda /dev/vdb 128 16",
		"/dev/vda /dev/vdb 128 16 1 skip_block_zeroing",
		"/dev/vda /dev/vdb 128 16 4 skip_block_zeroing ignore_discard no_discard_passdown error_if_no_space",
		"/dev/vda /dev/vdb 384 0 2 read_only",
		"/dev/vda /dev/vda 128 16",
		"254:0 254:16 +0128 018446744073709551615 0 x",
		"/dev/vda /dev/vdb 128 16 2 SKIP_block_zeroing",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		h := newHarness(t)
		h.disk(8192, true)
		h.disk(131072, true)
		m, text, err := h.create("pool", 131072, poolType, args)
		if err != nil {
			if !poolCtrErrors[text] || linuxerr.ToErrno(err) == 0 {
				t.Fatalf("%q: %q %v", args, text, err)
			}
		} else {
			table := h.table(m)
			f := strings.Fields(table)
			if len(f) < 5 || f[0] != "254:0" || f[1] != "254:16" || !strings.HasSuffix(table, " ") {
				t.Fatalf("%q: table %q", args, table)
			}
			h.remove(m)
		}
		if h.gets != h.puts {
			t.Fatalf("%q: opened %d devices, released %d", args, h.gets, h.puts)
		}
	})
}

// FuzzThinCtrArgs does the same for thin_ctr().
func FuzzThinCtrArgs(f *testing.F) {
	for _, s := range []string{
		"/dev/mapper/pool 0", "/dev/mapper/pool 1", "253:0 +00", "/dev/mapper/pool 0 /dev/vdc",
		"/dev/mapper/pool 0 /dev/mapper/pool", "/dev/vdc 0", "/dev/mapper/pool 16777216",
	} {
		f.Add(s)
	}
	texts := map[string]bool{
		"Invalid argument count": true, "Error setting origin device": true, "Error opening origin device": true,
		"Error opening pool device": true, "Invalid device id": true, "Couldn't get pool mapped device": true,
		"Couldn't find pool object": true, "Couldn't open thin internal device": true,
	}
	f.Fuzz(func(t *testing.T, args string) {
		h := newHarness(t)
		h.disk(8192, true)
		h.disk(131072, true)
		h.disk(8192, true)
		pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.message(pool, "create_thin 0"); err != nil {
			t.Fatal(err)
		}
		gets, puts := h.gets, h.puts
		m, text, err := h.create("thin", 8192, thinType, args)
		if err != nil {
			if !texts[text] || linuxerr.ToErrno(err) == 0 {
				t.Fatalf("%q: %q %v", args, text, err)
			}
		} else {
			h.remove(m)
		}
		if h.gets-gets != h.puts-puts {
			t.Fatalf("%q: opened %d devices, released %d", args, h.gets-gets, h.puts-puts)
		}
	})
}

// FuzzPoolMessage sends arbitrary messages: each fails with one of the
// errnos pool_message() returns or succeeds, and the pool keeps working
// and keeps its metadata consistent.
func FuzzPoolMessage(f *testing.F) {
	for _, s := range []string{
		"create_thin 1", "create_snap 2 0", "delete 0", "set_transaction_id 0 5", "reserve_metadata_snap",
		"release_metadata_snap", "CREATE_THIN 16777215", "create_thin 16777216", "frobnicate", "delete",
		"set_transaction_id x 1", "create_snap 0 0",
	} {
		f.Add(s)
	}
	allowed := map[linuxerr.Errno]bool{0: true, linuxerr.EINVAL: true, linuxerr.EEXIST: true, linuxerr.ENODATA: true,
		linuxerr.EBUSY: true, linuxerr.ENOSPC: true}
	f.Fuzz(func(t *testing.T, msg string) {
		h := newHarness(t)
		h.disk(8192, true)
		h.disk(131072, true)
		pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.message(pool, "create_thin 0"); err != nil {
			t.Fatal(err)
		}
		for _, m := range strings.Split(msg, ";") {
			if len(strings.Fields(m)) == 0 {
				continue
			}
			if err := h.message(pool, m); !allowed[linuxerr.ToErrno(err)] {
				t.Fatalf("%q: %v", m, err)
			}
		}
		if s := h.status(pool); !strings.Contains(s, " rw ") {
			t.Fatalf("after %q: status %q", msg, s)
		}
		h.remove(pool)
		meta := h.disks["/dev/vda"].(*memDisk)
		if out, errs, code := runThinTool(t, "thin_check", meta); code != 0 {
			t.Fatalf("after %q: thin_check %d\n%s%s", msg, code, out, errs)
		}
	})
}
