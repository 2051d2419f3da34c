package dmsim

import (
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

func TestParseUintParam(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		err     error
	}{
		{"60", "60", nil},
		{"5\n", "5", nil},
		{"0", "0", nil},
		{"0x10", "16", nil},
		{"4294967295", "4294967295", nil},
		{"4294967296", "", linuxerr.ERANGE},
		{"-1", "", linuxerr.EINVAL},
		{"abc", "", linuxerr.EINVAL},
		{"", "", linuxerr.EINVAL},
	} {
		out, err := ParamSetUint(tc.in)
		if out != tc.out || err != tc.err {
			t.Errorf("ParamSetUint(%q) = %q %v, want %q %v", tc.in, out, err, tc.out, tc.err)
		}
	}
}
