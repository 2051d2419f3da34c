package dmsim_test

import (
	"bytes"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

func TestSmokeLinear(t *testing.T) {
	m := boot(t, 4<<20, 64<<20)
	m.mustCreate("lin", spec(0, 1024, "linear", "/dev/vda 0"), spec(1024, 1024, "linear", "/dev/vdb 2048"))
	m.expectLog()
	m.write("/dev/dm-0", 1020, pattern('x', 8*512))
	if got := m.read("/dev/vda", 1020, 4*512); !bytes.Equal(got, pattern('x', 4*512)) {
		t.Fatal("vda content")
	}
	if got := m.read("/dev/vdb", 2048, 4*512); !bytes.Equal(got, pattern('x', 4*512)) {
		t.Fatal("vdb content")
	}
	if got := m.statusLines("lin", dmsim.StatusTable); got[0] != "0 1024 linear 254:0 0" || got[1] != "1024 1024 linear 254:16 2048" {
		t.Fatalf("table %q", got)
	}
}
