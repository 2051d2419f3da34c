package thin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// This file is a small stand-in for the dmsim core, enough to run the
// targets end to end: in-memory disks, mapped devices that clone, split and
// map bios, table load/suspend/resume, and the coreOps the targets call.

// memDisk is a sparse RAM-backed block device that completes bios inline.
type memDisk struct {
	name    string
	dev     dmsim.DevT
	limits  dmsim.QueueLimits
	sectors uint64

	mu       sync.Mutex
	chunks   map[uint64][]byte // chunkSize pieces; absent reads as zeroes
	discards [][2]uint64       // discards received: sector, count
	writes   int
	flushes  int
}

const chunkSize = 64 << 10

func newMemDisk(name string, dev dmsim.DevT, sectors uint64, discard bool) *memDisk {
	l := dmsim.DefaultQueueLimits()
	l.MaxSectors = 2560
	if discard {
		l.MaxDiscardSectors = 1 << 22
		l.DiscardGranularity = 512
	}
	return &memDisk{name: name, dev: dev, limits: l, sectors: sectors, chunks: map[uint64][]byte{}}
}

func (d *memDisk) Name() string              { return d.name }
func (d *memDisk) Dev() dmsim.DevT           { return d.dev }
func (d *memDisk) Size() uint64              { return d.sectors }
func (d *memDisk) Limits() dmsim.QueueLimits { return d.limits }
func (d *memDisk) ReadOnly() bool            { return false }

// rw copies between p and the disk at byte offset off.
func (d *memDisk) rw(p []byte, off uint64, write bool) {
	for len(p) > 0 {
		ci, co := off/chunkSize, off%chunkSize
		n := min(uint64(len(p)), chunkSize-co)
		c := d.chunks[ci]
		if write {
			if c == nil {
				c = make([]byte, chunkSize)
				d.chunks[ci] = c
			}
			copy(c[co:co+n], p[:n])
		} else if c == nil {
			clear(p[:n])
		} else {
			copy(p[:n], c[co:co+n])
		}
		p, off = p[n:], off+n
	}
}

// bytes is the whole disk image.
func (d *memDisk) bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := make([]byte, d.sectors*dmsim.SectorSize)
	d.rw(b, 0, false)
	return b
}

func (d *memDisk) Submit(bio *dmsim.Bio) {
	d.mu.Lock()
	off := bio.Sector * dmsim.SectorSize
	n := bio.Size() * dmsim.SectorSize
	if bio.Sector+bio.Size() > d.sectors {
		d.mu.Unlock()
		bio.Endio(linuxerr.EIO)
		return
	}
	switch bio.Op {
	case dmsim.OpRead:
		d.rw(bio.Data[:n], off, false)
	case dmsim.OpWrite:
		d.rw(bio.Data[:n], off, true)
		d.writes++
	case dmsim.OpDiscard:
		d.discards = append(d.discards, [2]uint64{bio.Sector, bio.Sectors})
	case dmsim.OpFlush:
		d.flushes++
	}
	d.mu.Unlock()
	bio.Endio(nil)
}

func (d *memDisk) takeDiscards() [][2]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.discards
	d.discards = nil
	return out
}

// testMD is a mapped device with a one-target table.
type testMD struct {
	h    *harness
	md   *dmsim.MappedDevice
	name string
	dev  dmsim.DevT
	ti   *dmsim.DMTarget

	limits dmsim.QueueLimits // stacked at table load

	mu        sync.Mutex
	suspended bool
	events    int
	held      []*dmsim.Bio // bios queued while suspended
}

func (m *testMD) Name() string    { return fmt.Sprintf("dm-%d", m.dev.Minor) }
func (m *testMD) Dev() dmsim.DevT { return m.dev }
func (m *testMD) Size() uint64 {
	if m.ti == nil {
		return 0
	}
	return m.ti.Len
}
func (m *testMD) ReadOnly() bool            { return false }
func (m *testMD) Limits() dmsim.QueueLimits { return m.limits }

