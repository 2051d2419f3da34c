package thin

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// poolSetup makes a pool of nblocks 64 KiB blocks on fresh disks with the
// given feature words, and thin device 0 on it: the metadata device is
// /dev/vda, the data device /dev/vdb, and more disks follow.
func poolSetup(t *testing.T, nblocks uint64, lwm int, features string, dataDiscard bool, more ...dmsim.DiskSpec) (*env, *dev, *dev, *dev) {
	return poolSetupOn(t, append([]dmsim.DiskSpec{vd(8192, false), vd(nblocks*128, !dataDiscard)}, more...), nblocks, lwm, features)
}

// poolSetupOn is poolSetup on the given disks (metadata /dev/vda, data
// /dev/vdb).
func poolSetupOn(t *testing.T, disks []dmsim.DiskSpec, nblocks uint64, lwm int, features string) (*env, *dev, *dev, *dev) {
	h := boot(t, disks...)
	data := h.disk("/dev/vdb")
	args := fmt.Sprintf("/dev/vda /dev/vdb 128 %d", lwm)
	if features != "" {
		n := len(strings.Fields(features))
		args += fmt.Sprintf(" %d %s", n, features)
	}
	pool, text, err := h.create("pool", nblocks*128, poolType, args)
	if err != nil {
		t.Fatal(text, err)
	}
	if err := h.message(pool, "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	thin, text, err := h.create("thin", 1<<21, thinType, "/dev/mapper/pool 0")
	if err != nil {
		t.Fatal(text, err)
	}
	h.logs()
	return h, pool, thin, data
}

func usedData(t *testing.T, h *env, pool *dev) string {
	t.Helper()
	f := strings.Fields(h.status(pool))
	return f[2]
}

// TestProvisioning: a write to an unmapped block provisions it, zeroing
// the rest of the block unless skip_block_zeroing; whole-block writes
// need no zeroing.
func TestProvisioning(t *testing.T) {
	for _, tc := range []struct {
		features string
		stale    bool
	}{
		{"", false},
		{"skip_block_zeroing", true},
	} {
		t.Run("features="+tc.features, func(t *testing.T) {
			h, pool, thin, data := poolSetup(t, 16, 0, tc.features, true)
			// Old contents of the data device.
			for b := uint64(0); b < 16; b++ {
				if err := h.io(dmsim.OpWrite, data, b*128, bytes.Repeat([]byte{0xee}, 65536)); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.write(thin, 8, fill('x', 4096)); err != nil {
				t.Fatal(err)
			}
			got, err := h.read(thin, 0, 65536)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 65536)
			if tc.stale {
				want = bytes.Repeat([]byte{0xee}, 65536)
			}
			copy(want[4096:], fill('x', 4096))
			if !bytes.Equal(got, want) {
				t.Errorf("block 0 after a 4 KiB write: %x...", got[:16])
			}
			// A whole-block write.
			if err := h.write(thin, 128*5, fill('y', 65536)); err != nil {
				t.Fatal(err)
			}
			got, _ = h.read(thin, 128*5, 65536)
			if !bytes.Equal(got, fill('y', 65536)) {
				t.Errorf("whole block write read back wrong")
			}
			// Holes read as zeroes and are not provisioned.
			got, _ = h.read(thin, 128*9, 65536)
			if !bytes.Equal(got, make([]byte, 65536)) {
				t.Errorf("hole is not zero")
			}
			if s := h.status(thin); s != "256 767" {
				t.Errorf("thin status %q", s)
			}
			if u := usedData(t, h, pool); u != "2/16" {
				t.Errorf("used %s", u)
			}
		})
	}
}

// TestPoolDeviceIO: I/O to the pool device itself goes linearly to the
// data device.
func TestPoolDeviceIO(t *testing.T) {
	h, pool, _, data := poolSetup(t, 16, 0, "", true)
	if err := h.write(pool, 300, fill('p', 512)); err != nil {
		t.Fatal(err)
	}
	got, _ := h.read(data, 300, 512)
	if !bytes.Equal(got, fill('p', 512)) {
		t.Error("pool device write did not reach the data device")
	}
}

// TestSnapshotSharing: writes to shared blocks break sharing by copying;
// the time-based heuristic treats every block older than the last
// snapshot as shared, on both devices.
func TestSnapshotSharing(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 64, 0, "", true)
	for b := uint64(0); b < 4; b++ {
		if err := h.write(thin, b*128, fill(byte('a'+b), 65536)); err != nil {
			t.Fatal(err)
		}
	}
	thin.suspend()
	if err := h.message(pool, "create_snap 1 0"); err != nil {
		t.Fatal(err)
	}
	if err := thin.resume(); err != nil {
		t.Fatal(err)
	}
	snap, _, err := h.create("snap", 1<<21, thinType, "/dev/mapper/pool 1")
	if err != nil {
		t.Fatal(err)
	}
	if u := usedData(t, h, pool); u != "4/64" {
		t.Fatalf("used after snapshot %s", u)
	}
	// A partial write to a shared block copies the rest of the block.
	if err := h.write(snap, 128+8, fill('S', 512)); err != nil {
		t.Fatal(err)
	}
	got, _ := h.read(snap, 128, 65536)
	want := fill('b', 65536)
	copy(want[8*512:], fill('S', 512))
	if !bytes.Equal(got, want) {
		t.Error("broken block of the snapshot has wrong contents")
	}
	got, _ = h.read(thin, 128, 65536)
	if !bytes.Equal(got, fill('b', 65536)) {
		t.Error("origin changed by a snapshot write")
	}
	if u := usedData(t, h, pool); u != "5/64" {
		t.Errorf("used after breaking sharing %s", u)
	}
	// The origin's block 1 is now referenced once, but the heuristic
	// still sees it as shared: writing it copies again.
	if err := h.write(thin, 128, fill('O', 512)); err != nil {
		t.Fatal(err)
	}
	if u := usedData(t, h, pool); u != "5/64" {
		t.Errorf("used after writing the origin %s (old block freed, new one used)", u)
	}
	if s := h.status(thin); s != "512 511" {
		t.Errorf("thin status %q", s)
	}
	if s := h.status(snap); s != "512 511" {
		t.Errorf("snap status %q", s)
	}
	// A block written after the snapshot is not shared: no new block.
	if err := h.write(snap, 128+16, fill('T', 512)); err != nil {
		t.Fatal(err)
	}
	if u := usedData(t, h, pool); u != "5/64" {
		t.Errorf("used after rewriting a broken block %s", u)
	}
	// Deleting the snapshot frees what only it used.
	h.remove(snap)
	if err := h.message(pool, "delete 1"); err != nil {
		t.Fatal(err)
	}
	if u := usedData(t, h, pool); u != "4/64" {
		t.Errorf("used after delete %s", u)
	}
}

