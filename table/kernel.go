package table

import (
	"math"

	"github.com/dmsim/dmsim/linuxerr"
)

// KSpace is the kernel's isspace() (lib/ctype.c): the ASCII whitespace
// characters and, because the kernel's table is Latin-1, 0xA0 (no-break
// space).
func KSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0
}

// SplitArgs splits a target's parameter string or a target message as the
// kernel's dm_split_args() does: arguments are separated by runs of
// whitespace; a backslash makes the next character (whitespace or another
// backslash included) part of the argument; a backslash at the very end is
// kept as it is. An empty or all-space input gives no arguments.
func SplitArgs(s string) []string {
	var argv []string
	i := 0
	for {
		for i < len(s) && KSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return argv
		}
		var out []byte
		for i < len(s) {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				out = append(out, s[i+1])
				i += 2
				continue
			}
			if KSpace(c) {
				break
			}
			out = append(out, c)
			i++
		}
		// dm_split_args consumes the one whitespace character that ended
		// the argument; the skip at the top of the loop takes the rest.
		if i < len(s) {
			i++
		}
		argv = append(argv, string(out))
	}
}

// kParseULL is the kernel's simple_strntoull() in base 10 on a string that
// starts with a digit: it consumes decimal digits, wrapping silently on
// overflow, and returns the value and the number of bytes consumed.
func kParseULL(s string) (uint64, int) {
	var v uint64
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		i++
	}
	return v, i
}

// kScanUnsigned is one %llu or %u conversion of the kernel's vsscanf():
// skip whitespace, require a decimal digit (no sign for an unsigned
// conversion), read the digits. It returns the value, the rest of the
// input and whether the conversion matched.
func kScanUnsigned(s string) (uint64, string, bool) {
	i := 0
	for i < len(s) && KSpace(s[i]) {
		i++
	}
	s = s[i:]
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, s, false
	}
	v, n := kParseULL(s)
	return v, s[n:], true
}

// ScanULL reports whether the kernel's sscanf(s, "%llu%c", &v, &dummy)
// returns 1: optional leading whitespace, decimal digits (the value wraps
// modulo 2^64 on overflow), and nothing after them. This is how linear,
// striped and thin parse sector and device-id arguments.
func ScanULL(s string) (uint64, bool) {
	v, rest, ok := kScanUnsigned(s)
	return v, ok && rest == ""
}

// ScanUint is the kernel's sscanf(s, "%u%c", &v, &dummy) == 1, as
// dm_read_arg() uses it: like ScanULL, with the value truncated to 32 bits.
func ScanUint(s string) (uint32, bool) {
	v, ok := ScanULL(s)
	return uint32(v), ok
}

// ScanDevT is the kernel's sscanf(s, "%u:%u%c", &major, &minor, &dummy) ==
// 2, as dm_get_device() tries it before treating s as a path. Each number is
// truncated to 32 bits as %u stores it; the caller checks that they fit a
// dev_t.
func ScanDevT(s string) (major, minor uint32, ok bool) {
	a, rest, ok1 := kScanUnsigned(s)
	if !ok1 || rest == "" || rest[0] != ':' {
		return 0, 0, false
	}
	b, rest, ok2 := kScanUnsigned(rest[1:])
	if !ok2 || rest != "" {
		return 0, 0, false
	}
	return uint32(a), uint32(b), true
}

// ScanDevTOffset is sscanf(s, "%u:%u:%u:%c", ...) == 3, the partition-offset
// form name_to_dev_t() accepts: three numbers, after which sscanf stops
// counting unless a ':' and one more character follow ("8:0:5", "8:0:5:"
// and "8:0:5x" give 3 conversions; "8:0:5:x" gives 4).
func ScanDevTOffset(s string) (major, minor uint32, ok bool) {
	a, rest, ok1 := kScanUnsigned(s)
	if !ok1 || rest == "" || rest[0] != ':' {
		return 0, 0, false
	}
	b, rest, ok2 := kScanUnsigned(rest[1:])
	if !ok2 || rest == "" || rest[0] != ':' {
		return 0, 0, false
	}
	_, rest, ok3 := kScanUnsigned(rest[1:])
	if !ok3 {
		return 0, 0, false
	}
	if len(rest) >= 2 && rest[0] == ':' {
		return 0, 0, false
	}
	return uint32(a), uint32(b), true
}

// Errors of Kstrtoull, as the kernel's kstrto*() return them (EINVAL and
// ERANGE); callers map them to their own errno.
// Kstrtoull is the kernel's kstrtoull(s, base, &v) for base 10 or 16 (or 0
// for autodetection): an optional '+', an optional "0x" for base 16 or 0 (a
// leading 0 means octal for base 0), at least one digit, then nothing but
// one optional trailing newline. Anything else is EINVAL, and overflow
// ERANGE.
func Kstrtoull(s string, base int) (uint64, error) {
	if s != "" && s[0] == '+' {
		s = s[1:]
	}
	if base == 0 {
		switch {
		case len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' && len(s) > 2 && isXDigit(s[2]):
			base, s = 16, s[2:]
		case len(s) >= 1 && s[0] == '0':
			base = 8
		default:
			base = 10
		}
	} else if base == 16 && len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' {
		s = s[2:]
	}
	var v uint64
	overflow := false
	n := 0
	for n < len(s) {
		d, ok := digitVal(s[n])
		if !ok || d >= uint64(base) {
			break
		}
		if v > (math.MaxUint64-d)/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + d
		n++
	}
	if n == 0 {
		return 0, linuxerr.EINVAL
	}
	if overflow {
		return 0, linuxerr.ERANGE
	}
	rest := s[n:]
	if rest == "\n" {
		rest = ""
	}
	if rest != "" {
		return 0, linuxerr.EINVAL
	}
	return v, nil
}

// Kstrtouint is kstrtouint(): Kstrtoull limited to 32 bits.
func Kstrtouint(s string, base int) (uint32, error) {
	v, err := Kstrtoull(s, base)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, linuxerr.ERANGE
	}
	return uint32(v), nil
}

// Kstrtoint is kstrtoint(): an optional '-' or '+', then a decimal (or
// based) number within the int range.
func Kstrtoint(s string, base int) (int32, error) {
	if s != "" && s[0] == '-' {
		v, err := Kstrtoull(s[1:], base)
		if err != nil {
			return 0, err
		}
		if v > 1<<31 {
			return 0, linuxerr.ERANGE
		}
		return int32(-int64(v)), nil
	}
	v, err := Kstrtoull(s, base)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt32 {
		return 0, linuxerr.ERANGE
	}
	return int32(v), nil
}

func isXDigit(c byte) bool {
	_, ok := digitVal(c)
	return ok
}

func digitVal(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// SimpleStrtoul is the kernel's simple_strtoul(s, &end, base) with base 16
// or 10: it skips a "0x" prefix for base 16, reads as many digits as it
// can (wrapping on overflow) and returns the value and the unread rest.
func SimpleStrtoul(s string, base int) (uint64, string) {
	if base == 16 && len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' && len(s) > 2 && isXDigit(s[2]) {
		s = s[2:]
	}
	var v uint64
	n := 0
	for n < len(s) {
		d, ok := digitVal(s[n])
		if !ok || d >= uint64(base) {
			break
		}
		v = v*uint64(base) + d
		n++
	}
	return v, s[n:]
}