// stackLimits is dm_calculate_queue_limits() for a one-target table: the
// limits of the devices the target uses, then the target's io_hints.
func stackLimits(ti *dmsim.DMTarget) dmsim.QueueLimits {
	l := dmsim.DefaultQueueLimits()
	l.MaxSectors = 2560
	if it, ok := ti.Impl.(dmsim.DeviceIterator); ok {
		_ = it.IterateDevices(func(dev *dmsim.DMDev, start, length uint64) error {
			dl := dev.Bdev.Limits()
			l.MaxDiscardSectors = dl.MaxDiscardSectors
			l.DiscardGranularity = dl.DiscardGranularity
			l.IOOpt = max(l.IOOpt, dl.IOOpt)
			l.IOMin = max(l.IOMin, dl.IOMin)
			return nil
		})
	}
	if ti.DiscardsSupported && l.MaxDiscardSectors == 0 {
		l.MaxDiscardSectors = 1 << 22
	}
	if h, ok := ti.Impl.(dmsim.IOHinter); ok {
		h.IOHints(&l)
	}
	return l
}

// Submit splits the bio at the target's max_io_len and maps each piece.
func (m *testMD) Submit(bio *dmsim.Bio) {
	m.mu.Lock()
	if m.suspended {
		m.held = append(m.held, bio)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	ti := m.ti
	if bio.Op == dmsim.OpFlush || bio.Size() == 0 {
		m.mapClone(bio, bio.Clone(0, 0, nil))
		return
	}
	// 6.1 does not split discards at max_io_len
	// (__send_changing_extent_only() only stops at the target's end).
	if bio.Op == dmsim.OpDiscard {
		m.mapClone(bio, bio.Clone(0, bio.Sectors, nil))
		return
	}
	// Split at multiples of MaxIOLen.
	var pieces [][2]uint64
	for off := uint64(0); off < bio.Size(); {
		n := bio.Size() - off
		if ti.MaxIOLen > 0 {
			rel := bio.Sector + off - ti.Begin
			if lim := ti.MaxIOLen - rel%ti.MaxIOLen; n > lim {
				n = lim
			}
		}
		pieces = append(pieces, [2]uint64{off, n})
		off += n
	}
	var mu sync.Mutex
	left := len(pieces)
	var first error
	for _, pc := range pieces {
		c := bio.Clone(pc[0], pc[1], nil)
		c.SetEndio(func(_ *dmsim.Bio, err error) {
			mu.Lock()
			if err != nil && first == nil {
				first = err
			}
			left--
			done := left == 0
			e := first
			mu.Unlock()
			if done {
				bio.Endio(e)
			}
		})
		m.mapClone(c, bio.Clone(pc[0], pc[1], nil))
	}
}

// mapClone maps clone for the piece part (completing part when done).
func (m *testMD) mapClone(part, clone *dmsim.Bio) {
	clone.SetEndio(func(c *dmsim.Bio, err error) {
		if e, ok := m.ti.Impl.(dmsim.EndIOer); ok {
			err, _ = e.EndIO(c, err)
		}
		part.Endio(err)
	})
	switch m.ti.Impl.Map(clone) {
	case dmsim.MapRemapped:
		clone.Dev.Submit(clone)
	case dmsim.MapSubmitted:
	case dmsim.MapKill:
		clone.Endio(linuxerr.EIO)
	case dmsim.MapRequeue:
		clone.Endio(linuxerr.EIO)
	}
}

func (m *testMD) suspend() {
	if ps, ok := m.ti.Impl.(dmsim.PreSuspender); ok {
		ps.PreSuspend()
	}
	m.mu.Lock()
	m.suspended = true
	m.mu.Unlock()
	if ps, ok := m.ti.Impl.(dmsim.PostSuspender); ok {
		ps.PostSuspend()
	}
}

func (m *testMD) resume() error {
	if pr, ok := m.ti.Impl.(dmsim.PreResumer); ok {
		if err := pr.PreResume(); err != nil {
			return err
		}
	}
	if r, ok := m.ti.Impl.(dmsim.Resumer); ok {
		r.Resume()
	}
	m.mu.Lock()
	m.suspended = false
	held := m.held
	m.held = nil
	m.mu.Unlock()
	for _, b := range held {
		m.Submit(b)
	}
	return nil
}

// harness is one booted kernel with disks and mapped devices.
type harness struct {
	t      testing.TB
	mu     sync.Mutex // the maps below
	k      *dmsim.Kernel
	disks  map[string]dmsim.BlockDevice // by path and by "M:m"
	mds    map[*dmsim.Table]*testMD
	byMD   map[*dmsim.MappedDevice]*testMD
	params map[string]string
	minor  uint32
	nvirt  uint32
	puts   int
	gets   int
	// think is virtual time that passes before each command, as a real
	// machine takes time to run them.
	think time.Duration
}

// tick lets the think time pass before a command.
func (h *harness) tick() {
	if h.think > 0 {
		_ = h.k.Clock.Sleep(context.Background(), h.think)
	}
}

func newHarness(t testing.TB) *harness {
	k, err := dmsim.NewKernel(dmsim.Config{DMMajor: 253})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, k: k, disks: map[string]dmsim.BlockDevice{}, mds: map[*dmsim.Table]*testMD{},
		byMD: map[*dmsim.MappedDevice]*testMD{}, params: map[string]string{}}
	prev := core
	core = fakeCore{h}
	k.Clock.Enter() // the test is an actor
	t.Cleanup(func() {
		k.Clock.Exit()
		core = prev
	})
	return h
}