// TestDiscard: only whole blocks are unmapped; passdown sends discards
// only for blocks no device references any more.
func TestDiscard(t *testing.T) {
	for _, tc := range []struct {
		name        string
		features    string
		dataDiscard bool
		status      string // pool discard field
		passdown    bool
	}{
		{"passdown", "", true, "discard_passdown", true},
		{"no_discard_passdown", "no_discard_passdown", true, "no_discard_passdown", false},
		{"data device without discard", "", false, "no_discard_passdown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, pool, thin, data := poolSetup(t, 64, 0, tc.features, tc.dataDiscard)
			if f := strings.Fields(h.status(pool)); f[5] != tc.status {
				t.Errorf("discard field %q, want %q", f[5], tc.status)
			}
			for b := uint64(0); b < 8; b++ {
				if err := h.write(thin, b*128, fill('d', 65536)); err != nil {
					t.Fatal(err)
				}
			}
			// Share blocks 0-3 with a snapshot.
			thin.suspend()
			if err := h.message(pool, "create_snap 1 0"); err != nil {
				t.Fatal(err)
			}
			if err := thin.resume(); err != nil {
				t.Fatal(err)
			}
			snap, _, err := h.create("snap", 1<<21, thinType, "/dev/mapper/pool 1")
			if err != nil {
				t.Fatal(err)
			}
			if err := h.discard(snap, 512, 4*128); err != nil { // snapshot's blocks 4-7
				t.Fatal(err)
			}
			data.takeDiscards()
			// Partial blocks do nothing.
			if err := h.discard(thin, 0, 127); err != nil {
				t.Fatal(err)
			}
			if err := h.discard(thin, 64, 128); err != nil {
				t.Fatal(err)
			}
			if s := h.status(thin); s != "1024 1023" {
				t.Errorf("after partial discards: %q", s)
			}
			// Sectors 100..867 cover blocks 1..5 of the origin: 1-3 are
			// still shared with the snapshot, 4-5 no longer (the snapshot
			// discarded its references).
			if err := h.discard(thin, 100, 6*128); err != nil {
				t.Fatal(err)
			}
			if s := h.status(thin); s != "384 1023" {
				t.Errorf("after discarding 1-5: %q", s)
			}
			if u := usedData(t, h, pool); u != "6/64" {
				t.Errorf("used %s", u)
			}
			got := data.takeDiscards()
			var want [][2]uint64
			if tc.passdown {
				want = [][2]uint64{{4 * 128, 2 * 128}}
			}
			if !slices.Equal(got, want) {
				t.Errorf("passed down %v, want %v", got, want)
			}
			b, _ := h.read(thin, 128*2, 512)
			if !bytes.Equal(b, make([]byte, 512)) {
				t.Error("discarded block does not read as zeroes")
			}
			b, _ = h.read(snap, 128*2, 512)
			if !bytes.Equal(b, fill('d', 512)) {
				t.Error("snapshot lost a shared block")
			}
		})
	}
}

