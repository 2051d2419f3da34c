package zero_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/zero"
)

func TestZero(t *testing.T) {
	m := BootConfig(t, dmsim.Config{})
	if m.K.ModuleLoaded("dm_zero") {
		t.Fatal("loaded at boot")
	}
	_, err := m.Create("z", Spec(0, 8, "zero", "x"))
	if linuxerr.ToErrno(err) != linuxerr.EINVAL {
		t.Fatal(err)
	}
	m.ExpectLog("<3>device-mapper: table: 253:0: zero: No arguments required (-EINVAL)",
		"<3>device-mapper: ioctl: error adding target to table")
	if !m.K.ModuleLoaded("dm-zero") {
		t.Fatal("not loaded by the lookup (request_module)")
	}
	m.MustCreate("z", Spec(0, 1<<30, "zero", ""))
	dev := m.Bdev("/dev/dm-0")
	m.Write("/dev/dm-0", 100, Pattern('x', 4096))
	if got := m.Read("/dev/dm-0", 100, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("read not zero")
	}
	buf := Pattern('y', 512)
	if err := m.IO(dmsim.OpRead, dev, 1<<30-1, buf); err != nil || buf[0] != 0 {
		t.Fatal("zero fill")
	}
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 0, nil, nil)
	bio.Sectors = 8
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); linuxerr.ToErrno(err) != linuxerr.EOPNOTSUPP {
		t.Fatalf("discard: %v", err)
	}
	if got := m.StatusLines("z", dmsim.StatusTable); got[0] != "0 1073741824 zero " {
		t.Fatalf("%q", got)
	}
}

func TestModprobe(t *testing.T) {
	m := Boot(t)
	if err := m.K.Modprobe("dm-zero", nil); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog()
	if v := m.API.ListVersions(); v[0].Name != "zero" || v[0].Version != [3]uint32{1, 1, 0} {
		t.Fatalf("%v", v)
	}
}
