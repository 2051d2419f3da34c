package thin

import (
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

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
		h := boot(t, vd(8192, false), vd(131072, false))
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
		checkReleased(t, h, "/dev/vda", "/dev/vdb")
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
		h := boot(t, vd(8192, false), vd(131072, false), vd(8192, false))
		pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.message(pool, "create_thin 0"); err != nil {
			t.Fatal(err)
		}
		paths := []string{"/dev/mapper/pool", "/dev/vdc"}
		before := openCounts(h, paths...)
		m, text, err := h.create("thin", 8192, thinType, args)
		if err != nil {
			if !texts[text] || linuxerr.ToErrno(err) == 0 {
				t.Fatalf("%q: %q %v", args, text, err)
			}
		} else {
			h.remove(m)
		}
		if after := openCounts(h, paths...); !slices.Equal(after, before) {
			t.Fatalf("%q: open counts of %q: %v, before %v", args, paths, after, before)
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
		h := boot(t, vd(8192, false), vd(131072, false))
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
		meta := h.disk("/dev/vda")
		if out, errs, code := runThinTool(t, "thin_check", meta); code != 0 {
			t.Fatalf("after %q: thin_check %d\n%s%s", msg, code, out, errs)
		}
	})
}
