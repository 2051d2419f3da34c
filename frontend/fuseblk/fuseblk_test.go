package fuseblk

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/dmsim/dmsim/internal/hostcaps"
)

// memDev is a Device in memory that counts what reaches it.
type memDev struct {
	mu               sync.Mutex
	data             []byte
	flushes          int
	discards, zeroes [][2]int64
	writes, reads    int
}

func (d *memDev) Size() int64 { return int64(len(d.data)) }
func (d *memDev) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	return copy(p, d.data[off:]), nil
}
func (d *memDev) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes++
	return copy(d.data[off:], p), nil
}
func (d *memDev) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushes++
	return nil
}
func (d *memDev) Discard(off, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.discards = append(d.discards, [2]int64{off, n})
	clear(d.data[off : off+n])
	return nil
}
func (d *memDev) WriteZeroes(off, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.zeroes = append(d.zeroes, [2]int64{off, n})
	clear(d.data[off : off+n])
	return nil
}

func mount(t *testing.T) *FS {
	t.Helper()
	hostcaps.RequireFUSE(t)
	fsys, err := Mount(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Unmount() })
	return fsys
}

// TestFileIO: every read, write, fsync and fallocate on the file reaches the
// device synchronously, and I/O past the end fails as on a block device.
func TestFileIO(t *testing.T) {
	fsys := mount(t)
	dev := &memDev{data: make([]byte, 1<<20)}
	if err := fsys.Add("thin", dev); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Add("thin", dev); err == nil {
		t.Error("a second file of the same name was added")
	}
	p := filepath.Join(fsys.Dir(), "thin")
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != 1<<20 {
		t.Fatalf("stat: %v, size %d", err, fi.Size())
	}
	f, err := os.OpenFile(p, os.O_RDWR|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := fsys.OpenCount("thin"); n != 1 {
		t.Errorf("open count %d, want 1", n)
	}
	buf := make([]byte, 8192) // O_DIRECT needs aligned memory; a large slice is page-aligned
	copy(buf, bytes.Repeat([]byte("dmsim"), 1000))
	if _, err := f.WriteAt(buf, 4096); err != nil {
		t.Fatal(err)
	}
	dev.mu.Lock()
	reached := dev.writes > 0 && bytes.Equal(dev.data[4096:4096+8192], buf)
	dev.mu.Unlock()
	if !reached {
		t.Fatal("the write did not reach the device")
	}
	got := make([]byte, 8192)
	if _, err := f.ReadAt(got, 4096); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("read back: %v", err)
	}
	err = f.Sync()
	dev.mu.Lock()
	flushes := dev.flushes
	dev.mu.Unlock()
	if err != nil || flushes != 1 {
		t.Fatalf("fsync: %v, %d flushes", err, flushes)
	}
	const punch = 0x01 | 0x02
	if err := syscall.Fallocate(int(f.Fd()), punch, 4096, 4096); err != nil {
		t.Fatalf("punch hole: %v", err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0x10, 8192, 4096); err != nil {
		t.Fatalf("zero range: %v", err)
	}
	dev.mu.Lock()
	if len(dev.discards) != 1 || dev.discards[0] != [2]int64{4096, 4096} || len(dev.zeroes) != 1 || dev.zeroes[0] != [2]int64{8192, 4096} {
		t.Errorf("discards %v, write-zeroes %v", dev.discards, dev.zeroes)
	}
	dev.mu.Unlock()
	if _, err := f.WriteAt(buf[:4096], 1<<20); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Errorf("write past the end: %v", err)
	}
	if n, _ := f.ReadAt(got[:4096], 1<<20); n != 0 {
		t.Errorf("read past the end gave %d bytes", n)
	}
	if err := f.Truncate(4096); err == nil {
		t.Error("truncate succeeded")
	}
	if err := fsys.Remove("thin"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("after remove: %v", err)
	}
	// The descriptor still open reaches a removed device.
	if _, err := f.ReadAt(got[:4096], 0); err == nil || !strings.Contains(err.Error(), "no such device") {
		t.Errorf("read after remove: %v", err)
	}
	f.Close()
	if err := fsys.Remove("thin"); err == nil {
		t.Error("a removed file was removed again")
	}
}

// TestLoopOnFile: a loop device attached to a device file is a real block
// device: blkdiscard through it reaches Discard.
func TestLoopOnFile(t *testing.T) {
	hostcaps.RequireLoop(t, "blkdiscard")
	fsys := mount(t)
	dev := &memDev{data: make([]byte, 4<<20)}
	if err := fsys.Add("d", dev); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--direct-io=on", filepath.Join(fsys.Dir(), "d")).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", loop).Run()
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+loop, "bs=64K", "count=4", "oflag=direct", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	if out, err := exec.Command("blkdiscard", "-o", "0", "-l", "1048576", loop).CombinedOutput(); err != nil {
		t.Fatalf("blkdiscard: %v: %s", err, out)
	}
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if dev.writes == 0 || len(dev.discards) == 0 {
		t.Errorf("through %s: %d writes, discards %v", loop, dev.writes, dev.discards)
	}
}
