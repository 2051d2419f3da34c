package thinsync

import (
	"io"
	"time"
)

// Open flags Sys.Open understands (Linux's values; a back end maps them).
const (
	ORead   = 0
	OWrite  = 1 // O_WRONLY
	ORdWr   = 2 // O_RDWR
	OCreate = 0x40
	OExcl   = 0x80
	OTrunc  = 0x200
	ODirect = 0x4000
)

// Sys is everything thinsync needs from the machine. Inside dmsim it is a
// userland process (dmsimcmd); on Linux it is the host (cmd/thinsync).
type Sys interface {
	// Exec runs a program (dmsetup, thin_delta, thin_dump) with empty
	// standard input. Cleanup calls set nokill: they run even after the
	// process was told to terminate.
	Exec(argv []string, nokill bool) (stdout, stderr []byte, status int)
	// Open opens a file or block device with the flags above.
	Open(name string, flag int) (File, error)
	// ReadDir lists a directory's names, sorted.
	ReadDir(name string) ([]string, error)
	// Remove removes a file.
	Remove(name string) error
	// IsDevice reports whether name is a block device node.
	IsDevice(name string) bool
	// Stdin, Stdout and Stderr are the standard streams.
	Stdin() io.Reader
	Stdout() io.Writer
	Stderr() io.Writer
	// Killed reports whether a termination signal arrived.
	Killed() bool
	// Sleep waits; it returns early when the process is killed.
	Sleep(d time.Duration)
	// Terminal reports whether standard error is a terminal (--progress).
	Terminal() bool
	// Now is the clock for --progress only (never in output that is kept).
	Now() time.Time
}

// File is an open file or block device.
type File interface {
	io.Reader
	io.Writer
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync is fsync: on a block device it writes back and flushes the
	// device's cache (a REQ_PREFLUSH, which commits a thin pool).
	Sync() error
	// Size is the size in bytes (BLKGETSIZE64 for a device).
	Size() (int64, error)
	// Discard is BLKDISCARD; EOPNOTSUPP when the device has no discards.
	Discard(off, length int64) error
}

// alignedBuf returns a zeroed buffer of n bytes aligned to 4096, for
// O_DIRECT.
func alignedBuf(n int) []byte {
	b := make([]byte, n+4096)
	a := 0
	if r := int(addrOf(b)) % 4096; r != 0 {
		a = 4096 - r
	}
	return b[a : a+n : a+n]
}
