package thin

import (
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/dmsim/dmsimtest"
)

// The thin tests run the targets on the real core through dmsimtest: env
// adds the think time a replayed transcript needs, and dev names a block
// device of the test.

// env is a booted kernel with dm_thin_pool loaded.
type env struct {
	*dmsimtest.Env
	t testing.TB
	// think is virtual time that passes before each status, message, read
	// and write, as a real machine takes time to run the commands.
	think time.Duration
}

// dev is a block device of the test: a virtio disk, a ram disk or a mapped
// device (by its dmsetup name).
type dev struct {
	h    *env
	name string // dm name; "" for a disk
	path string
}

// vd is a virtio disk of sectors 512-byte sectors, with discard support
// unless noDiscard.
func vd(sectors uint64, noDiscard bool) dmsim.DiskSpec {
	return dmsim.DiskSpec{Size: int64(sectors) * dmsim.SectorSize, NoDiscard: noDiscard}
}

// boot boots a kernel with dm_thin_pool and the given virtio disks.
func boot(t testing.TB, disks ...dmsim.DiskSpec) *env {
	t.Helper()
	if disks == nil {
		disks = []dmsim.DiskSpec{}
	}
	e := dmsimtest.BootConfig(t, dmsim.Config{BootModules: []string{moduleName}, Disks: disks})
	return &env{Env: e, t: t}
}

// disk is the block device at path (/dev/vda, /dev/ram0, ...).
func (h *env) disk(path string) *dev { return &dev{h: h, path: path} }

// tick lets the think time pass before a command.
func (h *env) tick() {
	if h.think > 0 {
		h.Sleep(h.think)
	}
}

// create is `dmsetup create NAME --table "0 LENGTH TYPE ARGS"`: on
// failure the constructor's error text and errno come back.
func (h *env) create(name string, length uint64, typ *dmsim.TargetType, args string) (*dev, string, error) {
	text, err := h.CtrError(func() error {
		_, err := h.Create(name, dmsimtest.Spec(0, length, typ.Name, args))
		return err
	})
	if err != nil {
		return nil, text, err
	}
	return &dev{h: h, name: name, path: "/dev/mapper/" + name}, "", nil
}

// reload is `dmsetup reload` + `dmsetup suspend` + `dmsetup resume`.
func (h *env) reload(d *dev, length uint64, typ *dmsim.TargetType, args string) (string, error) {
	return h.CtrError(func() error { return h.Reload(d.name, dmsimtest.Spec(0, length, typ.Name, args)) })
}

// remove is `dmsetup remove`.
func (h *env) remove(d *dev) {
	h.t.Helper()
	if err := h.Remove(d.name); err != nil {
		h.t.Fatalf("remove %s: %v", d.name, err)
	}
}

func (h *env) status(d *dev) string {
	h.tick()
	return h.Params(d.name, dmsim.StatusInfo, false)
}

func (h *env) table(d *dev) string { return h.Params(d.name, dmsim.StatusTable, false) }

func (h *env) message(d *dev, msg string) error {
	h.tick()
	return h.Message(d.name, msg)
}

// io submits one bio to d and waits for it in virtual time.
func (h *env) io(op dmsim.Op, d *dev, sector uint64, data []byte) error {
	return h.IO(op, h.Bdev(d.path), sector, data)
}

func (h *env) write(d *dev, sector uint64, data []byte) error {
	h.tick()
	return h.io(dmsim.OpWrite, d, sector, data)
}

func (h *env) read(d *dev, sector uint64, n int) ([]byte, error) {
	h.tick()
	buf := make([]byte, n)
	err := h.io(dmsim.OpRead, d, sector, buf)
	return buf, err
}

func (h *env) discard(d *dev, sector, count uint64) error { return h.Discard(d.path, sector, count) }
func (h *env) flush(d *dev) error                         { return h.Flush(d.path) }

// logs returns and clears the kernel log as "<L>text" lines.
func (h *env) logs() []string { return h.Log() }

// async runs fn as another actor (a second process); the returned function
// waits for it.
func (h *env) async(fn func() error) func() error {
	var err error
	ev := h.Go(func() { err = fn() })
	return func() error {
		if e := ev.Wait(h.t.Context()); e != nil {
			return e
		}
		return err
	}
}

// suspend is `dmsetup suspend`; resume `dmsetup resume`.
func (d *dev) suspend() {
	d.h.t.Helper()
	if err := d.h.Suspend(d.name, false); err != nil {
		d.h.t.Fatalf("suspend %s: %v", d.name, err)
	}
}

func (d *dev) resume() error { return d.h.Resume(d.name) }

// events is the device's event counter.
func (d *dev) events() uint32 { return d.h.EventNr(d.name) }

// ti is the target of the device's live table.
func (d *dev) ti() *dmsim.DMTarget { return d.h.Target(d.name) }

// limits are the device's queue limits.
func (d *dev) limits() dmsim.QueueLimits { return d.h.Bdev(d.path).Limits() }

// image is the host file of a virtio disk.
func (d *dev) image() string { return d.h.Disk(d.path).Path() }

// faults is the fault injector of a virtio disk.
func (d *dev) faults() *dmsim.Faults { return d.h.Faults(d.path) }

// resize grows or shrinks a virtio disk to sectors.
func (d *dev) resize(sectors uint64) {
	d.h.t.Helper()
	if err := d.h.Disk(d.path).Resize(int64(sectors) * dmsim.SectorSize); err != nil {
		d.h.t.Fatal(err)
	}
}

// openCount is how many holders have d open (dm_get_device's claims).
func (d *dev) openCount() int { return d.h.OpenCount(d.path) }

// takeDiscards returns the discards a virtio disk received since the
// last call (sector, count), and clears them; the first call starts
// recording.
func (d *dev) takeDiscards() [][2]uint64 {
	f := d.faults()
	f.Trace(true)
	var out [][2]uint64
	for _, io := range f.TakeIOs() {
		if io.Op == dmsim.OpDiscard {
			out = append(out, [2]uint64{io.Sector, io.Sectors})
		}
	}
	return out
}

// fill returns n bytes of the repeated line "c\n", as `yes c` writes.
func fill(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if i%2 == 0 {
			b[i] = c
		} else {
			b[i] = '\n'
		}
	}
	return b
}
