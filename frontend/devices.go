package frontend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/frontend/fuseblk"
	"github.com/dmsim/dmsim/linuxerr"
)

// devices plays udev for the host: every mapped device with a live table is
// a file of the FUSE file system, with a loop device attached and a link
// MapperDir/NAME to the loop device.
type devices struct {
	d  *Daemon
	fs *fuseblk.FS

	mu     sync.Mutex // serializes reconcile; guards exp and warned
	exp    map[dmsim.DevT]*exposed
	warned bool // that there are no loop devices
}

// exposed is one mapped device the host sees.
type exposed struct {
	name string     // its dm name, the link's name
	loop string     // /dev/loopN, or the device file when there is no loop device
	dev  dmsim.DevT // the loop device's number; zero without one
	size int64      // bytes, as the loop device has it
}

// hasLoop reports whether a loop device serves the file.
func (e *exposed) hasLoop() bool { return e.dev != dmsim.DevT{} }

func newDevices(d *Daemon) (*devices, error) {
	dir := filepath.Join(d.cfg.StateDir, "devices")
	// A daemon killed earlier may have left its loop devices and its mount
	// (no longer served) behind.
	detachStale(dir)
	unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fsys, err := fuseblk.Mount(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.cfg.MapperDir, 0o755); err != nil {
		fsys.Unmount()
		return nil, err
	}
	return &devices{d: d, fs: fsys, exp: map[dmsim.DevT]*exposed{}}, nil
}

// byLoop is the mapped device behind one of our loop devices.
func (v *devices) byLoop(loop dmsim.DevT) (dmsim.DevT, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for md, e := range v.exp {
		if e.hasLoop() && e.dev == loop {
			return md, true
		}
	}
	return dmsim.DevT{}, false
}

// loopDevT is the number of a mapped device's loop device.
func (v *devices) loopDevT(md dmsim.DevT) (dmsim.DevT, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.exp[md]; ok && e.hasLoop() {
		return e.dev, true
	}
	return dmsim.DevT{}, false
}

