package thin

import (
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// TestPoolCtrErrors checks pool_ctr()'s checks, their order, error texts
// and errnos, and that a failed constructor releases what it opened.
func TestPoolCtrErrors(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		text       string
		errno      linuxerr.Errno
	}{
		{"no args", "", "Invalid argument count", linuxerr.EINVAL},
		{"three args", "/dev/vda /dev/vdb 128", "Invalid argument count", linuxerr.EINVAL},
		{"same device string", "/dev/vda /dev/vda 128 16", "Error setting metadata or data device", linuxerr.EINVAL},
		// Same device by another name is not caught by the string check.
		{"same device other name", "/dev/vda 254:0 128 16", "", 0},
		{"feature count not a number", "/dev/vda /dev/vdb 128 16 x", "Invalid number of pool feature arguments", linuxerr.EINVAL},
		{"feature count signed", "/dev/vda /dev/vdb 128 16 +1 skip_block_zeroing", "Invalid number of pool feature arguments", linuxerr.EINVAL},
		{"feature count too big", "/dev/vda /dev/vdb 128 16 5 a b c d e", "Invalid number of pool feature arguments", linuxerr.EINVAL},
		{"feature count beyond words", "/dev/vda /dev/vdb 128 16 2 skip_block_zeroing", "Invalid number of pool feature arguments", linuxerr.EINVAL},
		{"unknown feature", "/dev/vda /dev/vdb 128 16 1 frobnicate", "Unrecognised pool feature requested", linuxerr.EINVAL},
		// Features are parsed before the devices are opened.
		{"feature before device", "/dev/nope /dev/vdb 128 16 1 frobnicate", "Unrecognised pool feature requested", linuxerr.EINVAL},
		{"metadata path", "/dev/nope /dev/vdb 128 16", "Error opening metadata block device", linuxerr.ENODEV},
		{"metadata devt", "254:99 /dev/vdb 128 16", "Error opening metadata block device", linuxerr.ENXIO},
		{"metadata devt range", "4096:0 /dev/vdb 128 16", "Error opening metadata block device", linuxerr.EOVERFLOW},
		{"data path", "/dev/vda /dev/nope 128 16", "Error getting data device", linuxerr.ENODEV},
		// Devices are opened before the numbers are parsed.
		{"data before block size", "/dev/vda /dev/nope 100 16", "Error getting data device", linuxerr.ENODEV},
		{"block size 100", "/dev/vda /dev/vdb 100 16", "Invalid block size", linuxerr.EINVAL},
		{"block size 64", "/dev/vda /dev/vdb 64 16", "Invalid block size", linuxerr.EINVAL},
		{"block size 0", "/dev/vda /dev/vdb 0 16", "Invalid block size", linuxerr.EINVAL},
		{"block size hex", "/dev/vda /dev/vdb 0x80 16", "Invalid block size", linuxerr.EINVAL},
		{"block size negative", "/dev/vda /dev/vdb -128 16", "Invalid block size", linuxerr.EINVAL},
		{"block size too big", "/dev/vda /dev/vdb 2097280 16", "Invalid block size", linuxerr.EINVAL},
		{"block size garbage", "/dev/vda /dev/vdb 128k 16", "Invalid block size", linuxerr.EINVAL},
		{"low water mark", "/dev/vda /dev/vdb 128 xyz", "Invalid low water mark", linuxerr.EINVAL},
		{"low water mark negative", "/dev/vda /dev/vdb 128 -1", "Invalid low water mark", linuxerr.EINVAL},
		{"low water mark overflow", "/dev/vda /dev/vdb 128 18446744073709551616", "Invalid low water mark", linuxerr.EINVAL},
		// Accepted forms.
		{"block size 384", "/dev/vda /dev/vdb 384 16", "", 0},
		{"block size 192", "/dev/vda /dev/vdb 192 16", "Invalid block size", linuxerr.EINVAL},
		{"block size plus", "/dev/vda /dev/vdb +128 16", "", 0},
		{"block size leading zero", "/dev/vda /dev/vdb 0128 16", "", 0},
		{"block size max", "/dev/vda /dev/vdb 2097152 16", "", 0},
		{"huge low water mark", "/dev/vda /dev/vdb 128 18446744073709551615", "", 0},
		{"four duplicate features", "/dev/vda /dev/vdb 128 16 4 skip_block_zeroing SKIP_BLOCK_ZEROING skip_block_zeroing skip_block_zeroing", "", 0},
		{"words after the features", "/dev/vda /dev/vdb 128 16 1 skip_block_zeroing junk more", "", 0},
		{"zero features", "/dev/vda /dev/vdb 128 16 0", "", 0},
		{"devt names", "254:0 254:16 128 16", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The metadata device is as long as the pool, so that it can be
			// the data device too.
			h := boot(t, vd(131072, false), vd(4<<21, false))
			m, text, err := h.create("pool", 131072, poolType, tc.args)
			if text != tc.text || linuxerr.ToErrno(err) != tc.errno {
				t.Fatalf("got %q %v, want %q %v", text, err, tc.text, tc.errno)
			}
			if err == nil {
				h.remove(m)
			}
			checkReleased(t, h, "/dev/vda", "/dev/vdb")
		})
	}
}

