package table

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// refKstrtoull10 is Kstrtoull(s, 10) written another way, to check the
// parser against.
// An overflowing number is ERANGE even with garbage after it.
func refKstrtoull10(s string) (uint64, error) {
	s = strings.TrimPrefix(s, "+")
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits == 0 {
		return 0, linuxerr.EINVAL
	}
	v, err := strconv.ParseUint(s[:digits], 10, 64)
	if err != nil {
		return 0, linuxerr.ERANGE
	}
	if rest := s[digits:]; rest != "" && rest != "\n" {
		return 0, linuxerr.EINVAL
	}
	return v, nil
}

func TestKstrtoullThinArgs(t *testing.T) {
	for _, tc := range []struct {
		s    string
		base int
		v    uint64
		err  error
	}{
		{"0", 10, 0, nil},
		{"128", 10, 128, nil},
		{"+128", 10, 128, nil},
		{"0128", 10, 128, nil},
		{"128\n", 10, 128, nil},
		{"128\n\n", 10, 0, linuxerr.EINVAL},
		{"", 10, 0, linuxerr.EINVAL},
		{"+", 10, 0, linuxerr.EINVAL},
		{"-1", 10, 0, linuxerr.EINVAL},
		{"0x80", 10, 0, linuxerr.EINVAL},
		{"12a", 10, 0, linuxerr.EINVAL},
		{" 1", 10, 0, linuxerr.EINVAL},
		{"18446744073709551615", 10, 18446744073709551615, nil},
		{"18446744073709551616", 10, 0, linuxerr.ERANGE},
		{"0x10", 0, 16, nil},
		{"010", 0, 8, nil},
		{"09", 0, 0, linuxerr.EINVAL},
		{"0x", 0, 0, linuxerr.EINVAL},
		{"60", 0, 60, nil},
		{"60\n", 0, 60, nil},
	} {
		v, err := Kstrtoull(tc.s, tc.base)
		if v != tc.v || err != tc.err {
			t.Errorf("Kstrtoull(%q, %d) = %d %v, want %d %v", tc.s, tc.base, v, err, tc.v, tc.err)
		}
	}
}

func FuzzKstrtoull(f *testing.F) {
	for _, s := range []string{"0", "+1", "128\n", "-1", "0x80", "18446744073709551616", "", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Kstrtoull(s, 10)
		rv, rerr := refKstrtoull10(s)
		if v != rv || err != rerr {
			t.Fatalf("Kstrtoull(%q) = %d %v, reference %d %v", s, v, err, rv, rerr)
		}
		n, ok := ScanUint(s)
		trimmed := trimLeftKSpace(s)
		if ok != (trimmed != "" && strings.Trim(trimmed, "0123456789") == "") {
			t.Fatalf("ScanUint(%q) ok=%v", s, ok)
		}
		if ok && len(trimmed) < 10 {
			if w, _ := strconv.ParseUint(trimmed, 10, 64); uint32(w) != n {
				t.Fatalf("ScanUint(%q) = %d", s, n)
			}
		}
	})
}
