package table

import "github.com/dmsim/dmsim/linuxerr"

// ArgSet is struct dm_arg_set: the arguments of a constructor or message
// still to be read.
type ArgSet struct{ Argv []string }

// Shift is dm_shift_arg(): the next argument, or false when none is left.
func (as *ArgSet) Shift() (string, bool) {
	if len(as.Argv) == 0 {
		return "", false
	}
	s := as.Argv[0]
	as.Argv = as.Argv[1:]
	return s, true
}

// Arg is struct dm_arg: the range of a numeric argument and the ti->error
// text for one out of it.
type Arg struct {
	Min, Max uint32
	Error    string
}

// Read is dm_read_arg(): the next argument, sscanf'd "%u%c" (so 32-bit
// wrapped), within [Min, Max]. On failure it stores the Arg's text in
// *errp (ti->error) and returns EINVAL.
func (a Arg) Read(as *ArgSet, errp *string) (uint32, error) { return a.read(as, false, errp) }

// ReadGroup is dm_read_arg_group(): Read, and at least that many arguments
// must follow.
func (a Arg) ReadGroup(as *ArgSet, errp *string) (uint32, error) { return a.read(as, true, errp) }

// read is validate_next_arg().
func (a Arg) read(as *ArgSet, grouped bool, errp *string) (uint32, error) {
	s, ok := as.Shift()
	var v uint32
	if ok {
		v, ok = ScanUint(s)
	}
	if !ok || v < a.Min || v > a.Max || (grouped && uint64(len(as.Argv)) < uint64(v)) {
		*errp = a.Error
		return 0, linuxerr.EINVAL
	}
	return v, nil
}

// Strcasecmp reports whether strcasecmp(a, b) == 0 in the kernel's
// lib/string.c: ASCII letters compare without case, every other byte as it
// is.
func Strcasecmp(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if toLower(a[i]) != toLower(b[i]) {
			return false
		}
	}
	return true
}

func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
