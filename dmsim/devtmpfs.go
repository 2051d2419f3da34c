package dmsim

import (
	"path"
	"sort"
	"strings"
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

// DevFile returns the regular file at p under /dev (through symlinks), or
// nil.
func (k *Kernel) DevFile(p string) *DevFile {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	r, err := k.resolveLocked(cleanDevPath(p), true)
	if err != nil {
		return nil
	}
	return k.devFiles[r]
}

// CreateDevFile makes an empty regular file at p (open with O_CREAT where
// there is nothing): EEXIST if a node or file is there already, ENOENT if
// the directory is not one of /dev's.
func (k *Kernel) CreateDevFile(p string) (*DevFile, error) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	p, err := k.resolveLocked(cleanDevPath(p), true)
	if err != nil {
		return nil, err
	}
	if !underDev(p) {
		return nil, linuxerr.ENOENT
	}
	if k.lstatLocked(p).Kind != DevNone {
		return nil, linuxerr.EEXIST
	}
	f := &DevFile{}
	k.devFiles[p] = f
	k.madeLocked(p)
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

// ---- directories and symlinks ----

// DevKind is what a devtmpfs entry is (its S_IFMT).
type DevKind int

// The kinds of entries under /dev.
const (
	DevNone DevKind = iota // nothing there
	DevDir                 // a directory (S_IFDIR)
	DevLink                // a symbolic link (S_IFLNK)
	DevReg                 // a regular file (S_IFREG)
	DevBlk                 // a block device node (S_IFBLK)
	DevChr                 // a character device node (S_IFCHR)
)

// DevEntry is what lstat(2) tells of one entry under /dev.
type DevEntry struct {
	Kind   DevKind
	Dev    DevT   // st_rdev of a node
	Target string // a symlink's target
	Size   int64  // a regular file's length, a symlink's target length
}

// charNodes are the character device nodes devtmpfs always has
// (drivers/char/mem.c's and dm's misc device).
var charNodes = map[string]DevT{
	"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
	"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/mapper/control": {10, 236},
}

// maxSymlinks is MAXSYMLINKS (fs/namei.c): more links in one lookup is
// ELOOP.
const maxSymlinks = 40

func underDev(p string) bool { return p == "/dev" || strings.HasPrefix(p, "/dev/") }

// lstatLocked is vfs_lstat() of a resolved path; devMu held.
func (k *Kernel) lstatLocked(p string) DevEntry {
	switch {
	case p == "/dev" || p == "/dev/mapper" || k.devDirs[p]:
		return DevEntry{Kind: DevDir}
	}
	if t, ok := k.devLinks[p]; ok {
		return DevEntry{Kind: DevLink, Target: t, Size: int64(len(t))}
	}
	if f, ok := k.devFiles[p]; ok {
		return DevEntry{Kind: DevReg, Size: f.Size()}
	}
	if d, ok := k.nodes[p]; ok {
		return DevEntry{Kind: DevBlk, Dev: d}
	}
	if d, ok := charNodes[p]; ok {
		return DevEntry{Kind: DevChr, Dev: d}
	}
	return DevEntry{}
}

// resolveLocked is path_lookupat() within devtmpfs: the symlinks of every
// component but the last are followed (the last too when follow is set),
// and each component but the last must be a directory (ENOENT, ENOTDIR).
// A path that leaves /dev is returned as it is, for the caller's other
// file systems. devMu held.
func (k *Kernel) resolveLocked(p string, follow bool) (string, error) {
	for n := 0; ; n++ {
		if !underDev(p) {
			return p, nil
		}
		comps := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur, next := "", ""
		restart := false
		for i, c := range comps {
			next = cur + "/" + c
			last := i == len(comps)-1
			if t, ok := k.devLinks[next]; ok && (!last || follow) {
				if n >= maxSymlinks {
					return "", linuxerr.ELOOP
				}
				if !strings.HasPrefix(t, "/") {
					t = cur + "/" + t
				}
				p = path.Clean(t + "/" + strings.Join(comps[i+1:], "/"))
				restart = true
				break
			}
			if !last && next != "/dev" {
				switch k.lstatLocked(next).Kind {
				case DevDir:
				case DevNone:
					return "", linuxerr.ENOENT
				default:
					return "", linuxerr.ENOTDIR
				}
			}
			cur = next
		}
		if !restart {
			return p, nil
		}
	}
}

// DevStat is stat(2) (follow) or lstat(2) of a path under /dev. resolved
// is where the lookup ended; when it left /dev (a symlink to elsewhere)
// the entry is DevNone and the caller looks there.
func (k *Kernel) DevStat(p string, follow bool) (e DevEntry, resolved string, err error) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	resolved, err = k.resolveLocked(cleanDevPath(p), follow)
	if err != nil || !underDev(resolved) {
		return DevEntry{}, resolved, err
	}
	e = k.lstatLocked(resolved)
	if e.Kind == DevNone {
		return e, resolved, linuxerr.ENOENT
	}
	return e, resolved, nil
}

