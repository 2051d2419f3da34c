// Package block is dmsim's version of the kernel's persistent-data block
// manager (drivers/md/persistent-data/dm-block-manager.c): fixed 4 KiB
// blocks over a device, per-block read/write locks, a validator per block
// type, and a bounded write-back cache.
package block

import (
	"errors"
	"io"
	"os"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// Size is the metadata block size in bytes (THIN_METADATA_BLOCK_SIZE).
const Size = 4096

// Device is the small device interface the block manager needs. The
// thin-pool target adapts a dmsim block device to it; the thin tools adapt
// an image file (FileDevice).
type Device interface {
	// ReadAt and WriteAt transfer whole blocks at byte offsets.
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	// Flush makes every completed write durable (an empty REQ_PREFLUSH
	// bio). The block manager needs no FUA: like Linux 6.1's, it orders
	// its writes with flushes alone.
	Flush() error
	// Size is the device size in bytes.
	Size() int64
}

// FileDevice adapts an *os.File (an image file or a block device node).
type FileDevice struct {
	F        *os.File
	ReadOnly bool
}

// OpenFile opens path as a Device; readOnly opens it O_RDONLY.
func OpenFile(path string, readOnly bool) (*FileDevice, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	return &FileDevice{F: f, ReadOnly: readOnly}, nil
}

func (d *FileDevice) ReadAt(p []byte, off int64) (int, error) { return d.F.ReadAt(p, off) }
func (d *FileDevice) WriteAt(p []byte, off int64) (int, error) {
	if d.ReadOnly {
		return 0, linuxerr.EROFS
	}
	return d.F.WriteAt(p, off)
}
func (d *FileDevice) Flush() error {
	if d.ReadOnly {
		return nil
	}
	return d.F.Sync()
}
func (d *FileDevice) Size() int64 {
	st, err := d.F.Stat()
	if err != nil {
		return 0
	}
	if st.Mode().IsRegular() {
		return st.Size()
	}
	// Block devices report 0 in Stat: seek to the end.
	n, err := d.F.Seek(0, io.SeekEnd)
	if err != nil {
		return 0
	}
	return n
}
func (d *FileDevice) Close() error { return d.F.Close() }

// MemDevice is a sparse in-memory device for tests: unwritten blocks read
// as zeroes. It counts flushes so tests can check the commit protocol.
type MemDevice struct {
	mu      sync.Mutex
	size    int64
	blocks  map[int64][]byte
	Flushes int
	// Log records the order of operations: 'W' write, 'F' flush, each with
	// its block number (-1 for flushes), when non-nil.
	Log []MemOp
	// FailWrites makes every write fail with EIO (fault injection).
	FailWrites bool
}

// MemOp is one recorded MemDevice operation.
type MemOp struct {
	Op    byte
	Block int64
}

// NewMemDevice makes a zeroed device of size bytes.
func NewMemDevice(size int64) *MemDevice {
	return &MemDevice{size: size, blocks: map[int64][]byte{}}
}

func (d *MemDevice) ReadAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		blk := (off + int64(n)) / Size
		bo := int((off + int64(n)) % Size)
		c := Size - bo
		if c > len(p)-n {
			c = len(p) - n
		}
		if b, ok := d.blocks[blk]; ok {
			copy(p[n:n+c], b[bo:bo+c])
		} else {
			clear(p[n : n+c])
		}
		n += c
	}
	return n, nil
}

func (d *MemDevice) write(p []byte, off int64, op byte) (int, error) {
	if d.FailWrites {
		return 0, linuxerr.EIO
	}
	if off < 0 || off+int64(len(p)) > d.size {
		return 0, errors.New("write beyond end of device")
	}
	n := 0
	for n < len(p) {
		blk := (off + int64(n)) / Size
		bo := int((off + int64(n)) % Size)
		c := Size - bo
		if c > len(p)-n {
			c = len(p) - n
		}
		b, ok := d.blocks[blk]
		if !ok {
			b = make([]byte, Size)
			d.blocks[blk] = b
		}
		copy(b[bo:bo+c], p[n:n+c])
		if d.Log != nil {
			d.Log = append(d.Log, MemOp{op, blk})
		}
		n += c
	}
	return n, nil
}

func (d *MemDevice) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.write(p, off, 'W')
}

func (d *MemDevice) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Flushes++
	if d.Log != nil {
		d.Log = append(d.Log, MemOp{'F', -1})
	}
	return nil
}

func (d *MemDevice) Size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// Resize changes the device size (growing a metadata device).
func (d *MemDevice) Resize(size int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.size = size
}

// Bytes returns a copy of the whole device contents.
func (d *MemDevice) Bytes() []byte {
	out := make([]byte, d.Size())
	d.ReadAt(out, 0)
	return out
}

// Snapshot returns an independent copy of the device.
func (d *MemDevice) Snapshot() *MemDevice {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := NewMemDevice(d.size)
	for k, v := range d.blocks {
		c.blocks[k] = append([]byte(nil), v...)
	}
	return c
}
