package sim

import "testing"

func TestMsecsToJiffies(t *testing.T) {
	for _, tc := range []struct {
		ms   uint32
		want uint64
	}{
		{0, 0}, {1, 1}, {3, 1}, {4, 1}, {5, 2}, {10, 3}, {49, 13}, {50, 13}, {100, 25}, {1000, 250},
		{1<<31 - 1, 536870912},
		{1 << 31, MaxJiffyOffset}, {1<<32 - 1, MaxJiffyOffset},
	} {
		if got := MsecsToJiffies(tc.ms); got != tc.want {
			t.Errorf("msecs_to_jiffies(%d) = %d, want %d", tc.ms, got, tc.want)
		}
	}
}
