package striped_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/errortarget"
	_ "github.com/dmsim/dmsim/targets/linear"
	_ "github.com/dmsim/dmsim/targets/striped"
)

func TestConstructorErrors(t *testing.T) {
	m := Boot(t, 4<<20, 4<<20)
	tests := []struct {
		length uint64
		params string
		err    linuxerr.Errno
		text   string
	}{
		{64, "2", linuxerr.EINVAL, "Not enough arguments"},
		{64, "0 8 /dev/vda 0", linuxerr.EINVAL, "Invalid stripe count"},
		{64, "x 8 /dev/vda 0", linuxerr.EINVAL, "Invalid stripe count"},
		{64, "-1 8 /dev/vda 0", linuxerr.EINVAL, "Invalid stripe count"},
		{64, "4294967296 8", linuxerr.EINVAL, "Invalid stripe count"},
		{64, "1 0 /dev/vda 0", linuxerr.EINVAL, "Invalid chunk_size"},
		{64, "1 8k /dev/vda 0", linuxerr.EINVAL, "Invalid chunk_size"},
		{63, "2 8 /dev/vda 0 /dev/vdb 0", linuxerr.EINVAL, "Target length not divisible by number of stripes"},
		{64, "2 24 /dev/vda 0 /dev/vdb 0", linuxerr.EINVAL, "Target length not divisible by chunk size"},
		{64, "2 8 /dev/vda 0", linuxerr.EINVAL, "Not enough destinations specified"},
		{64, "2 8 /dev/vda 0 /dev/vdb 0 x", linuxerr.EINVAL, "Not enough destinations specified"},
		{64, "2 8 /dev/vda 0 /dev/vdb x", linuxerr.EINVAL, "Couldn't parse stripe destination"},
		{64, "2 8 /dev/vda 0 /dev/nope 0", linuxerr.ENODEV, "Couldn't parse stripe destination"},
		{64, "2 8 /dev/vda 0 7:0 0", linuxerr.ENXIO, "Couldn't parse stripe destination"},
		// 2 + 2*2^31 wraps to 2 in the kernel's unsigned arithmetic.
		{1 << 31, "2147483648 1", linuxerr.ENOMEM, "Memory allocation for striped context failed"},
	}
	for _, tc := range tests {
		_, err := m.Create("bad", Spec(0, tc.length, "striped", tc.params))
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("%q: %v, want %v", tc.params, err, tc.err)
		}
		m.ExpectLog("<3>device-mapper: table: 253:0: striped: "+tc.text+" (-"+tc.err.Name()+")",
			"<3>device-mapper: ioctl: error adding target to table")
	}
	// Devices taken before a failing one are released.
	for _, d := range []uint32{0, 16} {
		if n := m.K.OpenCount(dmsim.DevT{Major: 254, Minor: d}); n != 0 {
			t.Fatalf("254:%d still open (%d)", d, n)
		}
	}
	// Each stripe's area is checked.
	_, err := m.Create("bad", Spec(0, 16384, "striped", "2 8 /dev/vda 0 /dev/vdb 8"))
	if linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Fatal(err)
	}
	m.ExpectLog("<3>device-mapper: table: 253:0: vdb too small for target: start=8, len=8192, dev_size=8192",
		"<3>device-mapper: core: Cannot calculate initial queue limits",
		"<3>device-mapper: ioctl: unable to set up device queue for new table.")
}

// Three stripes with a chunk size that is not a power of two: sector s of
// the target is in chunk s/24, which is on stripe chunk%3, chunk/3 chunks
// into it.
func TestMapping(t *testing.T) {
	m := Boot(t, 1<<20, 1<<20, 1<<20)
	m.MustCreate("s", Spec(0, 3*24*4, "striped", "3 24 /dev/vda 0 /dev/vdb 10 /dev/vdc 20"))
	src := make([]byte, 3*24*4*512)
	for i := range src {
		src[i] = byte(i / 512)
	}
	m.Write("/dev/dm-0", 0, src)
	disks := []string{"/dev/vda", "/dev/vdb", "/dev/vdc"}
	offs := []uint64{0, 10, 20}
	for s := uint64(0); s < 3*24*4; s++ {
		chunk := s / 24
		st := chunk % 3
		pos := (chunk/3)*24 + s%24 + offs[st]
		if got := m.Read(disks[st], pos, 512); got[0] != byte(s) {
			t.Fatalf("sector %d: on %s@%d found %d", s, disks[st], pos, got[0])
		}
	}
	if got := m.Read("/dev/dm-0", 0, len(src)); !bytes.Equal(got, src) {
		t.Fatal("read back")
	}
	if got := m.StatusLines("s", dmsim.StatusTable); got[0] != "0 288 striped 3 24 254:0 0 254:16 10 254:32 20" {
		t.Fatalf("%q", got)
	}
	if got, _ := m.K.SysfsRead("/sys/block/dm-0/queue/optimal_io_size"); got != "36864\n" {
		t.Fatalf("io_opt %q", got)
	}
}

