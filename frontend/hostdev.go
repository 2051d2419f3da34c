package frontend

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// hostDevices is the daemon's dmsim.HostDevices: the host's block devices
// that tables name, and the host's openers of the daemon's own.
type hostDevices struct {
	d     *Daemon
	mu    sync.Mutex
	devs  map[dmsim.DevT]*hostBdev
	probe sync.Mutex // one O_EXCL probe at a time, or two would see each other
}

func newHostDevices(d *Daemon) *hostDevices {
	return &hostDevices{d: d, devs: map[dmsim.DevT]*hostBdev{}}
}

// Lookup resolves a path (followed through symlinks) or "M:m" to a host
// block device. The loop device of one of the daemon's own devices is that
// device, inside dmsim: its I/O never goes back through the loop device.
func (h *hostDevices) Lookup(p string) (dmsim.BlockDevice, error) {
	var dev dmsim.DevT
	if maj, min, ok := table.ScanDevT(p); ok {
		dev = dmsim.DevT{Major: maj, Minor: min}
	} else {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return nil, linuxerr.ENOENT
		}
		if st.Mode&unix.S_IFMT != unix.S_IFBLK {
			return nil, linuxerr.ENOTBLK
		}
		dev = dmsim.DevT{Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev)}
	}
	if h.d.devs != nil {
		if md, ok := h.d.devs.byLoop(dev); ok {
			return h.d.k.BdevByDevT(md)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.devs[dev]; ok {
		return b, nil
	}
	sysPath := fmt.Sprintf("/sys/dev/block/%d:%d", dev.Major, dev.Minor)
	target, err := os.Readlink(sysPath)
	if err != nil {
		return nil, linuxerr.ENODEV
	}
	b := &hostBdev{name: filepath.Base(target), path: "/dev/" + filepath.Base(target), dev: dev}
	if err := b.probe(); err != nil {
		return nil, err
	}
	h.devs[dev] = b
	return b, nil
}

// Openers counts the host's openers of one of the daemon's devices.
func (h *hostDevices) Openers(d dmsim.DevT) int {
	if h.d.devs == nil {
		return 0
	}
	return h.d.devs.openers(d, &h.probe)
}

func (h *hostDevices) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.devs {
		b.closeFile()
	}
}

// hostBdev is a block device of the host, opened with O_DIRECT while the
// kernel holds it (a table, a process).
type hostBdev struct {
	name, path string
	dev        dmsim.DevT

	mu       sync.Mutex // guards everything below
	sectors  uint64
	lbs      uint32
	f        *os.File
	openers  int
	readOnly bool
}

// probe reads the device's size and logical block size.
func (b *hostBdev) probe() error {
	f, err := os.OpenFile(b.path, os.O_RDONLY, 0)
	if err != nil {
		return linuxerr.ToErrno(err)
	}
	defer f.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.geometryLocked(f)
}

// geometryLocked reads the size (BLKGETSIZE64) and logical block size
// (BLKSSZGET) of the open device; mu held. The host may have attached its
// loop device to another file since the last open.
func (b *hostBdev) geometryLocked(f *os.File) error {
	var size uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); e != 0 {
		return linuxerr.ToErrno(e)
	}
	lbs, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil || lbs <= 0 {
		lbs = dmsim.SectorSize
	}
	b.sectors, b.lbs = size/dmsim.SectorSize, uint32(lbs)
	return nil
}

func (b *hostBdev) Name() string    { return b.name }
func (b *hostBdev) Dev() dmsim.DevT { return b.dev }

func (b *hostBdev) Size() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sectors
}

func (b *hostBdev) Limits() dmsim.QueueLimits {
	b.mu.Lock()
	lbs := b.lbs
	b.mu.Unlock()
	return dmsim.QueueLimits{
		LogicalBlockSize:    lbs,
		PhysicalBlockSize:   lbs,
		IOMin:               lbs,
		MaxSectors:          2560,
		MaxHWSectors:        2560,
		MaxDiscardSectors:   1 << 22,
		MaxHWDiscardSectors: 1 << 22,
		DiscardGranularity:  lbs,
		WriteCache:          true,
	}
}

// ReadOnly reports whether the host refused to open the device for writing.
func (b *hostBdev) ReadOnly() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readOnly
}

