package frontend

import "testing"

func TestWithBlockMajor(t *testing.T) {
	head := "Character devices:\n  1 mem\n 10 misc\n\nBlock devices:\n"
	tests := []struct{ in, want string }{
		{head + "  7 loop\n254 virtblk\n259 blkext\n", head + "  7 loop\n253 device-mapper\n254 virtblk\n259 blkext\n"},
		{head + "  7 loop\n253 zram\n254 virtblk\n", head + "  7 loop\n253 device-mapper\n254 virtblk\n"},
		{head + "  7 loop\n", head + "  7 loop\n253 device-mapper\n"},
		{"Character devices:\n  1 mem\n", "Character devices:\n  1 mem\n"},
	}
	for _, tc := range tests {
		if got := withBlockMajor(tc.in, 253, "device-mapper"); got != tc.want {
			t.Errorf("withBlockMajor(%q) =\n%q\nwant\n%q", tc.in, got, tc.want)
		}
	}
}