// openers is how many openers the host has on a mapped device: 1 while its
// loop device is mounted or open O_EXCL (an O_EXCL open of ours fails), or,
// without a loop device, the device file's open count.
func (v *devices) openers(md dmsim.DevT, probe *sync.Mutex) int {
	v.mu.Lock()
	e, ok := v.exp[md]
	v.mu.Unlock()
	switch {
	case !ok:
		return 0
	case !e.hasLoop():
		return v.fs.OpenCount(fileName(md))
	}
	probe.Lock()
	defer probe.Unlock()
	fd, err := unix.Open(e.loop, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err == unix.EBUSY {
		return 1
	}
	if err == nil {
		unix.Close(fd)
	}
	return 0
}

// state lists the mapped devices: name and live size (-1: no live table)
// and whether a deferred removal is pending.
type mdState struct {
	name     string
	size     int64
	deferred bool
}

func (v *devices) state() map[dmsim.DevT]mdState {
	k := v.d.k
	k.Clock.Enter()
	defer k.Clock.Exit()
	out := map[dmsim.DevT]mdState{}
	for _, e := range k.Ioctl().ListDevices() {
		md := k.GetMD(e.Dev)
		if md == nil {
			continue
		}
		st := mdState{name: e.Name, size: -1, deferred: md.DeferredRemove()}
		if t := md.LiveTable(); t != nil {
			st.size = int64(md.Size()) * dmsim.SectorSize
		}
		out[e.Dev] = st
	}
	return out
}

func (v *devices) anyDeferred() bool {
	for _, s := range v.state() {
		if s.deferred {
			return true
		}
	}
	return false
}

// reconcile makes the host's devices match the kernel's, as udev does on
// the kernel's uevents: new live devices get a file, a loop device and a
// link; renamed ones a new link; resized ones a new loop capacity; removed
// ones lose all three.
func (v *devices) reconcile() {
	want := v.state()
	v.mu.Lock()
	defer v.mu.Unlock()
	for md, e := range v.exp {
		if s, ok := want[md]; !ok || s.size < 0 {
			v.unexpose(md, e)
		}
	}
	for md, s := range want {
		if s.size < 0 {
			continue
		}
		e, ok := v.exp[md]
		if !ok {
			if err := v.expose(md, s); err != nil {
				v.d.logf("dmsim: %s: %v", s.name, err)
			}
			continue
		}
		if e.name != s.name {
			os.Remove(filepath.Join(v.d.cfg.MapperDir, e.name))
			e.name = s.name
			v.link(e)
		}
		if e.size != s.size && e.hasLoop() {
			if err := setLoopCapacity(e.loop); err != nil {
				v.d.logf("dmsim: %s: resize of %s: %v", s.name, e.loop, err)
			}
			e.size = s.size
		}
	}
}

func fileName(md dmsim.DevT) string { return fmt.Sprintf("dm-%d", md.Minor) }

func (v *devices) expose(md dmsim.DevT, s mdState) error {
	name := fileName(md)
	if err := v.fs.Add(name, &mdDevice{k: v.d.k, dev: md}); err != nil {
		return err
	}
	file := filepath.Join(v.fs.Dir(), name)
	loop, dev, err := attachLoop(file)
	if err != nil {
		// No loop devices (not root, or none left): the link names the
		// file itself, which reads and writes but cannot be mounted.
		if !v.warned {
			v.warned = true
			v.d.logf("dmsim: no loop device (%v): /dev/mapper links name the device files, which cannot be mounted", err)
		}
		loop, dev = file, dmsim.DevT{}
	}
	e := &exposed{name: s.name, loop: loop, dev: dev, size: s.size}
	v.exp[md] = e
	v.link(e)
	return nil
}

func (v *devices) link(e *exposed) {
	l := filepath.Join(v.d.cfg.MapperDir, e.name)
	os.Remove(l)
	if err := os.Symlink(e.loop, l); err != nil {
		v.d.logf("dmsim: link %s: %v", l, err)
	}
}

func (v *devices) unexpose(md dmsim.DevT, e *exposed) {
	l := filepath.Join(v.d.cfg.MapperDir, e.name)
	if t, err := os.Readlink(l); err == nil && t == e.loop {
		os.Remove(l)
	}
	if e.hasLoop() {
		if err := detachLoop(e.loop); err != nil {
			v.d.logf("dmsim: detach %s: %v", e.loop, err)
		}
	}
	v.fs.Remove(fileName(md))
	delete(v.exp, md)
}

// close detaches every loop device the daemon attached (and no other),
// removes the links and unmounts the file system.
func (v *devices) close() {
	v.mu.Lock()
	for md, e := range v.exp {
		v.unexpose(md, e)
	}
	v.mu.Unlock()
	// A loop device still open (mounted) detaches when it is closed; the
	// file system stays until then, lazily unmounted.
	for i := 0; i < 50; i++ {
		if err := v.fs.Unmount(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	unix.Unmount(v.fs.Dir(), unix.MNT_DETACH)
}

// attachLoop attaches a free loop device to file, with direct I/O: every
// request reaches the file (and the daemon) at once.
func attachLoop(file string) (string, dmsim.DevT, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", dmsim.DevT{}, err
	}
	defer ctl.Close()
	bf, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return "", dmsim.DevT{}, err
	}
	defer bf.Close()
	for try := 0; try < 20; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", dmsim.DevT{}, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		p := fmt.Sprintf("/dev/loop%d", n)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			unix.Mknod(p, unix.S_IFBLK|0o660, int(unix.Mkdev(7, uint32(n))))
		}
		lf, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return "", dmsim.DevT{}, err
		}
		cfg := unix.LoopConfig{Fd: uint32(bf.Fd()), Size: dmsim.SectorSize}
		cfg.Info.Flags = unix.LO_FLAGS_DIRECT_IO
		copy(cfg.Info.File_name[:], file)
		err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
		if err != nil {
			// Without direct I/O support, buffered: writes still reach the
			// file at once, loop writes through.
			cfg.Info.Flags = 0
			err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
		}
		var st unix.Stat_t
		unix.Fstat(int(lf.Fd()), &st)
		lf.Close()
		if err == unix.EBUSY {
			continue // taken between GET_FREE and CONFIGURE
		}
		if err != nil {
			return "", dmsim.DevT{}, fmt.Errorf("LOOP_CONFIGURE %s: %w", p, err)
		}
		return p, dmsim.DevT{Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev)}, nil
	}
	return "", dmsim.DevT{}, errors.New("no free loop device")
}

