package dmsetup

import "strings"

// scanULL reads one "%llu" conversion: optional white space and sign, then
// decimal digits (strtoull: saturating, a '-' negates modulo 2^64).
func scanULL(s string) (uint64, string, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	var v uint64
	overflow := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	if overflow {
		v = ^uint64(0)
	} else if neg {
		v = -v
	}
	return v, s[i:], true
}

// ullOverflows reports whether strtoull would set ERANGE for s.
func ullOverflows(s string) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	var v uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		dg := uint64(s[i] - '0')
		if v > (^uint64(0)-dg)/10 {
			return true
		}
		v = v*10 + dg
	}
	return false
}