func (h *harness) addDisk(path string, d dmsim.BlockDevice) {
	h.disks[path] = d
	h.disks[d.Dev().String()] = d
}

// disk adds a virtio-like disk /dev/vdX.
func (h *harness) disk(sectors uint64, discard bool) *memDisk {
	i := h.nvirt
	h.nvirt++
	d := newMemDisk("vd"+string(rune('a'+i)), dmsim.DevT{Major: 254, Minor: 16 * i}, sectors, discard)
	h.addDisk("/dev/"+d.name, d)
	return d
}

// create loads and resumes a one-target table on a new device, as
// `dmsetup create` does; on failure the error text and errno come back.
func (h *harness) create(name string, length uint64, typ *dmsim.TargetType, args string) (*testMD, string, error) {
	m := &testMD{h: h, md: &dmsim.MappedDevice{}, name: name, dev: dmsim.DevT{Major: 253, Minor: h.minor}}
	h.minor++
	if err := h.load(m, length, typ, args); err != nil {
		h.minor--
		return nil, m.ti.Error, err
	}
	h.addDisk("/dev/mapper/"+name, m)
	if err := m.resume(); err != nil {
		return m, "", err
	}
	return m, "", nil
}

// load builds a table for m (replacing its live one).
func (h *harness) load(m *testMD, length uint64, typ *dmsim.TargetType, args string) error {
	ti := &dmsim.DMTarget{Table: &dmsim.Table{}, Type: typ, Len: length}
	h.mu.Lock()
	h.mds[ti.Table] = m
	h.byMD[m.md] = m
	h.mu.Unlock()
	impl, err := typ.Ctr(ti, strings.Fields(args))
	if err != nil {
		m.ti = ti
		return err
	}
	ti.Impl = impl
	old := m.ti
	m.ti = ti
	m.limits = stackLimits(ti)
	if old != nil && old.Impl != nil {
		if d, ok := old.Impl.(dmsim.Dtr); ok {
			d.Dtr()
		}
	}
	return nil
}

// reload is `dmsetup reload` + `dmsetup resume`.
func (h *harness) reload(m *testMD, length uint64, typ *dmsim.TargetType, args string) (string, error) {
	ti := &dmsim.DMTarget{Table: &dmsim.Table{}, Type: typ, Len: length}
	h.mu.Lock()
	h.mds[ti.Table] = m
	h.mu.Unlock()
	impl, err := typ.Ctr(ti, strings.Fields(args))
	if err != nil {
		return ti.Error, err
	}
	ti.Impl = impl
	m.suspend()
	old := m.ti
	m.ti = ti
	m.limits = stackLimits(ti)
	if d, ok := old.Impl.(dmsim.Dtr); ok {
		d.Dtr()
	}
	return "", m.resume()
}

// remove is `dmsetup remove`: suspend, then destroy the table.
func (h *harness) remove(m *testMD) {
	m.suspend()
	if d, ok := m.ti.Impl.(dmsim.Dtr); ok {
		d.Dtr()
	}
	delete(h.disks, "/dev/mapper/"+m.name)
	delete(h.disks, m.dev.String())
}

func (h *harness) status(m *testMD) string {
	h.tick()
	return m.ti.Impl.(dmsim.Statuser).Status(dmsim.StatusInfo, 0)
}

func (h *harness) table(m *testMD) string {
	return m.ti.Impl.(dmsim.Statuser).Status(dmsim.StatusTable, 0)
}

func (h *harness) message(m *testMD, msg string) error {
	h.tick()
	_, err := m.ti.Impl.(dmsim.Messager).Message(strings.Fields(msg))
	return err
}

