package dmsim

import (
	"errors"
	"fmt"
	"syscall"
)

// Errno is a kernel error number (positive). Its Error text is glibc's
// strerror(), which is what dmsetup prints; Name is the kernel's symbolic
// name, which the kernel log prints as "(-EINVAL)".
type Errno int

// The errnos device-mapper and dm-thin return.
const (
	EPERM      Errno = 1
	ENOENT     Errno = 2
	EINTR      Errno = 4
	EIO        Errno = 5
	ENXIO      Errno = 6
	E2BIG      Errno = 7
	EAGAIN     Errno = 11
	ENOMEM     Errno = 12
	EACCES     Errno = 13
	EFAULT     Errno = 14
	ENOTBLK    Errno = 15
	EBUSY      Errno = 16
	EEXIST     Errno = 17
	ENODEV     Errno = 19
	ENOTDIR    Errno = 20
	EINVAL     Errno = 22
	ENOTTY     Errno = 25
	EFBIG      Errno = 27
	ENOSPC     Errno = 28
	EROFS      Errno = 30
	ERANGE     Errno = 34
	ENOSYS     Errno = 38
	ENODATA    Errno = 61
	ETIME      Errno = 62
	EOVERFLOW  Errno = 75
	EILSEQ     Errno = 84
	EOPNOTSUPP Errno = 95
	ETIMEDOUT  Errno = 110
)

var errnoInfo = map[Errno]struct{ name, text string }{
	EPERM:      {"EPERM", "Operation not permitted"},
	ENOENT:     {"ENOENT", "No such file or directory"},
	EINTR:      {"EINTR", "Interrupted system call"},
	EIO:        {"EIO", "Input/output error"},
	ENXIO:      {"ENXIO", "No such device or address"},
	E2BIG:      {"E2BIG", "Argument list too long"},
	EAGAIN:     {"EAGAIN", "Resource temporarily unavailable"},
	ENOMEM:     {"ENOMEM", "Cannot allocate memory"},
	EACCES:     {"EACCES", "Permission denied"},
	EFAULT:     {"EFAULT", "Bad address"},
	ENOTBLK:    {"ENOTBLK", "Block device required"},
	EBUSY:      {"EBUSY", "Device or resource busy"},
	EEXIST:     {"EEXIST", "File exists"},
	ENODEV:     {"ENODEV", "No such device"},
	ENOTDIR:    {"ENOTDIR", "Not a directory"},
	EINVAL:     {"EINVAL", "Invalid argument"},
	ENOTTY:     {"ENOTTY", "Inappropriate ioctl for device"},
	EFBIG:      {"EFBIG", "File too large"},
	ENOSPC:     {"ENOSPC", "No space left on device"},
	EROFS:      {"EROFS", "Read-only file system"},
	ERANGE:     {"ERANGE", "Numerical result out of range"},
	ENOSYS:     {"ENOSYS", "Function not implemented"},
	ENODATA:    {"ENODATA", "No data available"},
	ETIME:      {"ETIME", "Timer expired"},
	EOVERFLOW:  {"EOVERFLOW", "Value too large for defined data type"},
	EILSEQ:     {"EILSEQ", "Invalid or incomplete multibyte or wide character"},
	EOPNOTSUPP: {"EOPNOTSUPP", "Operation not supported"},
	ETIMEDOUT:  {"ETIMEDOUT", "Connection timed out"},
}

// Error returns glibc's strerror() text.
func (e Errno) Error() string {
	if i, ok := errnoInfo[e]; ok {
		return i.text
	}
	return fmt.Sprintf("Unknown error %d", int(e))
}

// Name returns the kernel's symbolic name ("EINVAL"), as %pe prints it.
func (e Errno) Name() string {
	if i, ok := errnoInfo[e]; ok {
		return i.name
	}
	return fmt.Sprintf("%d", int(e))
}

// Is lets errors.Is match an Errno against the syscall.Errno of the same value.
func (e Errno) Is(target error) bool {
	var se syscall.Errno
	if errors.As(target, &se) {
		return int(se) == int(e)
	}
	return false
}

// AsErrno extracts the errno of err: an Errno or syscall.Errno anywhere in its
// chain. nil gives 0; any other error gives EIO.
func AsErrno(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		return Errno(se)
	}
	return EIO
}
