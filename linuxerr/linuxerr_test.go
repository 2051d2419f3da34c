package linuxerr

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		err      error
		errno    Errno // ToErrno
		strerror string
		reduced  error
	}{
		{nil, 0, "Success", nil},
		{EINVAL, EINVAL, "Invalid argument", EINVAL},
		{fmt.Errorf("wrapped: %w", ENODATA), ENODATA, "No data available", ENODATA},
		{syscall.ENOENT, ENOENT, "No such file or directory", ENOENT},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EISDIR}, EISDIR, "Is a directory", EISDIR},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.ENOTEMPTY}, ENOTEMPTY, "Directory not empty", ENOTEMPTY},
		{io.EOF, EIO, "EOF", io.EOF},
		{Errno(200), Errno(200), "Unknown error 200", Errno(200)},
	} {
		if got := ToErrno(tc.err); got != tc.errno {
			t.Errorf("ToErrno(%v) = %d, want %d", tc.err, got, tc.errno)
		}
		if got := Strerror(tc.err); got != tc.strerror {
			t.Errorf("Strerror(%v) = %q, want %q", tc.err, got, tc.strerror)
		}
		if got := Reduce(tc.err); got != tc.reduced {
			t.Errorf("Reduce(%v) = %v, want %v", tc.err, got, tc.reduced)
		}
	}
	if Of(nil) != nil || Of(io.EOF) != EIO {
		t.Errorf("Of: nil gives %v, io.EOF gives %v", Of(nil), Of(io.EOF))
	}
}

func TestErrnoMatchesSyscall(t *testing.T) {
	if !errors.Is(fmt.Errorf("x: %w", EBUSY), syscall.EBUSY) {
		t.Error("errors.Is(EBUSY, syscall.EBUSY) is false")
	}
	if errors.Is(EBUSY, syscall.EEXIST) {
		t.Error("errors.Is(EBUSY, syscall.EEXIST) is true")
	}
	for e, i := range info {
		if e.Name() != i.name || e.Error() != i.text {
			t.Errorf("errno %d: Name %q Error %q", e, e.Name(), e.Error())
		}
	}
	// The values are the host's (amd64 Linux).
	for _, p := range []struct {
		e  Errno
		se syscall.Errno
	}{
		{EPERM, syscall.EPERM}, {ENOENT, syscall.ENOENT}, {ESRCH, syscall.ESRCH}, {EINTR, syscall.EINTR},
		{EIO, syscall.EIO}, {ENXIO, syscall.ENXIO}, {E2BIG, syscall.E2BIG}, {EBADF, syscall.EBADF},
		{EAGAIN, syscall.EAGAIN}, {ENOMEM, syscall.ENOMEM}, {EACCES, syscall.EACCES}, {EFAULT, syscall.EFAULT},
		{ENOTBLK, syscall.ENOTBLK}, {EBUSY, syscall.EBUSY}, {EEXIST, syscall.EEXIST}, {ENODEV, syscall.ENODEV},
		{ENOTDIR, syscall.ENOTDIR}, {EISDIR, syscall.EISDIR}, {EINVAL, syscall.EINVAL}, {EMFILE, syscall.EMFILE},
		{ENOTTY, syscall.ENOTTY}, {ETXTBSY, syscall.ETXTBSY}, {EFBIG, syscall.EFBIG}, {ENOSPC, syscall.ENOSPC},
		{ESPIPE, syscall.ESPIPE}, {EROFS, syscall.EROFS}, {EPIPE, syscall.EPIPE}, {ERANGE, syscall.ERANGE},
		{EDEADLK, syscall.EDEADLK}, {ENAMETOOLONG, syscall.ENAMETOOLONG}, {ENOSYS, syscall.ENOSYS},
		{ENOTEMPTY, syscall.ENOTEMPTY}, {ELOOP, syscall.ELOOP}, {ENODATA, syscall.ENODATA}, {ETIME, syscall.ETIME},
		{EOVERFLOW, syscall.EOVERFLOW}, {EILSEQ, syscall.EILSEQ}, {EOPNOTSUPP, syscall.EOPNOTSUPP},
		{ETIMEDOUT, syscall.ETIMEDOUT},
	} {
		if int(p.e) != int(p.se) {
			t.Errorf("%s = %d, the host says %d", p.e.Name(), int(p.e), int(p.se))
		}
	}
	if len(info) != 39 {
		t.Errorf("%d errnos have texts, 39 are defined", len(info))
	}
	if EINVAL.Name() != "EINVAL" || Errno(300).Name() != "300" {
		t.Errorf("Name: %q %q", EINVAL.Name(), Errno(300).Name())
	}
}