// TestIgnoreDiscard: with ignore_discard the thin devices do not take
// discards at all.
func TestIgnoreDiscard(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 16, 0, "ignore_discard", true)
	if thin.ti().NumDiscardBios != 0 || thin.ti().DiscardsSupported || pool.ti().NumDiscardBios != 0 {
		t.Errorf("discards enabled: thin %d %v pool %d", thin.ti().NumDiscardBios, thin.ti().DiscardsSupported, pool.ti().NumDiscardBios)
	}
	if l := thin.limits(); l.MaxDiscardSectors != 0 && l.DiscardGranularity != 0 {
		t.Errorf("thin limits %+v", l)
	}
	if f := strings.Fields(h.status(pool)); f[5] != "ignore_discard" {
		t.Errorf("status %q", h.status(pool))
	}
	if l := pool.limits(); l.DiscardGranularity != 0 {
		t.Errorf("pool discard granularity %d", l.DiscardGranularity)
	}
}

// TestOutOfDataSpaceQueue: a write that needs a block while the pool is
// full is queued; after no_space_timeout (60 s of virtual time) it fails
// with ENOSPC and the pool errors further I/O.
func TestOutOfDataSpaceQueue(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 4, 0, "", true)
	for b := uint64(0); b < 4; b++ {
		if err := h.write(thin, b*128, fill('q', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	start := h.Now()
	err := h.write(thin, 4*128, fill('q', 4096))
	if linuxerr.ToErrno(err) != linuxerr.ENOSPC {
		t.Fatalf("queued write: %v", err)
	}
	if d := h.Now() - start; d != 60*time.Second {
		t.Errorf("write failed after %v, want 60s", d)
	}
	want := []string{
		"<4>device-mapper: thin: 253:0: reached low water mark for data device: sending event.",
		"<6>device-mapper: thin: 253:0: switching pool to out-of-data-space (queue IO) mode",
		"<6>device-mapper: thin: 253:0: switching pool to out-of-data-space (error IO) mode",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	if s := h.status(pool); !strings.Contains(s, " 4/4 - out_of_data_space discard_passdown error_if_no_space ") {
		t.Errorf("status %q", s)
	}
	if pool.events() != 3 {
		t.Errorf("events %d, want 3", pool.events())
	}
	// Now it errors at once.
	start = h.Now()
	if err := h.write(thin, 5*128, fill('q', 4096)); linuxerr.ToErrno(err) != linuxerr.ENOSPC || h.Now() != start {
		t.Errorf("write after the timeout: %v after %v", err, h.Now()-start)
	}
	// Writes to provisioned blocks and reads still work.
	if err := h.write(thin, 0, fill('r', 512)); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if _, err := h.read(thin, 9*128, 512); err != nil {
		t.Errorf("read of a hole: %v", err)
	}
	// Messages are allowed out of data space.
	if err := h.message(pool, "create_thin 1"); err != nil {
		t.Errorf("message: %v", err)
	}
}

// TestNoSpaceTimeoutParam: the timeout comes from the module parameter;
// 0 queues for ever (the kernel hangs; the simulation reports the
// deadlock).
func TestNoSpaceTimeoutParam(t *testing.T) {
	for _, tc := range []struct {
		param string
		after time.Duration
	}{
		{"5", 5 * time.Second},
		{"", 60 * time.Second},
		{"0", 0},
	} {
		t.Run("timeout="+tc.param, func(t *testing.T) {
			h, _, thin, _ := poolSetup(t, 1, 0, "", true)
			if tc.param != "" {
				if err := h.K.SetModuleParam(moduleName, "no_space_timeout", tc.param); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.write(thin, 0, fill('q', 512)); err != nil {
				t.Fatal(err)
			}
			start := h.Now()
			err := h.write(thin, 128, fill('q', 512))
			if tc.after == 0 {
				if err != sim.ErrDeadlock {
					t.Fatalf("write with no timeout: %v", err)
				}
				return
			}
			if linuxerr.ToErrno(err) != linuxerr.ENOSPC || h.Now()-start != tc.after {
				t.Errorf("write: %v after %v", err, h.Now()-start)
			}
		})
	}
}

// TestGrowReleasesQueue: growing the pool (reload with a longer table)
// lets the queued writer finish.
func TestGrowReleasesQueue(t *testing.T) {
	h, pool, thin, data := poolSetup(t, 8, 0, "", true)
	h.K.Log.Clear()
	for b := uint64(0); b < 4; b++ {
		if err := h.write(thin, b*128, fill('g', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	// The pool table is only 4 blocks long of the 8-block data device.
	if _, err := h.reload(pool, 4*128, poolType, "/dev/vda /dev/vdb 128 0"); err != linuxerr.EINVAL {
		t.Fatalf("shrinking reload: %v", err)
	}
	if _, err := h.reload(pool, 8*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	h.logs()
	for b := uint64(4); b < 8; b++ {
		if err := h.write(thin, b*128, fill('g', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	wait := h.async(func() error { return h.write(thin, 8*128, fill('G', 65536)) })
	h.Settle()
	if s := h.status(pool); !strings.Contains(s, " 8/8 - out_of_data_space ") {
		t.Fatalf("status %q", s)
	}
	data.resize(16 * 128)
	if _, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("queued write: %v", err)
	}
	got, _ := h.read(thin, 8*128, 65536)
	if !bytes.Equal(got, fill('G', 65536)) {
		t.Error("queued write lost")
	}
	want := []string{
		"<4>device-mapper: thin: 253:0: reached low water mark for data device: sending event.",
		"<6>device-mapper: thin: 253:0: switching pool to out-of-data-space (queue IO) mode",
		"<6>device-mapper: thin: 253:0: switching pool to write mode",
		"<6>device-mapper: thin: 253:0: growing the data device from 8 to 16 blocks",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	if s := h.status(pool); !strings.Contains(s, " 9/16 - rw ") {
		t.Errorf("status %q", s)
	}
}

// TestLowWaterMark: the data low water mark sends one event per latch;
// the latch is reset by a resume.
func TestLowWaterMark(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 16, 10, "", true)
	for b := uint64(0); b < 8; b++ {
		if err := h.write(thin, b*128, fill('l', 512)); err != nil {
			t.Fatal(err)
		}
	}
	// free before each allocation: 16..9; the 8th (free 9) crosses 10? no:
	// the check is free <= 10 before allocating, first true at the 7th.
	if pool.events() != 1 {
		t.Errorf("events %d, want 1", pool.events())
	}
	pool.suspend()
	if err := pool.resume(); err != nil {
		t.Fatal(err)
	}
	if pool.events() != 1 {
		t.Errorf("events after resume %d, want 1 (resume sends none)", pool.events())
	}
	if err := h.write(thin, 8*128, fill('l', 512)); err != nil {
		t.Fatal(err)
	}
	if pool.events() != 2 {
		t.Errorf("events %d, want 2", pool.events())
	}
	want := []string{
		"<4>device-mapper: thin: 253:0: reached low water mark for data device: sending event.",
		"<4>device-mapper: thin: 253:0: reached low water mark for data device: sending event.",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q", got)
	}
}

// TestExternalOrigin: unprovisioned reads come from the origin, zeroes
// past its end, including a block that straddles the end; writes copy the
// origin's part of the block first.
func TestExternalOrigin(t *testing.T) {
	for _, tc := range []struct {
		features string
		stale    bool
	}{
		{"", false},
		{"skip_block_zeroing", true},
	} {
		t.Run("features="+tc.features, func(t *testing.T) {
			h, pool, _, data := poolSetup(t, 16, 0, tc.features, true, vd(300, false))
			for b := uint64(0); b < 16; b++ {
				if err := h.io(dmsim.OpWrite, data, b*128, bytes.Repeat([]byte{0xee}, 65536)); err != nil {
					t.Fatal(err)
				}
			}
			origin := h.disk("/dev/vdc")
			if err := h.io(dmsim.OpWrite, origin, 0, fill('o', 300*512)); err != nil {
				t.Fatal(err)
			}
			if err := h.message(pool, "create_thin 1"); err != nil {
				t.Fatal(err)
			}
			ext, _, err := h.create("ext", 1024, thinType, "/dev/mapper/pool 1 /dev/vdc")
			if err != nil {
				t.Fatal(err)
			}
			if s := h.table(ext); s != "253:0 1 254:32" {
				t.Errorf("table %q", s)
			}
			o := fill('o', 300*512)
			got, _ := h.read(ext, 0, 65536)
			if !bytes.Equal(got, o[:65536]) {
				t.Error("read of block 0 is not the origin's")
			}
			// Block 2 (sectors 256..383) straddles the origin's end (300).
			got, _ = h.read(ext, 256, 65536)
			want := make([]byte, 65536)
			copy(want, o[256*512:])
			if !bytes.Equal(got, want) {
				t.Error("straddling read")
			}
			got, _ = h.read(ext, 512, 4096)
			if !bytes.Equal(got, make([]byte, 4096)) {
				t.Error("read beyond the origin")
			}
			// Writes: block 0 copies, block 2 copies 44 sectors and zeroes the
			// tail (when zeroing), block 3 is beyond the origin.
			for _, s := range []uint64{8, 256 + 8, 384 + 8} {
				if err := h.write(ext, s, fill('w', 512)); err != nil {
					t.Fatal(err)
				}
			}
			got, _ = h.read(ext, 0, 65536)
			want = slices.Clone(o[:65536])
			copy(want[8*512:], fill('w', 512))
			if !bytes.Equal(got, want) {
				t.Error("block 0 after a write")
			}
			got, _ = h.read(ext, 256, 65536)
			want = make([]byte, 65536)
			if tc.stale {
				want = bytes.Repeat([]byte{0xee}, 65536)
			}
			copy(want, o[256*512:])
			copy(want[8*512:], fill('w', 512))
			if !bytes.Equal(got, want) {
				t.Errorf("straddling block after a write: tail %x", got[60000:60008])
			}
			got, _ = h.read(ext, 384, 65536)
			want = make([]byte, 65536)
			if tc.stale {
				want = bytes.Repeat([]byte{0xee}, 65536)
			}
			copy(want[8*512:], fill('w', 512))
			if !bytes.Equal(got, want) {
				t.Error("block beyond the origin after a write")
			}
		})
	}
}

// TestReadOnlyPool: a read_only pool serves reads, fails writes that need
// a block, and completes discards without unmapping.
func TestReadOnlyPool(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
	if err := h.write(thin, 0, fill('r', 65536)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0 1 read_only"); err != nil {
		t.Fatal(err)
	}
	if got := h.logs(); !slices.Equal(got, []string{"<6>device-mapper: thin: 253:0: switching pool to read-only mode"}) {
		t.Errorf("log %q", got)
	}
	if err := h.write(thin, 128, fill('r', 512)); err != linuxerr.EIO {
		t.Errorf("provisioning write: %v", err)
	}
	if err := h.write(thin, 0, fill('R', 512)); err != nil {
		t.Errorf("write to a mapped block: %v", err)
	}
	if got, err := h.read(thin, 0, 1024); err != nil || !bytes.Equal(got, append(fill('R', 512), fill('r', 512)...)) {
		t.Errorf("read: %v", err)
	}
	if err := h.discard(thin, 0, 128); err != nil {
		t.Errorf("discard: %v", err)
	}
	if s := h.status(thin); s != "128 127" {
		t.Errorf("thin status %q: the discard unmapped", s)
	}
	if err := h.message(pool, "create_thin 3"); err != linuxerr.EOPNOTSUPP {
		t.Errorf("message: %v", err)
	}
	// Back to write mode with a table without read_only.
	if _, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if err := h.write(thin, 128, fill('r', 512)); err != nil {
		t.Errorf("write after leaving read-only: %v", err)
	}
}

// TestCommitTriggers: what survives a crash (an image read without the
// pool being closed) depends on the commits: a flush to a changed thin, a
// message, a status, suspend, the periodic commit.
func TestCommitTriggers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger func(h *env, pool, thin *dev)
		mapped  string // mapped_blocks of device 0 on disk
	}{
		{"none", func(h *env, pool, thin *dev) {}, "0"},
		{"flush", func(h *env, pool, thin *dev) { _ = h.flush(thin) }, "1"},
		{"status", func(h *env, pool, thin *dev) { h.status(pool) }, "1"},
		{"status noflush", func(h *env, pool, thin *dev) {
			h.Params(pool.name, dmsim.StatusInfo, true)
		}, "0"},
		{"message", func(h *env, pool, thin *dev) { _ = h.message(pool, "create_thin 7") }, "1"},
		{"failed message", func(h *env, pool, thin *dev) { _ = h.message(pool, "create_thin 0") }, "0"},
		{"suspend", func(h *env, pool, thin *dev) { pool.suspend() }, "1"},
		{"half a second", func(h *env, pool, thin *dev) { h.Sleep(500 * time.Millisecond) }, "0"},
		{"2.5 seconds", func(h *env, pool, thin *dev) { h.Sleep(2500 * time.Millisecond) }, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
			meta := h.disk("/dev/vda")
			h.status(pool) // commit the thin's creation
			if err := h.write(thin, 0, fill('c', 512)); err != nil {
				t.Fatal(err)
			}
			tc.trigger(h, pool, thin)
			out, errs, code := runThinTool(t, "thin_dump", meta)
			if code != 0 {
				t.Fatalf("thin_dump: %d %s", code, errs)
			}
			if !strings.Contains(out, `<device dev_id="0" mapped_blocks="`+tc.mapped+`"`) {
				t.Errorf("on disk:\n%s", out)
			}
		})
	}
}

// TestFlushCommitsOnlyChangedThin: a flush commits only when its thin
// changed in the open transaction.
func TestFlushCommitsOnlyChangedThin(t *testing.T) {
	h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
	if err := h.message(pool, "create_thin 1"); err != nil {
		t.Fatal(err)
	}
	other, _, err := h.create("other", 1<<21, thinType, "/dev/mapper/pool 1")
	if err != nil {
		t.Fatal(err)
	}
	meta := h.disk("/dev/vda")
	if err := h.write(thin, 0, fill('c', 512)); err != nil {
		t.Fatal(err)
	}
	if err := h.flush(other); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runThinTool(t, "thin_dump", meta)
	if !strings.Contains(out, `<device dev_id="0" mapped_blocks="0"`) {
		t.Errorf("a flush of an unchanged thin committed:\n%s", out)
	}
	if err := h.flush(thin); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runThinTool(t, "thin_dump", meta)
	if !strings.Contains(out, `<device dev_id="0" mapped_blocks="1"`) {
		t.Errorf("a flush of the changed thin did not commit:\n%s", out)
	}
}
