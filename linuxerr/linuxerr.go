// Package linuxerr is Linux's errno, once for every layer of dmsim: the
// persistent-data library, the thin metadata, the kernel core, the targets
// and the userland all return and compare these values.
//
// An Errno prints glibc's strerror() text, which is what dmsetup, busybox
// and the thin tools print, and Name gives the kernel's symbolic name, which
// the kernel log prints as "(-EINVAL)". errors.Is matches an Errno against
// the syscall.Errno of the same value, so host errors compare too.
package linuxerr

import (
	"errors"
	"strconv"
	"syscall"
)

// Errno is a Linux error number (positive).
type Errno int

// The errnos dmsim returns, with asm-generic/errno-base.h's and errno.h's
// values.
const (
	EPERM        Errno = 1
	ENOENT       Errno = 2
	ESRCH        Errno = 3
	EINTR        Errno = 4
	EIO          Errno = 5
	ENXIO        Errno = 6
	E2BIG        Errno = 7
	EBADF        Errno = 9
	EAGAIN       Errno = 11
	ENOMEM       Errno = 12
	EACCES       Errno = 13
	EFAULT       Errno = 14
	ENOTBLK      Errno = 15
	EBUSY        Errno = 16
	EEXIST       Errno = 17
	ENODEV       Errno = 19
	ENOTDIR      Errno = 20
	EISDIR       Errno = 21
	EINVAL       Errno = 22
	EMFILE       Errno = 24
	ENOTTY       Errno = 25
	ETXTBSY      Errno = 26
	EFBIG        Errno = 27
	ENOSPC       Errno = 28
	ESPIPE       Errno = 29
	EROFS        Errno = 30
	EPIPE        Errno = 32
	ERANGE       Errno = 34
	EDEADLK      Errno = 35
	ENAMETOOLONG Errno = 36
	ENOSYS       Errno = 38
	ENOTEMPTY    Errno = 39
	ELOOP        Errno = 40
	ENODATA      Errno = 61
	ETIME        Errno = 62
	EOVERFLOW    Errno = 75
	EILSEQ       Errno = 84
	EOPNOTSUPP   Errno = 95
	ETIMEDOUT    Errno = 110
)

// info holds each errno's kernel name and glibc strerror() text.
var info = map[Errno]struct{ name, text string }{
	EPERM:        {"EPERM", "Operation not permitted"},
	ENOENT:       {"ENOENT", "No such file or directory"},
	ESRCH:        {"ESRCH", "No such process"},
	EINTR:        {"EINTR", "Interrupted system call"},
	EIO:          {"EIO", "Input/output error"},
	ENXIO:        {"ENXIO", "No such device or address"},
	E2BIG:        {"E2BIG", "Argument list too long"},
	EBADF:        {"EBADF", "Bad file descriptor"},
	EAGAIN:       {"EAGAIN", "Resource temporarily unavailable"},
	ENOMEM:       {"ENOMEM", "Cannot allocate memory"},
	EACCES:       {"EACCES", "Permission denied"},
	EFAULT:       {"EFAULT", "Bad address"},
	ENOTBLK:      {"ENOTBLK", "Block device required"},
	EBUSY:        {"EBUSY", "Device or resource busy"},
	EEXIST:       {"EEXIST", "File exists"},
	ENODEV:       {"ENODEV", "No such device"},
	ENOTDIR:      {"ENOTDIR", "Not a directory"},
	EISDIR:       {"EISDIR", "Is a directory"},
	EINVAL:       {"EINVAL", "Invalid argument"},
	EMFILE:       {"EMFILE", "Too many open files"},
	ENOTTY:       {"ENOTTY", "Inappropriate ioctl for device"},
	ETXTBSY:      {"ETXTBSY", "Text file busy"},
	EFBIG:        {"EFBIG", "File too large"},
	ENOSPC:       {"ENOSPC", "No space left on device"},
	ESPIPE:       {"ESPIPE", "Illegal seek"},
	EROFS:        {"EROFS", "Read-only file system"},
	EPIPE:        {"EPIPE", "Broken pipe"},
	ERANGE:       {"ERANGE", "Numerical result out of range"},
	EDEADLK:      {"EDEADLK", "Resource deadlock avoided"},
	ENAMETOOLONG: {"ENAMETOOLONG", "File name too long"},
	ENOSYS:       {"ENOSYS", "Function not implemented"},
	ENOTEMPTY:    {"ENOTEMPTY", "Directory not empty"},
	ELOOP:        {"ELOOP", "Too many levels of symbolic links"},
	ENODATA:      {"ENODATA", "No data available"},
	ETIME:        {"ETIME", "Timer expired"},
	EOVERFLOW:    {"EOVERFLOW", "Value too large for defined data type"},
	EILSEQ:       {"EILSEQ", "Invalid or incomplete multibyte or wide character"},
	EOPNOTSUPP:   {"EOPNOTSUPP", "Operation not supported"},
	ETIMEDOUT:    {"ETIMEDOUT", "Connection timed out"},
}

// Error returns glibc's strerror() text.
func (e Errno) Error() string {
	if i, ok := info[e]; ok {
		return i.text
	}
	return "Unknown error " + strconv.Itoa(int(e))
}

// Name returns the kernel's symbolic name ("EINVAL"), as %pe prints it.
func (e Errno) Name() string {
	if i, ok := info[e]; ok {
		return i.name
	}
	return strconv.Itoa(int(e))
}

// Is lets errors.Is match an Errno against the syscall.Errno of the same
// value.
func (e Errno) Is(target error) bool {
	var se syscall.Errno
	if errors.As(target, &se) {
		return int(se) == int(e)
	}
	return false
}

// Lookup finds the errno in err's chain: an Errno or a host syscall.Errno,
// also inside an *fs.PathError or *os.LinkError.
func Lookup(err error) (Errno, bool) {
	var e Errno
	if errors.As(err, &e) {
		return e, true
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return Errno(se), true
	}
	return 0, false
}

// ToErrno reduces err to its errno, the way a kernel caller sees it: nil
// gives 0, and an error that carries no errno gives EIO.
func ToErrno(err error) Errno {
	if err == nil {
		return 0
	}
	if e, ok := Lookup(err); ok {
		return e
	}
	return EIO
}

// Strerror is glibc's strerror() of the errno in err's chain; an error
// that carries none prints its own text, and nil is "Success".
func Strerror(err error) string {
	if err == nil {
		return "Success"
	}
	if e, ok := Lookup(err); ok {
		return e.Error()
	}
	return err.Error()
}

// Reduce returns the errno in err's chain when there is one (dropping the
// host's *fs.PathError and *os.LinkError wrappers), and err itself when
// there is none, so that a host error prints glibc's text.
func Reduce(err error) error {
	if e, ok := Lookup(err); ok {
		return e
	}
	return err
}

// Of is ToErrno as an error, the way a kernel function's caller sees a
// failure: nil stays nil.
func Of(err error) error {
	if err == nil {
		return nil
	}
	return ToErrno(err)
}