func TestDiscardPerStripe(t *testing.T) {
	m := Boot(t, 1<<20, 1<<20)
	m.MustCreate("s", Spec(0, 64, "striped", "2 8 /dev/vda 0 /dev/vdb 0"))
	m.Write("/dev/dm-0", 0, Pattern('x', 64*512))
	dev := m.Bdev("/dev/dm-0")
	// Sectors 4..28: chunk 0 (vda 4..8), chunk 1 (vdb 0..8), chunk 2 (vda
	// 8..16), chunk 3 (vdb 8..12).
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 4, nil, nil)
	bio.Sectors = 24
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	vda, vdb := m.Read("/dev/vda", 0, 32*512), m.Read("/dev/vdb", 0, 32*512)
	zero := func(b []byte, from, to int) bool { return bytes.Equal(b[from*512:to*512], make([]byte, (to-from)*512)) }
	if !zero(vda, 4, 16) || zero(vda, 0, 1) || zero(vda, 16, 17) {
		t.Fatal("vda discard range")
	}
	if !zero(vdb, 0, 12) || zero(vdb, 12, 13) {
		t.Fatal("vdb discard range")
	}
}

// A failing stripe device is marked 'D' and raises an event.
func TestErrorMarksStripeDead(t *testing.T) {
	m := Boot(t, 1<<20)
	bad := m.MustCreate("bad", Spec(0, 64, "error", ""))
	m.MustCreate("s", Spec(0, 128, "striped", "2 8 /dev/vda 0 "+bad.Dev.String()+" 0"))
	dev := m.Bdev("/dev/dm-1")
	if err := m.IO(dmsim.OpWrite, dev, 0, make([]byte, 8*512)); err != nil {
		t.Fatal(err)
	}
	if err := m.IO(dmsim.OpWrite, dev, 8, make([]byte, 8*512)); linuxerr.ToErrno(err) != linuxerr.EIO {
		t.Fatalf("write to the error stripe: %v", err)
	}
	m.Settle()
	if got := m.StatusLines("s", dmsim.StatusInfo); got[0] != "0 128 striped 2 254:0 253:0 1 AD" {
		t.Fatalf("%q", got)
	}
	info, _ := m.API.DevStatus(dmsim.DevRef{Name: "s"}, dmsim.IoctlFlags{})
	if info.EventNr != 1 {
		t.Fatalf("event %d", info.EventNr)
	}
	// Events stop at the error threshold.
	for i := 0; i < 20; i++ {
		m.IO(dmsim.OpRead, dev, 8, make([]byte, 512))
	}
	m.Settle()
	info, _ = m.API.DevStatus(dmsim.DevRef{Name: "s"}, dmsim.IoctlFlags{})
	if info.EventNr != 14 {
		t.Fatalf("events %d, want 14", info.EventNr)
	}
}

func TestFlushToEveryStripe(t *testing.T) {
	m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{
		{Path: t.TempDir() + "/a", Size: 1 << 20, VolatileCache: true},
		{Path: t.TempDir() + "/b", Size: 1 << 20, VolatileCache: true},
	}})
	m.MustCreate("s", Spec(0, 64, "striped", "2 8 /dev/vda 0 /dev/vdb 0"))
	m.Write("/dev/dm-0", 0, Pattern('f', 16*512))
	disks := m.K.Disks()
	if disks[0].DirtySectors() != 8 || disks[1].DirtySectors() != 8 {
		t.Fatal("writes not cached")
	}
	if err := m.IO(dmsim.OpFlush, m.Bdev("/dev/dm-0"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if disks[0].DirtySectors() != 0 || disks[1].DirtySectors() != 0 {
		t.Fatal("flush did not reach both stripes")
	}
}
