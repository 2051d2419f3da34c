package thin

import (
	"math"

	"github.com/dmsim/dmsim/linuxerr"
)

// kstrtoull is the kernel's kstrtoull(s, base, &res): an optional leading
// '+', then digits of base (base 0 picks 16 for "0x", 8 for a leading 0,
// else 10; base 16 allows a "0x" prefix), then at most one trailing
// newline. EINVAL for anything else, ERANGE when the value overflows.
func kstrtoull(s string, base int) (uint64, error) {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	// _parse_integer_fixup_radix()
	if base == 0 {
		if len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' && len(s) > 2 && isHex(s[2]) {
			base = 16
		} else if len(s) > 0 && s[0] == '0' {
			base = 8
		} else {
			base = 10
		}
	}
	if base == 16 && len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' {
		s = s[2:]
	}
	// _parse_integer()
	var v uint64
	overflow := false
	n := 0
	for ; n < len(s); n++ {
		c := s[n]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case (c|0x20) >= 'a' && (c|0x20) <= 'f':
			d = uint64((c|0x20)-'a') + 10
		default:
			d = 99
		}
		if d >= uint64(base) {
			break
		}
		if v > (math.MaxUint64-d)/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + d
	}
	if n == 0 {
		return 0, linuxerr.EINVAL
	}
	if overflow {
		return 0, linuxerr.ERANGE
	}
	rest := s[n:]
	if len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
	}
	if rest != "" {
		return 0, linuxerr.EINVAL
	}
	return v, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || ((c|0x20) >= 'a' && (c|0x20) <= 'f')
}

// kstrtouint is kstrtouint(): kstrtoull that must fit 32 bits.
func kstrtouint(s string, base int) (uint32, error) {
	v, err := kstrtoull(s, base)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		return 0, linuxerr.ERANGE
	}
	return uint32(v), nil
}

// sscanfUint is the kernel's sscanf(s, "%u%c", &n, &dummy) == 1 as
// dm_read_arg_group() uses it: optional leading whitespace, decimal digits
// (no sign), and nothing after them. %u keeps the low 32 bits of the value
// simple_strtoull() parsed.
func sscanfUint(s string) (uint32, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	var v uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + uint64(s[i]-'0')
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	return uint32(v), true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// strcasecmpEq is strcasecmp(a, b) == 0 for ASCII.
func strcasecmpEq(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
