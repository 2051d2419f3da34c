package thin

import (
	"crypto/md5"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// TestKernelExample replays the thin-pool part of the Linux 6.1 recording
// (../shared/spec/kernel-example.txt) against the targets and the real
// thinmeta, and checks every status and table line, log line and errno it
// shows.
func TestKernelExample(t *testing.T) {
	h := boot(t, vd(8192, false), vd(131072, false))
	h.think = thinkTime
	meta := h.disk("/dev/vda")

	pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	checkLogs := func(what string, want ...string) {
		t.Helper()
		got := h.logs()
		if !slices.Equal(got, want) {
			t.Errorf("%s: log\n got %q\nwant %q", what, got, want)
		}
	}
	check("pool status", h.status(pool), "0 111/1024 0/1024 - rw discard_passdown queue_if_no_space - 256 ")
	check("pool table", h.table(pool), "254:0 254:16 128 16 0 ")
	checkLogs("create pool")

	if err := h.message(pool, "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	thin0, _, err := h.create("thin0", 2097152, thinType, "/dev/mapper/pool 0")
	if err != nil {
		t.Fatal(err)
	}
	check("thin0 status", h.status(thin0), "0 -")
	check("thin0 table", h.table(thin0), "253:0 0")
	check("pool status", h.status(pool), "0 112/1024 0/1024 - rw discard_passdown queue_if_no_space - 256 ")

	// 4 x 64 KiB at 0, 64 KiB at 10 MiB, 4 KiB at 20 MiB
	for i := 0; i < 4; i++ {
		if err := h.write(thin0, uint64(i)*128, fill('A', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.write(thin0, 160*128, fill('B', 65536)); err != nil {
		t.Fatal(err)
	}
	if err := h.write(thin0, 5120*8, fill('C', 4096)); err != nil {
		t.Fatal(err)
	}
	check("thin0 status", h.status(thin0), "768 41087")
	check("pool status", h.status(pool), "0 112/1024 6/1024 - rw discard_passdown queue_if_no_space - 256 ")
	b, err := h.read(thin0, 320*128, 65536)
	if err != nil {
		t.Fatal(err)
	}
	check("md5 of block 320", fmt.Sprintf("%x", md5.Sum(b)), "430df9ae850120459e7fc7dba1008f20")
	b, err = h.read(thin0, 5120*8, 8192)
	if err != nil {
		t.Fatal(err)
	}
	check("4K at 20M", string(b[:4096]), string(fill('C', 4096)))
	check("zeroes after it", string(b[4096:]), string(make([]byte, 4096)))

	// snapshot with the origin suspended
	thin0.suspend()
	check("thin0 suspended status", h.status(thin0), "768 41087")
	if err := h.message(pool, "create_snap 1 0"); err != nil {
		t.Fatal(err)
	}
	if err := thin0.resume(); err != nil {
		t.Fatal(err)
	}
	snap1, _, err := h.create("snap1", 2097152, thinType, "/dev/mapper/pool 1")
	if err != nil {
		t.Fatal(err)
	}
	check("snap1 status", h.status(snap1), "768 41087")
	check("pool status", h.status(pool), "0 112/1024 6/1024 - rw discard_passdown queue_if_no_space - 256 ")
	if err := h.write(snap1, 0, fill('D', 65536)); err != nil {
		t.Fatal(err)
	}
	if err := h.write(snap1, 1000*128, fill('E', 65536)); err != nil {
		t.Fatal(err)
	}
	check("snap1 status", h.status(snap1), "896 128127")
	check("thin0 status", h.status(thin0), "768 41087")
	check("pool status", h.status(pool), "0 113/1024 8/1024 - rw discard_passdown queue_if_no_space - 256 ")
	b, _ = h.read(thin0, 0, 65536)
	check("thin0 block 0", string(b[:8]), "A\nA\nA\nA\n")
	b, _ = h.read(snap1, 0, 65536)
	check("snap1 block 0", string(b[:8]), "D\nD\nD\nD\n")
	checkLogs("writes")

	// transaction id and metadata snapshot
	if err := h.message(pool, "set_transaction_id 0 1"); err != nil {
		t.Fatal(err)
	}
	check("pool status", h.status(pool), "1 113/1024 8/1024 - rw discard_passdown queue_if_no_space - 256 ")
	if err := h.message(pool, "set_transaction_id 0 2"); err != linuxerr.EINVAL && linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Errorf("set_transaction_id 0 2: %v", err)
	}
	checkLogs("set_transaction_id 0 2",
		"<3>device-mapper: thin metadata: mismatched transaction id",
		"<4>device-mapper: thin: Failed to change transaction id from 0 to 2.")
	if err := h.message(pool, "reserve_metadata_snap"); err != nil {
		t.Fatal(err)
	}
	check("pool status", h.status(pool), "1 114/1024 8/1024 57 rw discard_passdown queue_if_no_space - 256 ")
	if err := h.message(pool, "reserve_metadata_snap"); linuxerr.ToErrno(err) != linuxerr.EBUSY {
		t.Errorf("second reserve_metadata_snap: %v", err)
	}
	checkLogs("reserve twice",
		"<4>device-mapper: thin metadata: Pool metadata snapshot already exists: release this before taking another.",
		"<4>device-mapper: thin: reserve_metadata_snap message failed.")
	// thin_dump -m reads the held snapshot from the live metadata device.
	if out, errs, code := runThinTool(t, "thin_dump", meta, "-m"); code != 0 || out != kernelDumpM {
		t.Errorf("thin_dump -m: exit %d %s\n%s\nwant\n%s", code, errs, out, kernelDumpM)
	}
	if err := h.message(pool, "release_metadata_snap"); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runThinTool(t, "thin_dump", meta, "-m"); code != 1 || out != "" || errs != "no current metadata snap\n" {
		t.Errorf("thin_dump -m without a snapshot: exit %d %q %q", code, out, errs)
	}
	if err := h.message(pool, "release_metadata_snap"); linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Errorf("second release_metadata_snap: %v", err)
	}
	checkLogs("release twice",
		"<4>device-mapper: thin metadata: No pool metadata snapshot found: nothing to release.",
		"<4>device-mapper: thin: release_metadata_snap message failed.")
	check("pool status", h.status(pool), "1 113/1024 8/1024 - rw discard_passdown queue_if_no_space - 256 ")

	// bad thin tables
	for _, tc := range []struct {
		args, text string
		errno      linuxerr.Errno
	}{
		{"/dev/mapper/pool 7", "Couldn't open thin internal device", linuxerr.ENODATA},
		{"/dev/mapper/pool", "Invalid argument count", linuxerr.EINVAL},
		{"/dev/mapper/pool abc", "Invalid device id", linuxerr.EINVAL},
		{"/dev/mapper/thin0 0", "Couldn't find pool object", linuxerr.EINVAL},
	} {
		_, text, err := h.create("bad", 2097152, thinType, tc.args)
		if text != tc.text || linuxerr.ToErrno(err) != tc.errno {
			t.Errorf("thin %q: %q %v, want %q %v", tc.args, text, err, tc.text, tc.errno)
		}
	}
	_, text, err := h.create("bad", 131072, poolType, "/dev/vda /dev/vdb 128 16")
	if text != "metadata device already in use by a pool" || linuxerr.ToErrno(err) != linuxerr.EBUSY {
		t.Errorf("second pool on the metadata: %q %v", text, err)
	}

	// bad messages
	for _, tc := range []struct {
		msg   string
		errno linuxerr.Errno
		log   []string
	}{
		{"frobnicate 1", linuxerr.EINVAL, []string{"<4>device-mapper: thin: Unrecognised thin pool target message received: frobnicate"}},
		{"create_thin 0", linuxerr.EEXIST, []string{"<4>device-mapper: thin: Creation of new thinly-provisioned device with id 0 failed."}},
		{"create_thin", linuxerr.EINVAL, []string{"<4>device-mapper: thin: Message received with 1 arguments instead of 2."}},
		{"create_thin abc", linuxerr.EINVAL, []string{"<4>device-mapper: thin: Message received with invalid device id: abc"}},
		{"create_snap 2 42", linuxerr.ENODATA, []string{"<4>device-mapper: thin: Creation of new snapshot 2 of device 42 failed."}},
		{"create_snap 1 0", linuxerr.EEXIST, []string{"<4>device-mapper: thin: Creation of new snapshot 1 of device 0 failed."}},
		{"delete 42", linuxerr.ENODATA, []string{"<4>device-mapper: thin: Deletion of thin device 42 failed."}},
		{"delete 1", linuxerr.EBUSY, []string{"<4>device-mapper: thin: Deletion of thin device 1 failed."}},
		{"set_transaction_id 1", linuxerr.EINVAL, []string{"<4>device-mapper: thin: Message received with 2 arguments instead of 3."}},
		{"create_thin 5", 0, nil},
	} {
		h.logs()
		err := h.message(pool, tc.msg)
		if linuxerr.ToErrno(err) != tc.errno {
			t.Errorf("message %q: %v, want %v", tc.msg, err, tc.errno)
		}
		checkLogs(tc.msg, tc.log...)
	}

	// teardown
	h.remove(snap1)
	if err := h.message(pool, "delete 1"); err != nil {
		t.Fatal(err)
	}
	check("pool status", h.status(pool), "1 113/1024 6/1024 - rw discard_passdown queue_if_no_space - 256 ")
	h.remove(thin0)
	h.remove(pool)

	// The image the kernel left behind, checked on the host.
	if out, errs, code := runThinTool(t, "thin_check", meta); code != 0 {
		t.Errorf("thin_check: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := runThinTool(t, "thin_dump", meta); code != 0 || out != kernelDump {
		t.Errorf("thin_dump: exit %d %s\n%s\nwant\n%s", code, errs, out, kernelDump)
	}
}

// The kernel's thin_dump -m of the held snapshot, and thin_dump of the
// final image, from kernel-example.txt.
const kernelDumpM = `<superblock uuid="" time="1" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="0">
  <device dev_id="0" mapped_blocks="6" transaction="0" creation_time="0" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="4" time="0"/>
    <single_mapping origin_block="160" data_block="4" time="0"/>
    <single_mapping origin_block="320" data_block="5" time="0"/>
  </device>
  <device dev_id="1" mapped_blocks="7" transaction="0" creation_time="1" snap_time="1">
    <single_mapping origin_block="0" data_block="6" time="1"/>
    <range_mapping origin_begin="1" data_begin="1" length="3" time="0"/>
    <single_mapping origin_block="160" data_block="4" time="0"/>
    <single_mapping origin_block="320" data_block="5" time="0"/>
    <single_mapping origin_block="1000" data_block="7" time="1"/>
  </device>
</superblock>
`

const kernelDump = `<superblock uuid="" time="1" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1024">
  <device dev_id="0" mapped_blocks="6" transaction="0" creation_time="0" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="4" time="0"/>
    <single_mapping origin_block="160" data_block="4" time="0"/>
    <single_mapping origin_block="320" data_block="5" time="0"/>
  </device>
  <device dev_id="5" mapped_blocks="0" transaction="1" creation_time="1" snap_time="1">
  </device>
</superblock>
`

// TestKernelExamplePool2 replays the feature-argument part of the
// recording: a pool on brd ram disks (no discard support), skip_block_zeroing,
// error_if_no_space, running out of space, growing, and reopening the
// metadata with another block size or read_only.
func TestKernelExamplePool2(t *testing.T) {
	h := boot(t)
	if err := h.K.Modprobe("brd", map[string]string{"rd_nr": "2", "rd_size": "65536"}); err != nil {
		t.Fatal(err)
	}
	h.K.Log.Clear()
	// The recording's pool2 is dm-3: three devices came before it.
	for _, name := range []string{"d0", "d1", "d2"} {
		if _, err := h.API.DevCreate(name, "", dmsim.IoctlFlags{}); err != nil {
			t.Fatal(err)
		}
	}

	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	checkLogs := func(what string, want ...string) {
		t.Helper()
		got := h.logs()
		if !slices.Equal(got, want) {
			t.Errorf("%s: log\n got %q\nwant %q", what, got, want)
		}
	}

	pool2, _, err := h.create("pool2", 65536, poolType, "/dev/ram0 /dev/ram1 128 16 1 skip_block_zeroing")
	if err != nil {
		t.Fatal(err)
	}
	checkLogs("create", "<4>device-mapper: thin: Data device (ram1) discard unsupported: Disabling discard passdown.")
	check("status", h.status(pool2), "0 1648/16384 0/512 - rw no_discard_passdown queue_if_no_space - 1024 ")
	check("table", h.table(pool2), "1:0 1:1 128 16 1 skip_block_zeroing ")
	if text, err := h.reload(pool2, 65536, poolType, "/dev/ram0 /dev/ram1 128 16 2 skip_block_zeroing error_if_no_space"); err != nil {
		t.Fatal(text, err)
	}
	checkLogs("reload", "<4>device-mapper: thin: Data device (ram1) discard unsupported: Disabling discard passdown.")
	check("status", h.status(pool2), "0 1648/16384 0/512 - rw no_discard_passdown error_if_no_space - 1024 ")
	check("table", h.table(pool2), "1:0 1:1 128 16 2 skip_block_zeroing error_if_no_space ")
	if err := h.message(pool2, "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	t2, _, err := h.create("t2", 262144, thinType, "/dev/mapper/pool2 0")
	if err != nil {
		t.Fatal(err)
	}
	mib := make([]byte, 1<<20)
	for i := 0; i < 31; i++ {
		if err := h.write(t2, uint64(i)*2048, mib); err != nil {
			t.Fatalf("MiB %d: %v", i, err)
		}
	}
	check("status", h.status(pool2), "0 1651/16384 496/512 - rw no_discard_passdown error_if_no_space - 1024 ")
	checkLogs("31 MiB")
	var errs []error
	for i := 31; i < 39; i++ {
		err := h.write(t2, uint64(i)*2048, mib)
		errs = append(errs, err)
		if err != nil {
			break
		}
	}
	if len(errs) != 2 || errs[0] != nil || linuxerr.ToErrno(errs[1]) != linuxerr.ENOSPC {
		t.Errorf("writes past the end: %v, want nil then ENOSPC", errs)
	}
	checkLogs("out of space",
		"<4>device-mapper: thin: 253:3: reached low water mark for data device: sending event.",
		"<6>device-mapper: thin: 253:3: switching pool to out-of-data-space (error IO) mode")
	check("status", h.status(pool2), "0 1652/16384 512/512 - out_of_data_space no_discard_passdown error_if_no_space - 1024 ")
	check("t2 status", h.status(t2), "65536 65535")
	if pool2.events() != 2 {
		t.Errorf("pool2 events %d, want 2", pool2.events())
	}

	if text, err := h.reload(pool2, 131072, poolType, "/dev/ram0 /dev/ram1 128 16 2 skip_block_zeroing error_if_no_space"); err != nil {
		t.Fatal(text, err)
	}
	checkLogs("grow",
		"<4>device-mapper: thin: Data device (ram1) discard unsupported: Disabling discard passdown.",
		"<6>device-mapper: thin: 253:3: switching pool to write mode",
		"<6>device-mapper: thin: 253:3: growing the data device from 512 to 1024 blocks")
	check("status", h.status(pool2), "0 1652/16384 512/1024 - rw no_discard_passdown error_if_no_space - 1024 ")
	h.remove(t2)
	h.remove(pool2)

	_, text, err := h.create("pool2", 131072, poolType, "/dev/ram0 /dev/ram1 256 16")
	if text != "Error creating metadata object" || linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Errorf("block size change: %q %v", text, err)
	}
	checkLogs("block size change", "<3>device-mapper: thin metadata: changing the data block size (from 128 to 256) is not supported",
		"<3>device-mapper: table: 253:3: thin-pool: Error creating metadata object (-EINVAL)",
		"<3>device-mapper: ioctl: error adding target to table")
	pool2, _, err = h.create("pool2", 131072, poolType, "/dev/ram0 /dev/ram1 128 16 3 ignore_discard no_discard_passdown read_only")
	if err != nil {
		t.Fatal(err)
	}
	checkLogs("read_only", "<6>device-mapper: thin: 253:3: switching pool to read-only mode")
	check("status", h.status(pool2), "0 1652/16384 512/1024 - ro ignore_discard queue_if_no_space - 1024 ")
	check("table", h.table(pool2), "1:0 1:1 128 16 3 ignore_discard no_discard_passdown read_only ")
	if err := h.message(pool2, "create_thin 9"); linuxerr.ToErrno(err) != linuxerr.EOPNOTSUPP {
		t.Errorf("message in read-only mode: %v", err)
	}
	checkLogs("gate", "<3>device-mapper: thin: 253:3: unable to service pool target messages in READ_ONLY or FAIL mode")
	h.remove(pool2)
}

// thinkTime is the virtual time let pass before each command of the
// replayed transcript. The recording machine (qemu TCG) takes a few hundred
// milliseconds per command, so the pool's periodic commit (every second,
// if more than a second passed since the worker last committed) fires
// between some of them; where it does decides which metadata blocks later
// transactions use, and so the held root the status line shows (57). Any
// value from 300 to 500 ms reproduces the recording; THINK overrides it.
var thinkTime = 400 * time.Millisecond

func TestMain(m *testing.M) {
	if s := os.Getenv("THINK"); s != "" {
		thinkTime, _ = time.ParseDuration(s)
	}
	os.Exit(m.Run())
}
