package busybox

import (
	"fmt"
	"strconv"
)

// suffix is one entry of a busybox suffix_mult table.
type suffix struct {
	s string
	m uint64
}

var (
	cwbkMGSuffixes = []suffix{{"c", 1}, {"w", 2}, {"b", 512}, {"kB", 1000}, {"kD", 1000}, {"k", 1024},
		{"K", 1024}, {"MB", 1000000}, {"MD", 1000000}, {"M", 1048576}, {"GB", 1000000000},
		{"GD", 1000000000}, {"G", 1073741824}}
	bkmSuffixes = []suffix{{"b", 512}, {"k", 1024}, {"m", 1024 * 1024}}
	kMGSuffixes = []suffix{{"k", 1024}, {"K", 1024}, {"M", 1048576}, {"G", 1073741824}}
)

// errNumber is a busybox number-parsing failure; its text is the message.
type errNumber string

func (e errNumber) Error() string { return string(e) }

// parseNumber is busybox's xatoull_range_sfx: decimal digits, an optional
// suffix from sfx, within [lo, hi].
func parseNumber(s string, sfx []suffix, lo, hi uint64) (uint64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errNumber(fmt.Sprintf("invalid number '%s'", s))
	}
	v, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
	}
	if rest := s[i:]; rest != "" {
		found := false
		for _, x := range sfx {
			if x.s == rest {
				if v != 0 && v*x.m/x.m != v {
					return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
				}
				v *= x.m
				found = true
				break
			}
		}
		if !found {
			return 0, errNumber(fmt.Sprintf("invalid number '%s'", s))
		}
	}
	if v < lo || v > hi {
		return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
	}
	return v, nil
}
