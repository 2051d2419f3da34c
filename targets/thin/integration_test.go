package thin

import (
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// TestHeldIOThroughCore: with no_space_timeout 0 a write to a full pool is
// held; suspending the pool (which internally suspends the thin with
// noflush, requeueing the held bio in the core) and resuming it grown lets
// the write through.
func TestHeldIOThroughCore(t *testing.T) {
	h := boot(t, vd(4<<20/dmsim.SectorSize, false), vd(8<<20/dmsim.SectorSize, false))
	if err := h.K.SetModuleParam(moduleName, "no_space_timeout", "0"); err != nil {
		t.Fatal(err)
	}
	pool, _, err := h.create("pool", 2048, poolType, "/dev/vda /dev/vdb 128 0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.message(pool, "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	thin, _, err := h.create("thin", 16384, thinType, "/dev/mapper/pool 0")
	if err != nil {
		t.Fatal(err)
	}
	for b := uint64(0); b < 16; b++ {
		if err := h.write(thin, b*128, fill('a', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	wait := h.async(func() error { return h.write(thin, 16*128, fill('b', 65536)) })
	h.Sleep(3e9)
	status := func() string { return strings.Join(h.StatusLines("pool", dmsim.StatusInfo), "\n") }
	if s := status(); s != "0 2048 thin-pool 0 112/1024 16/16 - out_of_data_space discard_passdown queue_if_no_space - 256 " {
		t.Errorf("status %q", s)
	}
	if _, err := h.reload(pool, 4096, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("held write: %v", err)
	}
	if s := status(); s != "0 4096 thin-pool 0 112/1024 17/32 - rw discard_passdown queue_if_no_space - 256 " {
		t.Errorf("status %q", s)
	}
}
