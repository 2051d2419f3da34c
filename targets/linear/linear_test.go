package linear_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/linear"
)

func TestConstructorErrors(t *testing.T) {
	m := Boot(t, 4<<20)
	tests := []struct {
		params string
		err    linuxerr.Errno
		text   string
	}{
		{"/dev/vda", linuxerr.EINVAL, "Invalid argument count (-EINVAL)"},
		{"/dev/vda 0 0", linuxerr.EINVAL, "Invalid argument count (-EINVAL)"},
		{"", linuxerr.EINVAL, "Invalid argument count (-EINVAL)"},
		{"/dev/vda abc", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda -1", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda +1", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda 1x", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		// The offset is checked before the device.
		{"/dev/nonexistent abc", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/nonexistent 0", linuxerr.ENODEV, "Device lookup failed (-ENODEV)"},
		{"7:0 0", linuxerr.ENXIO, "Device lookup failed (-ENXIO)"},
		{"4096:0 0", linuxerr.EOVERFLOW, "Device lookup failed (-EOVERFLOW)"},
	}
	for _, tc := range tests {
		_, err := m.Create("bad", Spec(0, 8, "linear", tc.params))
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("%q: %v, want %v", tc.params, err, tc.err)
		}
		m.ExpectLog("<3>device-mapper: table: 253:0: linear: "+tc.text,
			"<3>device-mapper: ioctl: error adding target to table")
	}
	// An offset past the device is caught by the device-area check.
	_, err := m.Create("bad", Spec(0, 8, "linear", "/dev/vda 8190"))
	if linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Fatal(err)
	}
	m.ExpectLog("<3>device-mapper: table: 253:0: vda too small for target: start=8190, len=8, dev_size=8192",
		"<3>device-mapper: core: Cannot calculate initial queue limits",
		"<3>device-mapper: ioctl: unable to set up device queue for new table.")
}

func TestStatusAndIO(t *testing.T) {
	dir := t.TempDir()
	m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{
		{Path: filepath.Join(dir, "a"), Size: 4 << 20},
		{Path: filepath.Join(dir, "b"), Size: 4 << 20, NoDiscard: true},
	}})
	m.MustCreate("lin", Spec(0, 2048, "linear", "/dev/vda 100"))
	if got := m.StatusLines("lin", dmsim.StatusInfo); got[0] != "0 2048 linear " {
		t.Fatalf("status %q", got)
	}
	if got := m.StatusLines("lin", dmsim.StatusTable); got[0] != "0 2048 linear 254:0 100" {
		t.Fatalf("table %q", got)
	}
	m.Write("/dev/dm-0", 5, Pattern('z', 512))
	if got := m.Read("/dev/vda", 105, 512); !bytes.Equal(got, Pattern('z', 512)) {
		t.Fatal("offset mapping")
	}
	// Discards pass through to a disk that takes them.
	dev := m.Bdev("/dev/dm-0")
	if !dev.Limits().DiscardSupported() {
		t.Fatal("linear on a discard disk does not advertise discard")
	}
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 5, nil, nil)
	bio.Sectors = 1
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	if got := m.Read("/dev/vda", 105, 512); !bytes.Equal(got, make([]byte, 512)) {
		t.Fatal("discard did not reach the disk")
	}
	// A linear device over a disk without discard does not take them.
	m.MustCreate("nd", Spec(0, 8, "linear", "/dev/vdb 0"))
	if m.Bdev("/dev/dm-1").Limits().DiscardSupported() {
		t.Fatal("discard advertised over a nodiscard disk")
	}
	// A mixed table: discard only if every device takes it.
	m.MustCreate("mix", Spec(0, 8, "linear", "/dev/vda 0"), Spec(8, 8, "linear", "/dev/vdb 0"))
	if m.Bdev("/dev/dm-2").Limits().DiscardSupported() {
		t.Fatal("discard advertised over a mixed table")
	}
	// Open counts: one per (device, mode) per mapped device.
	if n := m.K.OpenCount(dmsim.DevT{Major: 254, Minor: 0}); n != 2 {
		t.Fatalf("vda open count %d", n)
	}
}

func TestTableDeviceModes(t *testing.T) {
	m := Boot(t, 1<<20)
	vda := dmsim.DevT{Major: 254, Minor: 0}
	ref := dmsim.DevRef{Name: "d"}
	m.API.DevCreate("d", "", dmsim.IoctlFlags{})
	if _, err := m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 8, "linear", "/dev/vda 0")}, dmsim.IoctlFlags{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	m.API.DevResume(ref, dmsim.IoctlFlags{})
	if n := m.K.OpenCount(vda); n != 1 {
		t.Fatalf("open count %d", n)
	}
	// The same device in the same mode from a second table: no new open.
	m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 8, "linear", "/dev/vda 8")}, dmsim.IoctlFlags{ReadOnly: true})
	if n := m.K.OpenCount(vda); n != 1 {
		t.Fatalf("open count %d with a read-only inactive table", n)
	}
	// In another mode: a second open, until the first table goes.
	m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 8, "linear", "/dev/vda 8")}, dmsim.IoctlFlags{})
	if n := m.K.OpenCount(vda); n != 2 {
		t.Fatalf("open count %d with a read-write inactive table", n)
	}
	if info, _ := m.API.DevResume(ref, dmsim.IoctlFlags{}); info.ReadOnly {
		t.Fatal("still read-only")
	}
	if n := m.K.OpenCount(vda); n != 1 {
		t.Fatalf("open count %d after the swap", n)
	}
	m.API.DevRemove(ref, dmsim.IoctlFlags{})
	if n := m.K.OpenCount(vda); n != 0 {
		t.Fatalf("open count %d after remove", n)
	}
}