// TestThinCtrErrors checks thin_ctr()'s checks in order.
func TestThinCtrErrors(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		text       string
		errno      linuxerr.Errno
	}{
		{"one arg", "/dev/mapper/pool", "Invalid argument count", linuxerr.EINVAL},
		{"four args", "/dev/mapper/pool 0 /dev/vdc x", "Invalid argument count", linuxerr.EINVAL},
		{"origin is pool", "/dev/mapper/pool 0 /dev/mapper/pool", "Error setting origin device", linuxerr.EINVAL},
		{"origin missing", "/dev/mapper/pool 0 /dev/nope", "Error opening origin device", linuxerr.ENODEV},
		// The origin is opened before the pool.
		{"origin before pool", "/dev/nope1 0 /dev/nope2", "Error opening origin device", linuxerr.ENODEV},
		{"pool missing", "/dev/nope 0", "Error opening pool device", linuxerr.ENODEV},
		// The id is parsed after the devices are opened.
		{"pool before id", "/dev/nope abc", "Error opening pool device", linuxerr.ENODEV},
		{"id not a number", "/dev/mapper/pool abc", "Invalid device id", linuxerr.EINVAL},
		{"id too big", "/dev/mapper/pool 16777216", "Invalid device id", linuxerr.EINVAL},
		{"id negative", "/dev/mapper/pool -1", "Invalid device id", linuxerr.EINVAL},
		{"pool not dm", "/dev/vdc 0", "Couldn't get pool mapped device", linuxerr.EINVAL},
		{"not a pool", "/dev/mapper/lin 0", "Couldn't find pool object", linuxerr.EINVAL},
		{"no such thin", "/dev/mapper/pool 7", "Couldn't open thin internal device", linuxerr.ENODATA},
		{"ok", "/dev/mapper/pool 0", "", 0},
		{"ok by devt", "253:0 0", "", 0},
		{"ok plus id", "/dev/mapper/pool +0", "", 0},
		{"ok with origin", "/dev/mapper/pool 0 /dev/vdc", "", 0},
		{"max id missing", "/dev/mapper/pool 16777215", "Couldn't open thin internal device", linuxerr.ENODATA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := boot(t, vd(8192, false), vd(131072, false), vd(8192, false))
			pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
			if err != nil {
				t.Fatal(err)
			}
			lin, _, err := h.create("lin", 8192, thinType, "/dev/mapper/pool 0")
			if err == nil || lin != nil {
				t.Fatal("thin on a missing id")
			}
			if err := h.message(pool, "create_thin 0"); err != nil {
				t.Fatal(err)
			}
			// A thin device stands in for a non-pool dm device.
			other, _, err := h.create("other", 8192, thinType, "/dev/mapper/pool 0")
			if err != nil {
				t.Fatal(err)
			}
			if err := h.K.Mknod("/dev/mapper/lin", h.Bdev(other.path).Dev()); err != nil {
				t.Fatal(err)
			}
			paths := []string{"/dev/mapper/pool", "/dev/mapper/lin", "/dev/vdc"}
			before := openCounts(h, paths...)
			m, text, err := h.create("thin", 2097152, thinType, tc.args)
			if text != tc.text || linuxerr.ToErrno(err) != tc.errno {
				t.Fatalf("got %q %v, want %q %v", text, err, tc.text, tc.errno)
			}
			if err == nil {
				h.remove(m)
			}
			if after := openCounts(h, paths...); !slices.Equal(after, before) {
				t.Errorf("open counts of %q: %v, before %v", paths, after, before)
			}
			h.remove(other)
			h.remove(pool)
		})
	}
}