// createLocked resolves where a new entry goes (the last component's
// symlink is not followed): EEXIST if anything is there.
func (k *Kernel) createLocked(p string) (string, error) {
	r, err := k.resolveLocked(cleanDevPath(p), false)
	if err != nil {
		return "", err
	}
	if !underDev(r) {
		return "", linuxerr.ENOENT
	}
	if k.lstatLocked(r).Kind != DevNone {
		return "", linuxerr.EEXIST
	}
	return r, nil
}

// Mkdir is mkdir(2) under /dev (devtmpfs is a tmpfs).
func (k *Kernel) Mkdir(p string) error {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	r, err := k.createLocked(p)
	if err != nil {
		return err
	}
	k.devDirs[r] = true
	k.madeLocked(r)
	return nil
}

// Symlink is symlink(2): a link at p under /dev to target.
func (k *Kernel) Symlink(target, p string) error {
	if target == "" {
		return linuxerr.ENOENT
	}
	k.devMu.Lock()
	defer k.devMu.Unlock()
	r, err := k.createLocked(p)
	if err != nil {
		return err
	}
	k.devLinks[r] = target
	k.madeLocked(r)
	return nil
}

// DevEntries lists what is directly under the directory dir (through
// symlinks): nodes, files, directories and links, by name. The fixed
// character nodes are not in it.
func (k *Kernel) DevEntries(dir string) (map[string]DevEntry, error) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	r, err := k.resolveLocked(cleanDevPath(dir), true)
	if err != nil {
		return nil, err
	}
	if k.lstatLocked(r).Kind != DevDir {
		if k.lstatLocked(r).Kind == DevNone {
			return nil, linuxerr.ENOENT
		}
		return nil, linuxerr.ENOTDIR
	}
	out := map[string]DevEntry{}
	add := func(p string) {
		if path.Dir(p) == r {
			out[path.Base(p)] = k.lstatLocked(p)
		}
	}
	for p := range k.nodes {
		add(p)
	}
	for p := range k.devFiles {
		add(p)
	}
	for p := range k.devDirs {
		add(p)
	}
	for p := range k.devLinks {
		add(p)
	}
	if r == "/dev" {
		out["mapper"] = DevEntry{Kind: DevDir}
	}
	return out, nil
}

// madeLocked stamps a new entry: tmpfs's directories list their newest
// entry first (d_alloc puts a dentry at the head of d_subdirs, and
// dcache_readdir walks from there). devMu held.
func (k *Kernel) madeLocked(p string) {
	k.devNext++
	k.devSeq[p] = k.devNext
}

// DevReadDir is getdents(2) of a /dev directory: its entry names, newest
// first ("." and ".." and the fixed character nodes left out).
func (k *Kernel) DevReadDir(dir string) ([]string, error) {
	m, err := k.DevEntries(dir)
	if err != nil {
		return nil, err
	}
	r := path.Clean(dir)
	k.devMu.Lock()
	if rr, err := k.resolveLocked(cleanDevPath(dir), true); err == nil {
		r = rr
	}
	names := make([]string, 0, len(m))
	seq := make(map[string]uint64, len(m))
	for n := range m {
		names = append(names, n)
		seq[n] = k.devSeq[r+"/"+n]
	}
	k.devMu.Unlock()
	sort.Slice(names, func(i, j int) bool {
		if seq[names[i]] != seq[names[j]] {
			return seq[names[i]] > seq[names[j]]
		}
		return names[i] < names[j]
	})
	return names, nil
}

// Rename is rename(2) within /dev: the entry at oldp, whatever it is,
// moves to newp (no symlink of either last component followed). An entry
// at newp is replaced unless it is a directory (EISDIR; a directory moved
// onto a non-directory is ENOTDIR).
func (k *Kernel) Rename(oldp, newp string) error {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	o, err := k.resolveLocked(cleanDevPath(oldp), false)
	if err != nil {
		return err
	}
	n, err := k.resolveLocked(cleanDevPath(newp), false)
	if err != nil {
		return err
	}
	if !underDev(o) || !underDev(n) {
		return linuxerr.ENOENT // outside devtmpfs: not ours to move
	}
	oe, ne := k.lstatLocked(o), k.lstatLocked(n)
	switch {
	case oe.Kind == DevNone:
		return linuxerr.ENOENT
	case o == n:
		return nil
	case ne.Kind == DevDir && oe.Kind != DevDir:
		return linuxerr.EISDIR
	case ne.Kind != DevNone && ne.Kind != DevDir && oe.Kind == DevDir:
		return linuxerr.ENOTDIR
	case ne.Kind == DevDir || oe.Kind == DevDir || oe.Kind == DevChr || ne.Kind == DevChr:
		return linuxerr.EBUSY // directories and the fixed nodes stay where they are
	}
	delete(k.devLinks, n)
	delete(k.devFiles, n)
	delete(k.nodes, n)
	switch oe.Kind {
	case DevLink:
		k.devLinks[n] = k.devLinks[o]
		delete(k.devLinks, o)
	case DevReg:
		k.devFiles[n] = k.devFiles[o]
		delete(k.devFiles, o)
	case DevBlk:
		k.nodes[n] = k.nodes[o]
		delete(k.nodes, o)
	}
	k.madeLocked(n) // __d_move: the dentry goes to the head of the list
	return nil
}