// detachLoop is LOOP_CLR_FD: a loop device still open detaches at its last
// close.
func detachLoop(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil && err != unix.ENXIO {
		return err
	}
	return nil
}

func setLoopCapacity(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_CAPACITY, 0)
}

// mdDevice is a mapped device as its FUSE file serves it: every request is
// a bio submitted to the device, waited for as a clock actor.
type mdDevice struct {
	k   *dmsim.Kernel
	dev dmsim.DevT
}

func (m *mdDevice) bdev() (dmsim.BlockDevice, error) { return m.k.BdevByDevT(m.dev) }

func (m *mdDevice) Size() int64 {
	b, err := m.bdev()
	if err != nil {
		return 0
	}
	return int64(b.Size()) * dmsim.SectorSize
}

// submit runs one bio of whole sectors.
func (m *mdDevice) submit(op dmsim.Op, off int64, data []byte, n int64) error {
	b, err := m.bdev()
	if err != nil {
		return linuxerr.ENXIO
	}
	bio := dmsim.NewBio(op, b, uint64(off/dmsim.SectorSize), data, nil)
	if data == nil {
		bio.Sectors = uint64(n / dmsim.SectorSize)
	}
	m.k.Clock.Enter()
	defer m.k.Clock.Exit()
	return dmsim.SubmitWait(context.Background(), m.k.Clock, bio)
}

// span widens [off, off+n) to whole sectors.
func span(off, n int64) (int64, int64) {
	start := off &^ (dmsim.SectorSize - 1)
	end := (off + n + dmsim.SectorSize - 1) &^ (dmsim.SectorSize - 1)
	return start, end - start
}

func (m *mdDevice) ReadAt(p []byte, off int64) (int, error) {
	start, n := span(off, int64(len(p)))
	if start == off && n == int64(len(p)) {
		return len(p), m.submit(dmsim.OpRead, off, p, 0)
	}
	buf := make([]byte, n)
	if err := m.submit(dmsim.OpRead, start, buf, 0); err != nil {
		return 0, err
	}
	return copy(p, buf[off-start:]), nil
}

// WriteAt of a partial sector reads the sector first.
func (m *mdDevice) WriteAt(p []byte, off int64) (int, error) {
	start, n := span(off, int64(len(p)))
	if start == off && n == int64(len(p)) {
		return len(p), m.submit(dmsim.OpWrite, off, p, 0)
	}
	buf := make([]byte, n)
	if err := m.submit(dmsim.OpRead, start, buf, 0); err != nil {
		return 0, err
	}
	copy(buf[off-start:], p)
	return len(p), m.submit(dmsim.OpWrite, start, buf, 0)
}

func (m *mdDevice) Flush() error { return m.submit(dmsim.OpFlush, 0, nil, 0) }

// Discard covers the whole sectors inside the range, as the block layer
// would only pass those.
func (m *mdDevice) Discard(off, n int64) error {
	start := (off + dmsim.SectorSize - 1) &^ (dmsim.SectorSize - 1)
	end := (off + n) &^ (dmsim.SectorSize - 1)
	if end <= start {
		return nil
	}
	return m.submit(dmsim.OpDiscard, start, nil, end-start)
}

// WriteZeroes writes zeroes (dm devices here have no REQ_OP_WRITE_ZEROES).
func (m *mdDevice) WriteZeroes(off, n int64) error {
	const chunk = 1 << 20
	zero := make([]byte, min(n, chunk))
	for n > 0 {
		c := min(n, chunk)
		if _, err := m.WriteAt(zero[:c], off); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// detachStale detaches the loop devices whose backing file is under dir (a
// killed daemon's), and no other.
func detachStale(dir string) {
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		backing := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if strings.HasPrefix(backing, dir+"/") {
			detachLoop("/dev/" + filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
}
