package flakey_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/flakey"
	_ "github.com/dmsim/dmsim/targets/linear"
)

func boot(t *testing.T) *Env {
	t.Helper()
	m := Boot(t, 4<<20, 4<<20)
	if err := m.K.Modprobe("dm-flakey", nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModule(t *testing.T) {
	m := BootConfig(t, dmsim.Config{}, 1<<20)
	if m.K.ModuleLoaded("dm_flakey") {
		t.Fatal("loaded at boot")
	}
	// A table naming flakey loads the module (request_module("dm-flakey")).
	m.MustCreate("f", Spec(0, 8, "flakey", "/dev/vda 0 1 0"))
	if !m.K.ModuleLoaded("dm-flakey") {
		t.Fatal("not loaded by the table lookup")
	}
	if v := m.API.ListVersions(); v[0].Name != "flakey" || v[0].Version != [3]uint32{1, 5, 0} {
		t.Fatalf("%v", v)
	}
}

// TestConstructorErrors covers every error of flakey_ctr() and
// parse_features() in 6.1, in the order the kernel checks them.
func TestConstructorErrors(t *testing.T) {
	m := boot(t)
	tests := []struct {
		params string
		err    linuxerr.Errno
		text   string
	}{
		{"", linuxerr.EINVAL, "Invalid argument count"},
		{"/dev/vda 0 1", linuxerr.EINVAL, "Invalid argument count"},
		{"/dev/vda x 1 1", linuxerr.EINVAL, "Invalid device sector"},
		{"/dev/vda -1 1 1", linuxerr.EINVAL, "Invalid device sector"},
		{"/dev/vda 1x 1 1", linuxerr.EINVAL, "Invalid device sector"},
		{"/dev/vda 0 x 1", linuxerr.EINVAL, "Invalid up interval"},
		{"/dev/vda 0 -1 1", linuxerr.EINVAL, "Invalid up interval"},
		// The down interval is read with the up interval's dm_arg.
		{"/dev/vda 0 1 x", linuxerr.EINVAL, "Invalid up interval"},
		{"/dev/vda 0 1 1x", linuxerr.EINVAL, "Invalid up interval"},
		{"/dev/vda 0 0 0", linuxerr.EINVAL, "Total (up + down) interval is zero"},
		// 32-bit: 2^31 + 2^31 wraps to 0; 4294967296 is read as 0.
		{"/dev/vda 0 2147483648 2147483648", linuxerr.EINVAL, "Total (up + down) interval is zero"},
		{"/dev/vda 0 4294967296 0", linuxerr.EINVAL, "Total (up + down) interval is zero"},
		{"/dev/vda 0 4294967295 1", linuxerr.EINVAL, "Total (up + down) interval is zero"},
		{"/dev/vda 0 4294967295 2", linuxerr.EINVAL, "Interval overflow"},
		{"/dev/vda 0 3 4294967294", linuxerr.EINVAL, "Interval overflow"},
		{"/dev/vda 0 1 1 x", linuxerr.EINVAL, "Invalid number of feature args"},
		{"/dev/vda 0 1 1 7", linuxerr.EINVAL, "Invalid number of feature args"},
		{"/dev/vda 0 1 1 2 drop_writes", linuxerr.EINVAL, "Invalid number of feature args"},
		{"/dev/vda 0 1 1 1 bogus", linuxerr.EINVAL, "Unrecognised flakey feature requested"},
		{"/dev/vda 0 1 1 1 random_read_corrupt", linuxerr.EINVAL, "Unrecognised flakey feature requested"},
		{"/dev/vda 0 1 1 1 error_reads", linuxerr.EINVAL, "Unrecognised flakey feature requested"},
		{"/dev/vda 0 1 1 2 drop_writes drop_writes", linuxerr.EINVAL, "Feature drop_writes duplicated"},
		{"/dev/vda 0 1 1 2 error_writes ERROR_WRITES", linuxerr.EINVAL, "Feature error_writes duplicated"},
		{"/dev/vda 0 1 1 2 error_writes drop_writes", linuxerr.EINVAL, "Feature drop_writes conflicts with feature error_writes"},
		{"/dev/vda 0 1 1 2 drop_writes error_writes", linuxerr.EINVAL, "Feature error_writes conflicts with feature drop_writes"},
		{"/dev/vda 0 1 1 1 corrupt_bio_byte", linuxerr.EINVAL, "Feature corrupt_bio_byte requires parameters"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 0 r 0 0", linuxerr.EINVAL, "Invalid corrupt bio byte"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte x r 0 0", linuxerr.EINVAL, "Invalid corrupt bio byte"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 1 x 0 0", linuxerr.EINVAL, "Invalid corrupt bio direction (r or w)"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 1 rw 0 0", linuxerr.EINVAL, "Invalid corrupt bio direction (r or w)"},
		// The group is short: the direction is missing altogether.
		{"/dev/vda 0 1 1 2 corrupt_bio_byte 1", linuxerr.EINVAL, "Invalid corrupt bio direction (r or w)"},
		{"/dev/vda 0 1 1 3 corrupt_bio_byte 1 r", linuxerr.EINVAL, "Invalid corrupt value to write into bio byte (0-255)"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 1 r 256 0", linuxerr.EINVAL, "Invalid corrupt value to write into bio byte (0-255)"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 1 r -1 0", linuxerr.EINVAL, "Invalid corrupt value to write into bio byte (0-255)"},
		{"/dev/vda 0 1 1 4 corrupt_bio_byte 1 r 0", linuxerr.EINVAL, "Invalid corrupt bio flags mask"},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 1 r 0 x", linuxerr.EINVAL, "Invalid corrupt bio flags mask"},
		// A short group whose parameters follow it: the unsigned count
		// wraps and parsing runs off the end of the table line.
		{"/dev/vda 0 1 1 2 corrupt_bio_byte 1 r 0 0", linuxerr.EINVAL, "Insufficient feature arguments"},
		{"/dev/vda 0 1 1 4 corrupt_bio_byte 1 r 0 0", linuxerr.EINVAL, "Insufficient feature arguments"},
		{"/dev/vda 0 1 1 4 corrupt_bio_byte 1 r 0 0 drop_writes bogus", linuxerr.EINVAL, "Unrecognised flakey feature requested"},
		{"/dev/vda 0 1 1 6 drop_writes corrupt_bio_byte 1 w 0 0", linuxerr.EINVAL, "drop_writes is incompatible with corrupt_bio_byte with the WRITE flag set"},
		{"/dev/vda 0 1 1 6 corrupt_bio_byte 1 W 0 0 error_writes", linuxerr.EINVAL, "error_writes is incompatible with corrupt_bio_byte with the WRITE flag set"},
		// The device is looked up after the features.
		{"/dev/nonexistent 0 1 1 1 bogus", linuxerr.EINVAL, "Unrecognised flakey feature requested"},
		{"/dev/nonexistent 0 1 1", linuxerr.ENODEV, "Device lookup failed"},
		{"7:0 0 1 1", linuxerr.ENXIO, "Device lookup failed"},
	}
	for _, tc := range tests {
		_, err := m.Create("bad", Spec(0, 8, "flakey", tc.params))
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("%q: %v, want %v", tc.params, err, tc.err)
		}
		m.ExpectLog("<3>device-mapper: table: 253:0: flakey: "+tc.text+" (-"+errnoName(tc.err)+")",
			"<3>device-mapper: ioctl: error adding target to table")
	}
}

func errnoName(e linuxerr.Errno) string {
	switch e {
	case linuxerr.EINVAL:
		return "EINVAL"
	case linuxerr.ENODEV:
		return "ENODEV"
	case linuxerr.ENXIO:
		return "ENXIO"
	}
	return e.Error()
}

// TestTableLines checks flakey_status(): the table line has a space after
// every word and the feature count; features are printed in a fixed order
// and spelling whatever the input; INFO is empty.
func TestTableLines(t *testing.T) {
	m := boot(t)
	tests := []struct{ params, table string }{
		{"/dev/vda 0 1 1", "254:0 0 1 1 0 "},
		{"/dev/vda 16 0 5 0", "254:0 16 0 5 0 "},
		{"254:16 8 3 4294967292", "254:16 8 3 4294967292 0 "},
		{"/dev/vda 0 1 1 1 DROP_WRITES", "254:0 0 1 1 1 drop_writes "},
		{"/dev/vda 0 1 1 1 error_writes", "254:0 0 1 1 1 error_writes "},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 32 R 1 0", "254:0 0 1 1 5 corrupt_bio_byte 32 r 1 0 "},
		{"/dev/vda 0 1 1 6 drop_writes corrupt_bio_byte 1 r 255 131072", "254:0 0 1 1 6 drop_writes corrupt_bio_byte 1 r 255 131072 "},
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 7 w 0 1", "254:0 0 1 1 5 corrupt_bio_byte 7 w 0 1 "},
		// Arguments after a full feature group are ignored.
		{"/dev/vda 0 1 1 5 corrupt_bio_byte 7 w 0 1 corrupt_bio_byte 9 r 2 0", "254:0 0 1 1 5 corrupt_bio_byte 7 w 0 1 "},
		// Arguments after the feature group are ignored.
		{"/dev/vda 0 1 1 0 extra", "254:0 0 1 1 0 "},
		// Leading whitespace is sscanf's; 2^32+1 is read as 1.
		{"/dev/vda 0 4294967297 1", "254:0 0 1 1 0 "},
	}
	for _, tc := range tests {
		m.MustCreate("f", Spec(0, 64, "flakey", tc.params))
		if got := m.StatusLines("f", dmsim.StatusTable); got[0] != "0 64 flakey "+tc.table {
			t.Errorf("%q: table %q, want %q", tc.params, got[0], tc.table)
		}
		if got := m.StatusLines("f", dmsim.StatusInfo); got[0] != "0 64 flakey " {
			t.Errorf("%q: status %q", tc.params, got[0])
		}
		if _, err := m.API.DevRemove(dmsim.DevRef{Name: "f"}, dmsim.IoctlFlags{}); err != nil {
			t.Fatal(err)
		}
	}
	m.ExpectLog()
}

// sleepUntil advances the virtual clock to d since boot.
func sleepUntil(m *Env, d time.Duration) {
	m.T.Helper()
	if now := m.Now(); d > now {
		if err := m.K.Clock.Sleep(context.Background(), d-now); err != nil {
			m.T.Fatal(err)
		}
	}
}

type ioCase struct {
	op    dmsim.Op
	flags dmsim.BioFlags
	err   linuxerr.Errno // 0: success
}

func doIO(m *Env, c ioCase, sector uint64, data []byte) error {
	dev := m.Bdev("/dev/dm-0")
	if c.op == dmsim.OpDiscard || c.op == dmsim.OpFlush {
		data = nil
	}
	bio := dmsim.NewBio(c.op, dev, sector, data, nil)
	bio.Flags = c.flags
	if c.op == dmsim.OpDiscard {
		bio.Sectors = 8
	}
	if c.op == dmsim.OpFlush {
		bio.Flags |= dmsim.ReqPreflush
	}
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

// TestUpDown checks flakey_map() over the up and down intervals, for each
// feature set, and what reaches the disk.
func TestUpDown(t *testing.T) {
	tests := []struct {
		features string
		down     []ioCase
		// written: whether a write while down reaches the disk.
		written bool
	}{
		{"", []ioCase{{dmsim.OpRead, 0, linuxerr.EIO}, {dmsim.OpWrite, 0, linuxerr.EIO},
			{dmsim.OpFlush, 0, linuxerr.EIO}, {dmsim.OpDiscard, 0, linuxerr.EIO}}, false},
		{" 0", []ioCase{{dmsim.OpRead, 0, linuxerr.EIO}, {dmsim.OpWrite, 0, linuxerr.EIO}}, false},
		{" 1 drop_writes", []ioCase{{dmsim.OpRead, 0, 0}, {dmsim.OpWrite, 0, 0},
			{dmsim.OpFlush, 0, 0}, {dmsim.OpDiscard, 0, 0}}, false},
		{" 1 error_writes", []ioCase{{dmsim.OpRead, 0, 0}, {dmsim.OpWrite, 0, linuxerr.EIO},
			{dmsim.OpFlush, 0, linuxerr.EIO}, {dmsim.OpDiscard, 0, linuxerr.EIO}}, false},
		{" 5 corrupt_bio_byte 1 r 0 0", []ioCase{{dmsim.OpRead, 0, 0}, {dmsim.OpWrite, 0, 0},
			{dmsim.OpFlush, 0, 0}, {dmsim.OpDiscard, 0, 0}}, true},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSpace(tc.features), func(t *testing.T) {
			m := boot(t)
			m.Write("/dev/vda", 0, Pattern('o', 4096))
			// Loaded at 0: up for [0s, 2s), down for [2s, 5s), up again at 5s.
			m.MustCreate("f", Spec(0, 64, "flakey", "/dev/vda 0 2 3"+tc.features))
			m.Write("/dev/dm-0", 0, Pattern('u', 512))
			sleepUntil(m, 1999*time.Millisecond)
			if err := m.IO(dmsim.OpRead, m.Bdev("/dev/dm-0"), 0, make([]byte, 512)); err != nil {
				t.Fatalf("read just before down: %v", err)
			}
			sleepUntil(m, 2*time.Second)
			for _, c := range tc.down {
				sector := uint64(8)
				if c.op == dmsim.OpDiscard {
					sector = 40
				}
				err := doIO(m, c, sector, Pattern('d', 512))
				if linuxerr.ToErrno(err) != c.err {
					t.Errorf("%s while down: %v, want %v", c.op, err, c.err)
				}
			}
			got := m.Read("/dev/vda", 8, 512)
			if tc.written != bytes.Equal(got, Pattern('d', 512)) {
				t.Errorf("write while down reached the disk: %v, want %v", !tc.written, tc.written)
			}
			sleepUntil(m, 4999*time.Millisecond)
			if err := m.IO(dmsim.OpWrite, m.Bdev("/dev/dm-0"), 16, Pattern('e', 512)); tc.features == "" && err == nil {
				t.Fatal("write at the end of the down interval succeeded")
			}
			sleepUntil(m, 5*time.Second)
			m.Write("/dev/dm-0", 24, Pattern('v', 512))
			if got := m.Read("/dev/vda", 24, 512); !bytes.Equal(got, Pattern('v', 512)) {
				t.Fatal("write after the down interval")
			}
		})
	}
}

// TestJiffies checks that the intervals count whole seconds of jiffies (4ms
// at HZ=250) from the jiffy the table was loaded in.
func TestJiffies(t *testing.T) {
	tests := []struct {
		load     time.Duration // virtual time of the load
		up, down time.Duration // last instant still up, first instant down
	}{
		{2 * time.Millisecond, 999 * time.Millisecond, 1000 * time.Millisecond},
		{4 * time.Millisecond, 1003 * time.Millisecond, 1004 * time.Millisecond},
		{7 * time.Millisecond, 1003 * time.Millisecond, 1004 * time.Millisecond},
	}
	for _, tc := range tests {
		m := boot(t)
		sleepUntil(m, tc.load)
		m.MustCreate("f", Spec(0, 8, "flakey", "/dev/vda 0 1 1"))
		sleepUntil(m, tc.up)
		if err := m.IO(dmsim.OpRead, m.Bdev("/dev/dm-0"), 0, make([]byte, 512)); err != nil {
			t.Errorf("load %v: read at %v: %v", tc.load, tc.up, err)
		}
		sleepUntil(m, tc.down)
		if err := m.IO(dmsim.OpRead, m.Bdev("/dev/dm-0"), 0, make([]byte, 512)); linuxerr.ToErrno(err) != linuxerr.EIO {
			t.Errorf("load %v: read at %v: %v, want EIO", tc.load, tc.down, err)
		}
	}
}

// TestAlwaysDown: an up interval of 0 fails I/O from the start.
func TestAlwaysDown(t *testing.T) {
	m := boot(t)
	m.MustCreate("f", Spec(0, 8, "flakey", "/dev/vda 0 0 1"))
	if err := m.IO(dmsim.OpRead, m.Bdev("/dev/dm-0"), 0, make([]byte, 512)); linuxerr.ToErrno(err) != linuxerr.EIO {
		t.Fatal(err)
	}
	sleepUntil(m, 100*time.Second)
	if err := m.IO(dmsim.OpWrite, m.Bdev("/dev/dm-0"), 0, make([]byte, 512)); linuxerr.ToErrno(err) != linuxerr.EIO {
		t.Fatal(err)
	}
}

// TestCorrupt checks corrupt_bio_byte: the byte (1-based) of each matching
// bio while down, for reads in what the reader gets, for writes in what
// reaches the disk and, as the kernel corrupts in place, in the writer's
// buffer too; <flags> must all be set in bi_opf (op in the low bits,
// REQ_FUA 1<<17, REQ_PREFLUSH 1<<18). Reads are corrupted only over a
// device that completes bios without advancing their iterator (a RAM
// disk, another dm device); over a virtio disk or a loop device they come
// back intact (recorded in scripts/flakey-basic.sh).
func TestCorrupt(t *testing.T) {
	tests := []struct {
		name     string
		below    string // "ram", "dm", "loop", or "" for the virtio disk
		features string
		op       dmsim.Op
		flags    dmsim.BioFlags
		size     int
		at       int // corrupted byte offset, or -1
	}{
		{"read", "ram", "5 corrupt_bio_byte 1 r 120 0", dmsim.OpRead, 0, 512, 0},
		{"read over dm", "dm", "5 corrupt_bio_byte 1 r 120 0", dmsim.OpRead, 0, 512, 0},
		{"read over the disk", "", "5 corrupt_bio_byte 1 r 120 0", dmsim.OpRead, 0, 512, -1},
		{"read over loop", "loop", "5 corrupt_bio_byte 1 r 120 0", dmsim.OpRead, 0, 512, -1},
		{"read byte 512", "ram", "5 corrupt_bio_byte 512 r 120 0", dmsim.OpRead, 0, 512, 511},
		{"read too short", "ram", "5 corrupt_bio_byte 513 r 120 0", dmsim.OpRead, 0, 512, -1},
		{"read in second page", "ram", "5 corrupt_bio_byte 5000 r 120 0", dmsim.OpRead, 0, 8192, 4999},
		{"read, write corruption", "ram", "5 corrupt_bio_byte 1 w 120 0", dmsim.OpRead, 0, 512, -1},
		{"read, flags need write op", "ram", "5 corrupt_bio_byte 1 r 120 1", dmsim.OpRead, 0, 512, -1},
		{"write", "", "5 corrupt_bio_byte 3 w 120 0", dmsim.OpWrite, 0, 512, 2},
		{"write to ram", "ram", "5 corrupt_bio_byte 3 w 120 0", dmsim.OpWrite, 0, 512, 2},
		{"write to loop", "loop", "5 corrupt_bio_byte 3 w 120 0", dmsim.OpWrite, 0, 512, 2},
		{"write, op flag", "", "5 corrupt_bio_byte 3 w 120 1", dmsim.OpWrite, 0, 512, 2},
		{"write, FUA wanted", "", "5 corrupt_bio_byte 3 w 120 131072", dmsim.OpWrite, 0, 512, -1},
		{"FUA write, FUA wanted", "", "5 corrupt_bio_byte 3 w 120 131072", dmsim.OpWrite, dmsim.ReqFUA, 512, 2},
		{"write, read corruption", "", "5 corrupt_bio_byte 3 r 120 0", dmsim.OpWrite, 0, 512, -1},
		{"read with drop_writes", "ram", "6 drop_writes corrupt_bio_byte 2 r 120 0", dmsim.OpRead, 0, 512, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Boot(t, 1<<20)
			if err := m.K.Modprobe("dm-flakey", nil); err != nil {
				t.Fatal(err)
			}
			dev := "/dev/vda"
			switch tc.below {
			case "ram":
				if err := m.K.Modprobe("brd", map[string]string{"rd_nr": "1", "rd_size": "1024"}); err != nil {
					t.Fatal(err)
				}
				dev = "/dev/ram0"
			case "dm":
				m.MustCreate("lin", Spec(0, 2048, "linear", "/dev/vda 0"))
				dev = "/dev/dm-0"
			case "loop":
				if err := m.K.Modprobe("loop", nil); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "backing")
				if err := os.WriteFile(file, make([]byte, 1<<20), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := m.K.LoopSetFile(0, file, false); err != nil {
					t.Fatal(err)
				}
				dev = "/dev/loop0"
			}
			disk := Pattern('o', tc.size)
			m.Write(dev, 16, disk)
			info := m.MustCreate("f", Spec(0, 64, "flakey", dev+" 16 0 1 "+tc.features))
			buf := Pattern('o', tc.size)
			bio := dmsim.NewBio(tc.op, m.Bdev(fmt.Sprintf("/dev/dm-%d", info.Dev.Minor)), 0, buf, nil)
			bio.Flags = tc.flags
			if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
				t.Fatal(err)
			}
			want := Pattern('o', tc.size)
			if tc.at >= 0 {
				want[tc.at] = 120
			}
			var got []byte
			if tc.op == dmsim.OpRead {
				got = buf
				if !bytes.Equal(m.Read(dev, 16, tc.size), disk) {
					t.Fatal("a read changed the disk")
				}
			} else {
				got = m.Read(dev, 16, tc.size)
				if i := firstDiff(buf, want); i >= 0 {
					t.Fatalf("writer's buffer: byte %d is %d, want %d", i, buf[i], want[i])
				}
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("byte %d is %d, want %d", i, got[i], want[i])
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestStacking: flakey advertises what its device supports and remaps
// with its offset while up.
func TestStacking(t *testing.T) {
	m := boot(t)
	m.MustCreate("f", Spec(0, 64, "flakey", "/dev/vdb 100 60 60"))
	m.Write("/dev/dm-0", 5, Pattern('z', 512))
	if got := m.Read("/dev/vdb", 105, 512); !bytes.Equal(got, Pattern('z', 512)) {
		t.Fatal("offset mapping")
	}
	if err := doIO(m, ioCase{op: dmsim.OpDiscard}, 5, nil); err != nil {
		t.Fatal(err)
	}
	if got := m.Read("/dev/vdb", 105, 512); !bytes.Equal(got, make([]byte, 512)) {
		t.Fatal("discard did not reach the disk")
	}
	if err := doIO(m, ioCase{op: dmsim.OpFlush}, 0, nil); err != nil {
		t.Fatal(err)
	}
	_, deps, err := m.API.TableDeps(dmsim.DevRef{Name: "f"}, dmsim.IoctlFlags{})
	if err != nil || len(deps) != 1 {
		t.Fatalf("deps %v %v", deps, err)
	}
	// The device-area check sees offset and length.
	if _, err := m.Create("g", Spec(0, 64, "flakey", "/dev/vdb 8190 1 1")); linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Fatal(err)
	}
}
