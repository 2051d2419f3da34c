package userland

import (
	"errors"
	"io/fs"

	"github.com/dmsim/dmsim/dmsim"
)

// Errnos the core does not name.
const (
	ESRCH        = dmsim.Errno(3)
	EBADF        = dmsim.Errno(9)
	EISDIR       = dmsim.Errno(21)
	EMFILE       = dmsim.Errno(24)
	ETXTBSY      = dmsim.Errno(26)
	ESPIPE       = dmsim.Errno(29)
	EPIPE        = dmsim.Errno(32)
	ENAMETOOLONG = dmsim.Errno(36)
	ENOTEMPTY    = dmsim.Errno(39)
)

var extraStrerror = map[dmsim.Errno]string{
	ESRCH:        "No such process",
	EBADF:        "Bad file descriptor",
	EISDIR:       "Is a directory",
	EMFILE:       "Too many open files",
	ETXTBSY:      "Text file busy",
	ESPIPE:       "Illegal seek",
	EPIPE:        "Broken pipe",
	ENAMETOOLONG: "File name too long",
	ENOTEMPTY:    "Directory not empty",
}

// Strerror is glibc's strerror() of the errno in err's chain; errors that
// carry no errno print their own text.
func Strerror(err error) string {
	if err == nil {
		return "Success"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	e := toErrno(err)
	var n dmsim.Errno
	if errors.As(e, &n) {
		if s, ok := extraStrerror[n]; ok {
			return s
		}
		return n.Error()
	}
	return e.Error()
}
