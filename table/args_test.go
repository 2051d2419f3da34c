package table

import (
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

func TestArgRead(t *testing.T) {
	a := Arg{Min: 1, Max: 10, Error: "Invalid count"}
	for _, tc := range []struct {
		argv    string
		grouped bool
		v       uint32
		errText string
		rest    int // arguments left after the read
	}{
		{"5", false, 5, "", 0},
		{"5 x", false, 5, "", 1},
		{"0", false, 0, "Invalid count", 0},
		{"11", false, 0, "Invalid count", 0},
		{"4294967301", false, 5, "", 0}, // %u keeps the low 32 bits
		{"5x", false, 0, "Invalid count", 0},
		{"-5", false, 0, "Invalid count", 0},
		{"", false, 0, "Invalid count", 0},
		{"2 a b", true, 2, "", 2},
		{"3 a b", true, 0, "Invalid count", 2},
	} {
		as := &ArgSet{Argv: strings.Fields(tc.argv)}
		var errText string
		var v uint32
		var err error
		if tc.grouped {
			v, err = a.ReadGroup(as, &errText)
		} else {
			v, err = a.Read(as, &errText)
		}
		wantErr := error(nil)
		if tc.errText != "" {
			wantErr = linuxerr.EINVAL
		}
		if v != tc.v || errText != tc.errText || err != wantErr || len(as.Argv) != tc.rest {
			t.Errorf("%q (group %v): %d %q %v, %d left; want %d %q %v, %d left",
				tc.argv, tc.grouped, v, errText, err, len(as.Argv), tc.v, tc.errText, wantErr, tc.rest)
		}
	}
}

func TestStrcasecmp(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		eq   bool
	}{
		{"read_only", "READ_ONLY", true},
		{"Read_Only", "read_only", true},
		{"read_only", "read_onl", false},
		{"k", "\u212a", false}, // the Kelvin sign folds to k in Unicode, not in the kernel
		{"s", "\u017f", false},
		{"\xc0", "\xe0", false}, // Latin-1 letters are not folded
		{"", "", true},
	} {
		if got := Strcasecmp(tc.a, tc.b); got != tc.eq {
			t.Errorf("Strcasecmp(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.eq)
		}
	}
}
