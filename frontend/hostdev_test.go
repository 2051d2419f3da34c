package frontend

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/internal/hostcaps"
)

// TestHostDeviceGeometryAtOpen: a host loop device reattached to a file of
// another size between two opens shows its new size, as the host's own
// open would.
func TestHostDeviceGeometryAtOpen(t *testing.T) {
	hostcaps.RequireLoop(t)
	small, big := t.TempDir()+"/small", t.TempDir()+"/big"
	os.WriteFile(small, nil, 0o644)
	os.Truncate(small, 1<<20)
	os.WriteFile(big, nil, 0o644)
	os.Truncate(big, 4<<20)
	out, err := exec.Command("losetup", "--find", "--show", small).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()

	h := newHostDevices(&Daemon{})
	bd, err := h.Lookup(dev)
	if err != nil {
		t.Fatal(err)
	}
	b := bd.(*hostBdev)
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	if got := b.Size(); got != 2048 {
		t.Errorf("size %d sectors, want 2048", got)
	}
	b.Release()
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -d: %v: %s", err, out)
	}
	if out, err := exec.Command("losetup", dev, big).CombinedOutput(); err != nil {
		t.Fatalf("losetup %s: %v: %s", dev, err, out)
	}
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if got := b.Size(); got != 8192 {
		t.Errorf("after reattaching: size %d sectors, want 8192", got)
	}
	if b2, _ := h.Lookup(dev); b2 != bd {
		t.Error("a second lookup made a second device")
	}
}
