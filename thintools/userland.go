package thintools

import (
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

// osErr maps an emulated errno onto the os errors the tools test for.
func osErr(err error) error {
	switch linuxerr.ToErrno(err) {
	case linuxerr.ENOENT:
		return fmt.Errorf("%w: %v", os.ErrNotExist, err)
	case linuxerr.EACCES:
		return fmt.Errorf("%w: %v", os.ErrPermission, err)
	}
	return err
}

// The tools are registered as userland commands: inside a script they run
// against the emulated machine's files and block devices (thin_dump -m
// $DISK_meta), and as `dmsim thin_dump IMAGE` on the host's files.
func init() {
	summaries := map[string]string{
		"thin_check":   "check thin-pool metadata (thin-provisioning-tools 0.9.0)",
		"thin_dump":    "dump thin-pool metadata as XML or text (0.9.0)",
		"thin_restore": "write thin-pool metadata from XML (0.9.0)",
		"thin_ls":      "list thin devices of a pool's metadata (0.9.0)",
		"thin_delta":   "print the differences between two thin devices (0.9.0)",
		"thin_rmap":    "map data blocks back to thin devices (0.9.0)",
	}
	options := map[string][]string{
		"thin_check":   {"-q", "--quiet", "-h", "--help", "-V", "--version", "-m", "--metadata-snap", "--auto-repair", "--override-mapping-root", "--clear-needs-check-flag", "--ignore-non-fatal-errors", "--skip-mappings", "--super-block-only"},
		"thin_dump":    {"-h", "--help", "-f", "--format", "-r", "--repair", "-m", "--metadata-snap", "-o", "--output", "--dev-id", "--skip-mappings", "-V", "--version"},
		"thin_restore": {"-h", "--help", "-i", "--input", "-o", "--output", "--transaction-id", "--data-block-size", "--nr-data-blocks", "-q", "--quiet", "-V", "--version"},
		"thin_ls":      {"-h", "--help", "-m", "--metadata-snap", "--no-headers", "-o", "--format", "-V", "--version"},
		"thin_delta":   {"--thin1", "--snap1", "--thin2", "--snap2", "-m", "--metadata-snap", "--verbose", "-h", "--help", "-V", "--version"},
		"thin_rmap":    {"-h", "--help", "-V", "--version", "--region"},
	}
	for _, name := range Names() {
		c := Commands[name]
		userland.Register(&userland.Command{
			Name:    name,
			Host:    true,
			Summary: summaries[name],
			Options: options[name],
			Run: func(p *userland.Proc) int {
				return c(p.Ctx, p.Args, &Env{Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr, FS: procFS{p}})
			},
		})
	}
}

// procFS gives the tools a process's view of files.
type procFS struct{ p *userland.Proc }

func (f procFS) OpenDevice(path string, write, excl bool) (Device, error) {
	st, err := f.p.Stat(path)
	if err != nil {
		return nil, osErr(err)
	}
	if st.IsDir() || (!st.Mode().IsRegular() && st.Mode()&fs.ModeDevice == 0) {
		return nil, ErrNotDevice
	}
	flag := userland.O_RDONLY
	if write {
		flag = userland.O_RDWR
	}
	if excl {
		flag |= userland.O_EXCL // an exclusive claim on a block device
	}
	if st.Mode()&fs.ModeDevice != 0 {
		// file_utils::open_file(): O_DIRECT, so the tools read the device,
		// not a page cache a live pool's writes leave stale.
		flag |= userland.O_DIRECT
	}
	file, err := f.p.OpenFile(path, flag, 0)
	if err != nil {
		return nil, osErr(err)
	}
	return &procDevice{file}, nil
}

func (f procFS) Open(path string) (io.ReadCloser, error) {
	r, err := f.p.Open(path)
	if err != nil {
		return nil, osErr(err)
	}
	return r, nil
}

func (f procFS) Create(path string) (io.WriteCloser, error) {
	return f.p.OpenFile(path, userland.O_WRONLY|userland.O_CREATE|userland.O_TRUNC, 0o644)
}

type procDevice struct{ f userland.File }

func (d *procDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *procDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *procDevice) Size() int64 {
	if b, ok := d.f.(userland.BlockFile); ok {
		return b.Size()
	}
	st, err := d.f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}
func (d *procDevice) Sync() error {
	if s, ok := d.f.(userland.Syncer); ok {
		return s.Sync()
	}
	return nil
}
func (d *procDevice) Close() error { return d.f.Close() }

// isHostFile reports whether a tool's file or device is a file of the
// host (OSFS's, or `dmsim thin_check IMAGE`'s through userland.HostFS,
// which wraps an *os.File): other goroutines may read it meanwhile. The
// emulated machine's files belong to its simulation: never those.
func isHostFile(x any) bool {
	switch v := x.(type) {
	case *osDevice, *os.File:
		return true
	case *procDevice:
		return isHostFile(v.f)
	case interface{ Fd() uintptr }: // userland's osFile embeds *os.File
		return true
	}
	return false
}
