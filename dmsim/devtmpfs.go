package dmsim

import (
	"path"
	"sort"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// Regular files in devtmpfs (/dev and /dev/mapper are tmpfs-like
// directories in the kernel: a shell redirect to a name with no node
// there makes a plain file, which libdm then finds in the way of its
// nodes). The block device nodes themselves are in gendisk.go.

// DevFile is a regular file under /dev: its bytes, in memory.
type DevFile struct {
	mu   sync.Mutex
	data []byte
}

// ReadAt reads from the file; past its end it reads nothing.
func (f *DevFile) ReadAt(p []byte, off int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 || off >= int64(len(f.data)) {
		return 0
	}
	return copy(p, f.data[off:])
}

// WriteAt writes p at off, growing the file (with zeroes) as needed.
func (f *DevFile) WriteAt(p []byte, off int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(f.data)) {
		f.data = append(f.data, make([]byte, end-int64(len(f.data)))...)
	}
	return copy(f.data[off:], p)
}

// Size is the file's length in bytes.
func (f *DevFile) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.data))
}

// Truncate cuts or extends the file to n bytes.
func (f *DevFile) Truncate(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < int64(len(f.data)) {
		f.data = f.data[:n]
		return
	}
	f.data = append(f.data, make([]byte, n-int64(len(f.data)))...)
}

// devDir reports whether dir is one of devtmpfs's directories.
func devDir(dir string) bool { return dir == "/dev" || dir == "/dev/mapper" }

// DevFile returns the regular file at p under /dev, or nil.
func (k *Kernel) DevFile(p string) *DevFile {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	return k.devFiles[cleanDevPath(p)]
}

// CreateDevFile makes an empty regular file at p (open with O_CREAT where
// there is nothing): EEXIST if a node or file is there already, ENOENT if
// the directory is not one of /dev's.
func (k *Kernel) CreateDevFile(p string) (*DevFile, error) {
	p = cleanDevPath(p)
	if !devDir(path.Dir(p)) || p == "/dev/mapper" {
		return nil, linuxerr.ENOENT
	}
	k.devMu.Lock()
	defer k.devMu.Unlock()
	if _, ok := k.nodes[p]; ok {
		return nil, linuxerr.EEXIST
	}
	if _, ok := k.devFiles[p]; ok {
		return nil, linuxerr.EEXIST
	}
	f := &DevFile{}
	k.devFiles[p] = f
	return f, nil
}

// DevFileNames lists the regular files directly under dir, sorted.
func (k *Kernel) DevFileNames(dir string) []string {
	dir = cleanDevPath(dir)
	k.devMu.Lock()
	defer k.devMu.Unlock()
	var out []string
	for p := range k.devFiles {
		if path.Dir(p) == dir {
			out = append(out, path.Base(p))
		}
	}
	sort.Strings(out)
	return out
}