// TestThinWhilePoolSuspended: a thin cannot be activated before the pool
// was first resumed, nor while it is suspended.
func TestThinWhilePoolSuspended(t *testing.T) {
	h := boot(t, vd(8192, false), vd(131072, false))
	// Thin 0 is in the metadata from an earlier activation of the pool.
	pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.message(pool, "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	h.remove(pool)
	// Loaded, never resumed.
	info, err := h.API.DevCreate("pool", "", dmsim.IoctlFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.API.TableLoad(dmsim.DevRef{Name: "pool"}, []dmsim.TargetSpec{{Length: 131072, Type: "thin-pool", Params: "/dev/vda /dev/vdb 128 16"}}, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if err := h.K.Mknod("/dev/mapper/pool", info.Dev); err != nil {
		t.Fatal(err)
	}
	if _, text, err := h.create("thin", 8192, thinType, "/dev/mapper/pool 0"); text != "Unable to activate thin device while pool is suspended" || err != linuxerr.EINVAL {
		t.Fatalf("never resumed: %q %v", text, err)
	}
	if err := pool.resume(); err != nil {
		t.Fatal(err)
	}
	pool.suspend()
	if _, text, err := h.create("thin", 8192, thinType, "/dev/mapper/pool 0"); text != "Unable to activate thin device while pool is suspended" || err != linuxerr.EINVAL {
		t.Fatalf("suspended: %q %v", text, err)
	}
	if err := pool.resume(); err != nil {
		t.Fatal(err)
	}
	if _, text, err := h.create("thin", 8192, thinType, "/dev/mapper/pool 0"); err != nil {
		t.Fatalf("resumed: %q %v", text, err)
	}
}

// TestPoolReplacement checks the rules for a table that replaces a pool
// table, and that the pool object (and its block size) survives a reload.
func TestPoolReplacement(t *testing.T) {
	for _, tc := range []struct {
		name, args string
		text       string
		errno      linuxerr.Errno
	}{
		{"same", "/dev/vda /dev/vdb 128 16", "", 0},
		{"block size ignored", "/dev/vda /dev/vdb 256 8", "", 0},
		{"other metadata", "/dev/vdc /dev/vdb 128 16", "different pool cannot replace a pool", linuxerr.EINVAL},
		{"other data", "/dev/vda /dev/vdc 128 16", "data device already in use by a pool", linuxerr.EBUSY},
		{"discard off", "/dev/vda /dev/vdb 128 16 1 ignore_discard", "Discard support cannot be disabled once enabled", linuxerr.EINVAL},
		{"passdown off", "/dev/vda /dev/vdb 128 16 1 no_discard_passdown", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := boot(t, vd(8192, false), vd(131072, false), vd(131072, false))
			pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
			if err != nil {
				t.Fatal(err)
			}
			text, err := h.reload(pool, 131072, poolType, tc.args)
			if text != tc.text || linuxerr.ToErrno(err) != tc.errno {
				t.Fatalf("got %q %v, want %q %v", text, err, tc.text, tc.errno)
			}
			if err == nil && !strings.HasPrefix(h.table(pool), "254:0 254:16 128 ") {
				t.Errorf("table after reload: %q", h.table(pool))
			}
			// A second device cannot take the same metadata device.
			if _, text, err := h.create("pool2", 131072, poolType, "/dev/vda /dev/vdc 128 16"); text != "metadata device already in use by a pool" || err != linuxerr.EBUSY {
				t.Errorf("second device: %q %v", text, err)
			}
		})
	}
}

// TestMetadataDeviceSize: a metadata device above 16 GiB is accepted with
// the warning (at load and again at resume when it grew), and only
// 33292800 sectors of it are used.
func TestMetadataDeviceSize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sectors uint64
		blocks  uint64
		warn    bool
	}{
		{"4 MiB", 8192, 1024, false},
		{"just below the cap", 33292800 - 8, 4161599, false},
		{"at the cap", 33292800, 4161600, false},
		{"above the cap, no warning", 33554432, 4161600, false},
		{"above 16 GiB", 33554433, 4161600, true},
		{"32 GiB", 67108864, 4161600, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := boot(t, vd(tc.sectors, false), vd(131072, false))
			pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tc.warn {
				want = []string{"<4>device-mapper: thin: Metadata device vda is larger than 33292800 sectors: excess space will not be used."}
			}
			if got := h.logs(); !slices.Equal(got, want) {
				t.Errorf("log %q, want %q", got, want)
			}
			total, _ := pool.ti().Impl.(*poolC).pool.pmd.MetadataDevSize()
			if total != tc.blocks {
				t.Errorf("metadata blocks %d, want %d", total, tc.blocks)
			}
			if !strings.HasSuffix(h.status(pool), " "+itoa(min(1024, tc.blocks/4))+" ") {
				t.Errorf("status %q: metadata low water mark", h.status(pool))
			}
		})
	}
}

