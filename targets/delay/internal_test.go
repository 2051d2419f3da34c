package delay

import (
	"testing"

	"github.com/dmsim/dmsim/sim"
)

// TestWheelExpiry checks calc_wheel_index()'s rounding: level 0 (under 63
// jiffies ahead) runs one jiffy after the expiry, level n rounds past a
// multiple of 8^n jiffies, and the wheel's reach is capped.
func TestWheelExpiry(t *testing.T) {
	const cut = 63 << 24
	for _, tc := range []struct {
		expires, clk uint64
		at           uint64
		capped       bool
	}{
		{1000, 1000, 1001, false},
		{1025, 1000, 1026, false},
		{1062, 1000, 1063, false},
		{1063, 1000, 1064, false}, // 63 ahead: level 1, 1063 rounds past 1056
		{1250, 1000, 1256, false},
		{1256, 1000, 1264, false},
		{1503, 1000, 1504, false},
		{1504, 1000, 1536, false}, // 504 ahead: level 2 (64 jiffies)
		{999, 1000, 1000, false},  // already expired
		{1000 + cut - 1, 1000, ((1000+cut-1)>>24 + 1) << 24, false},
		{1000 + cut, 1000, ((1000+cut-1<<24)>>24 + 1) << 24, true},
		{1000 + sim.MaxJiffyOffset, 1000, ((1000+cut-1<<24)>>24 + 1) << 24, true},
	} {
		at, capped := wheelExpiry(tc.expires, tc.clk)
		if at != tc.at || capped != tc.capped {
			t.Errorf("expires %d at clk %d: runs at %d (capped %v), want %d (%v)", tc.expires, tc.clk, at, capped, tc.at, tc.capped)
		}
		if !capped && at <= tc.expires && tc.expires >= tc.clk {
			t.Errorf("expires %d: runs early at %d", tc.expires, at)
		}
	}
}
