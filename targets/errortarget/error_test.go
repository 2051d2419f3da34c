package errortarget_test

import (
	"context"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/errortarget"
	_ "github.com/dmsim/dmsim/targets/linear"
)

func TestErrorTarget(t *testing.T) {
	m := Boot(t, 1<<20)
	m.MustCreate("e", Spec(0, 100, "error", "any args are ignored"))
	m.ExpectLog()
	if got := m.StatusLines("e", dmsim.StatusTable); got[0] != "0 100 error " {
		t.Fatalf("table %q", got)
	}
	if got := m.StatusLines("e", dmsim.StatusInfo); got[0] != "0 100 error " {
		t.Fatalf("status %q", got)
	}
	dev := m.Bdev("/dev/dm-0")
	for _, op := range []dmsim.Op{dmsim.OpRead, dmsim.OpWrite} {
		if err := m.IO(op, dev, 0, make([]byte, 512)); linuxerr.ToErrno(err) != linuxerr.EIO {
			t.Fatalf("%s: %v", op, err)
		}
	}
	// No devices: no write cache (flushes succeed) and no discard.
	if err := m.IO(dmsim.OpFlush, dev, 0, nil); err != nil {
		t.Fatal(err)
	}
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 0, nil, nil)
	bio.Sectors = 8
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); linuxerr.ToErrno(err) != linuxerr.EOPNOTSUPP {
		t.Fatal(err)
	}
	// dmsetup wipe_table: an error table replaces a linear one.
	m.MustCreate("w", Spec(0, 8, "linear", "/dev/vda 0"))
	if _, err := m.API.TableLoad(dmsim.DevRef{Name: "w"}, []dmsim.TargetSpec{Spec(0, 8, "error", "")}, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.API.DevResume(dmsim.DevRef{Name: "w"}, dmsim.IoctlFlags{NoFlush: true}); err != nil {
		t.Fatal(err)
	}
	if n := m.K.OpenCount(dmsim.DevT{Major: 254, Minor: 0}); n != 0 {
		t.Fatalf("vda still open %d", n)
	}
}