// TestMetadataResize: the metadata space grows at resume when its device
// grew; a smaller device fails the resume.
func TestMetadataResize(t *testing.T) {
	h := boot(t, vd(8192, false), vd(131072, false))
	md := h.disk("/dev/vda")
	pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
	if err != nil {
		t.Fatal(err)
	}
	md.resize(16384)
	pool.suspend()
	if err := pool.resume(); err != nil {
		t.Fatal(err)
	}
	if got, want := h.logs(), []string{"<6>device-mapper: thin: 253:0: growing the metadata device from 1024 to 2048 blocks"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
	if s := h.status(pool); !strings.HasPrefix(s, "0 ") || !strings.Contains(s, "/2048 0/1024 - rw") || !strings.HasSuffix(s, " 512 ") {
		t.Errorf("status %q", s)
	}
	md.resize(8192)
	pool.suspend()
	if err := pool.resume(); err != linuxerr.EINVAL {
		t.Fatalf("resume with a smaller metadata device: %v", err)
	}
	if got, want := h.logs(), []string{"<3>device-mapper: thin: 253:0: metadata device (1024 blocks) too small: expected 2048",
		"<3>device-mapper: table: 253:0: thin-pool: preresume failed, error = -22"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
}

// TestDataResize: the data space follows the pool target's length at
// resume; a shorter table fails the resume.
func TestDataResize(t *testing.T) {
	// The data device has room for the partial block below.
	h := boot(t, vd(8192, false), vd(262144+127, false))
	pool, _, err := h.create("pool", 131072, poolType, "/dev/vda /dev/vdb 128 16")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.reload(pool, 262144, poolType, "/dev/vda /dev/vdb 128 16"); err != nil {
		t.Fatal(err)
	}
	if got, want := h.logs(), []string{"<6>device-mapper: thin: 253:0: growing the data device from 1024 to 2048 blocks"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
	if s := h.status(pool); !strings.Contains(s, " 0/2048 ") {
		t.Errorf("status %q", s)
	}
	// A partial block at the end is not used.
	if _, err := h.reload(pool, 262144+127, poolType, "/dev/vda /dev/vdb 128 16"); err != nil {
		t.Fatal(err)
	}
	if got := h.logs(); len(got) != 0 {
		t.Errorf("log %q", got)
	}
	if _, err := h.reload(pool, 131072, poolType, "/dev/vda /dev/vdb 128 16"); err != linuxerr.EINVAL {
		t.Fatalf("shrink: %v", err)
	}
	if got, want := h.logs(), []string{"<3>device-mapper: thin: 253:0: pool target (1024 blocks) too small: expected 2048",
		"<3>device-mapper: table: 253:0: thin-pool: preresume failed, error = -22"}; !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// checkReleased fails the test if a constructor left a device open.
func checkReleased(t testing.TB, h *env, paths ...string) {
	t.Helper()
	for i, n := range openCounts(h, paths...) {
		if n != 0 {
			t.Errorf("%s left open %d times", paths[i], n)
		}
	}
}

// openCounts are the open counts of the devices at paths.
func openCounts(h *env, paths ...string) []int {
	var out []int
	for _, p := range paths {
		out = append(out, h.disk(p).openCount())
	}
	return out
}