// Open is the first opener's open(2), O_DIRECT (read-only if the host
// refuses writes).
func (b *hostBdev) Open() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openers == 0 {
		f, err := os.OpenFile(b.path, os.O_RDWR|syscall.O_DIRECT, 0)
		b.readOnly = false
		if err != nil {
			f, err = os.OpenFile(b.path, os.O_RDONLY|syscall.O_DIRECT, 0)
			b.readOnly = true
		}
		if err != nil {
			return linuxerr.ToErrno(err)
		}
		if err := b.geometryLocked(f); err != nil {
			f.Close()
			return err
		}
		b.f = f
	}
	b.openers++
	return nil
}

// Release closes the file after its last opener.
func (b *hostBdev) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.openers--
	if b.openers == 0 {
		b.f.Close()
		b.f = nil
	}
}

func (b *hostBdev) closeFile() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
}

// Submit does the I/O with system calls and completes the bio at once:
// reads and writes through an aligned buffer (O_DIRECT), flushes with
// fdatasync, discards with BLKDISCARD.
func (b *hostBdev) Submit(bio *dmsim.Bio) {
	bio.Endio(b.do(bio))
}

func (b *hostBdev) do(bio *dmsim.Bio) error {
	b.mu.Lock()
	f := b.f
	b.mu.Unlock()
	if f == nil {
		return linuxerr.EIO
	}
	off := int64(bio.Sector) * dmsim.SectorSize
	if bio.Op == dmsim.OpFlush || bio.Flags&dmsim.ReqPreflush != 0 {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return linuxerr.EIO
		}
	}
	switch bio.Op {
	case dmsim.OpRead:
		buf := alignedBuf(len(bio.Data))
		if _, err := f.ReadAt(buf, off); err != nil {
			return linuxerr.EIO
		}
		copy(bio.Data, buf)
	case dmsim.OpWrite:
		buf := alignedBuf(len(bio.Data))
		copy(buf, bio.Data)
		if _, err := f.WriteAt(buf, off); err != nil {
			return linuxerr.EIO
		}
		if bio.Flags&dmsim.ReqFUA != 0 {
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				return linuxerr.EIO
			}
		}
	case dmsim.OpDiscard:
		r := [2]uint64{uint64(off), bio.Sectors * dmsim.SectorSize}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKDISCARD, uintptr(unsafe.Pointer(&r))); e != 0 {
			return linuxerr.ToErrno(e)
		}
	}
	return nil
}

// alignedBuf is a buffer aligned for O_DIRECT (4096 bytes).
func alignedBuf(n int) []byte {
	const align = 4096
	b := make([]byte, n+align)
	o := int(uintptr(unsafe.Pointer(&b[0])) & (align - 1))
	if o != 0 {
		o = align - o
	}
	return b[o : o+n : o+n]
}

// FIFREEZE and FITHAW (linux/fs.h: _IOWR('X', 119, int), _IOWR('X', 120, int)).
const (
	fiFreeze = 0xc0045877
	fiThaw   = 0xc0045878
)

// Freeze freezes the file system mounted from a device's loop device, found
// in /proc/self/mountinfo by the loop's number.
func (h *hostDevices) Freeze(d dmsim.DevT) error { return h.freezeIoctl(d, fiFreeze) }

// Thaw thaws it.
func (h *hostDevices) Thaw(d dmsim.DevT) { h.freezeIoctl(d, fiThaw) }

func (h *hostDevices) freezeIoctl(d dmsim.DevT, req uint) error {
	if h.d.devs == nil {
		return linuxerr.ENODEV
	}
	loopDev, ok := h.d.devs.loopDevT(d)
	if !ok {
		return linuxerr.ENODEV
	}
	mnt, ok := mountPoint(loopDev)
	if !ok {
		return linuxerr.ENOENT
	}
	f, err := os.Open(mnt)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(req), 0); e != 0 {
		return e
	}
	return nil
}

// mountPoint finds where the device numbered d is mounted
// (/proc/self/mountinfo: field 3 is MAJ:MIN, field 5 the mount point).
func mountPoint(d dmsim.DevT) (string, bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	want := fmt.Sprintf("%d:%d", d.Major, d.Minor)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[2] == want {
			return unescapeMount(f[4]), true
		}
	}
	return "", false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
