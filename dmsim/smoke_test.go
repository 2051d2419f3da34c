package dmsim_test

import (
	"bytes"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	_ "github.com/dmsim/dmsim/targets/all"
)

func TestSmokeLinear(t *testing.T) {
	m := Boot(t, 4<<20, 64<<20)
	m.MustCreate("lin", Spec(0, 1024, "linear", "/dev/vda 0"), Spec(1024, 1024, "linear", "/dev/vdb 2048"))
	m.ExpectLog()
	m.Write("/dev/dm-0", 1020, Pattern('x', 8*512))
	if got := m.Read("/dev/vda", 1020, 4*512); !bytes.Equal(got, Pattern('x', 4*512)) {
		t.Fatal("vda content")
	}
	if got := m.Read("/dev/vdb", 2048, 4*512); !bytes.Equal(got, Pattern('x', 4*512)) {
		t.Fatal("vdb content")
	}
	if got := m.StatusLines("lin", dmsim.StatusTable); got[0] != "0 1024 linear 254:0 0" || got[1] != "1024 1024 linear 254:16 2048" {
		t.Fatalf("table %q", got)
	}
}