// io submits one bio to dev and waits for it in virtual time.
func (h *harness) io(op dmsim.Op, dev dmsim.BlockDevice, sector uint64, data []byte) error {
	bio := dmsim.NewBio(op, dev, sector, data, nil)
	return dmsim.SubmitWait(context.Background(), h.k.Clock, bio)
}

func (h *harness) write(dev dmsim.BlockDevice, sector uint64, data []byte) error {
	h.tick()
	return h.io(dmsim.OpWrite, dev, sector, data)
}

func (h *harness) read(dev dmsim.BlockDevice, sector uint64, n int) ([]byte, error) {
	h.tick()
	buf := make([]byte, n)
	err := h.io(dmsim.OpRead, dev, sector, buf)
	return buf, err
}

func (h *harness) discard(dev dmsim.BlockDevice, sector, count uint64) error {
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, sector, nil, nil)
	bio.Sectors = count
	return dmsim.SubmitWait(context.Background(), h.k.Clock, bio)
}

func (h *harness) flush(dev dmsim.BlockDevice) error {
	bio := dmsim.NewBio(dmsim.OpFlush, dev, 0, nil, nil)
	bio.Flags = dmsim.ReqPreflush
	return dmsim.SubmitWait(context.Background(), h.k.Clock, bio)
}

// settle lets queued work run (the worker, timers due now).
func (h *harness) settle() {
	_ = h.k.Clock.Sleep(context.Background(), 0)
}

// logs returns and clears the kernel log as "<L>text" lines.
func (h *harness) logs() []string {
	var out []string
	for _, l := range h.k.Log.ReadClear() {
		out = append(out, l.String())
	}
	return out
}

func (h *harness) mdOf(ti *dmsim.DMTarget) *testMD {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mds[ti.Table]
}

func (h *harness) byMDOf(md *dmsim.MappedDevice) *testMD {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byMD[md]
}

// fakeCore is coreOps on the harness.
type fakeCore struct{ h *harness }

func (f fakeCore) getDevice(ti *dmsim.DMTarget, path string, mode dmsim.FMode) (*dmsim.DMDev, error) {
	d, ok := f.h.disks[path]
	if !ok {
		if _, isDevT, err := dmsim.ParseDevT(path); isDevT {
			if err != nil {
				return nil, err
			}
			return nil, linuxerr.ENXIO
		}
		return nil, linuxerr.ENODEV
	}
	f.h.gets++
	return &dmsim.DMDev{Bdev: d, Mode: mode, Name: d.Dev().String()}, nil
}

func (f fakeCore) putDevice(ti *dmsim.DMTarget, d *dmsim.DMDev) { f.h.puts++ }
func (f fakeCore) kernel(ti *dmsim.DMTarget) *dmsim.Kernel      { return f.h.k }
func (f fakeCore) md(ti *dmsim.DMTarget) *dmsim.MappedDevice    { return f.h.mdOf(ti).md }
func (f fakeCore) tableMode(ti *dmsim.DMTarget) dmsim.FMode {
	return dmsim.FModeRead | dmsim.FModeWrite
}
func (f fakeCore) deviceName(md *dmsim.MappedDevice) string { return f.h.byMDOf(md).dev.String() }
func (f fakeCore) tableEvent(ti *dmsim.DMTarget) {
	m := f.h.mdOf(ti)
	m.mu.Lock()
	m.events++
	m.mu.Unlock()
}
func (f fakeCore) suspended(ti *dmsim.DMTarget) bool {
	m := f.h.mdOf(ti)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.suspended
}
func (f fakeCore) noflushSuspending(ti *dmsim.DMTarget) bool { return false }
func (f fakeCore) internalSuspendNoflush(md *dmsim.MappedDevice) {
	m := f.h.byMDOf(md)
	m.mu.Lock()
	m.suspended = true
	m.mu.Unlock()
}
func (f fakeCore) internalResume(md *dmsim.MappedDevice) {
	m := f.h.byMDOf(md)
	m.mu.Lock()
	m.suspended = false
	held := m.held
	m.held = nil
	m.mu.Unlock()
	for _, b := range held {
		m.Submit(b)
	}
}
func (f fakeCore) getMD(k *dmsim.Kernel, bdev dmsim.BlockDevice) *dmsim.MappedDevice {
	if m, ok := bdev.(*testMD); ok {
		return m.md
	}
	return nil
}
func (f fakeCore) param(k *dmsim.Kernel, name string) string { return f.h.params[name] }

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
