package thinsync

import (
	"fmt"
	"testing"
)

func TestParsePoolStatus(t *testing.T) {
	for _, tc := range []struct {
		line           string
		ok             bool
		failed, ro, nc bool
		used, total    uint64
	}{
		{"0 131072 thin-pool 0 114/1024 48/1024 - rw discard_passdown queue_if_no_space - 256", true, false, false, false, 48, 1024},
		{"0 131072 thin-pool 0 112/1024 2/1024 - ro discard_passdown queue_if_no_space needs_check 256", true, false, true, true, 2, 1024},
		{"0 131072 thin-pool Fail", true, true, false, false, 0, 0},
		{"0 131072 thin-pool 0 112/1024 2/1024 8 out_of_data_space discard_passdown queue_if_no_space - 256", true, false, false, false, 2, 1024},
		{"0 8192 thin 12 8191", false, false, false, false, 0, 0},
		{"0 131072 thin-pool 0 112/1024 3/2 - rw discard_passdown queue_if_no_space - 256", false, false, false, false, 0, 0},
		{"0 131072 thin-pool 0 112/1024 x/2 - rw a b - 256", false, false, false, false, 0, 0},
		{"", false, false, false, false, 0, 0},
	} {
		s, err := parsePoolStatus("p", tc.line)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok=%v", tc.line, err, tc.ok)
			continue
		}
		if err == nil && (s.failed != tc.failed || s.readOnly != tc.ro || s.needsCheck != tc.nc || s.usedData != tc.used || s.totalData != tc.total) {
			t.Errorf("%q: %+v", tc.line, *s)
		}
	}
}

func TestPoolIDs(t *testing.T) {
	for _, tc := range []struct {
		in, pool, ids string // ids "" : refused
	}{
		{"pool:1,2,3,0", "pool", "[1 2 3 0]"},
		{"p:7", "p", "[7]"},
		{"pool", "", ""},
		{":1", "", ""},
		{"p:", "", ""},
		{"p:1,1", "", ""},
		{"p:1,x", "", ""},
		{"p:-1", "", ""},
		{"p:16777216", "", ""},
	} {
		pool, ids, err := poolIDs(tc.in)
		if tc.ids == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q %v", tc.in, pool, ids)
			}
			continue
		}
		if err != nil || pool != tc.pool || fmt.Sprint(ids) != tc.ids {
			t.Errorf("%q: %q %v %v, want %q %s", tc.in, pool, ids, err, tc.pool, tc.ids)
		}
	}
}

// FuzzPoolStatus: any status line parses or is refused, never a panic; a
// parsed one has used <= total.
func FuzzPoolStatus(f *testing.F) {
	f.Add("0 131072 thin-pool 0 114/1024 48/1024 - rw discard_passdown queue_if_no_space - 256")
	f.Add("0 131072 thin-pool Fail")
	f.Fuzz(func(t *testing.T, line string) {
		if s, err := parsePoolStatus("p", line); err == nil && !s.failed && s.usedData > s.totalData {
			t.Fatalf("%q: used %d > total %d", line, s.usedData, s.totalData)
		}
	})
}

// FuzzPoolIDs: POOL:ID lists parse or are refused, never a panic.
func FuzzPoolIDs(f *testing.F) {
	f.Add("pool:1,2,3,0")
	f.Fuzz(func(t *testing.T, s string) {
		if _, ids, err := poolIDs(s); err == nil && len(ids) == 0 {
			t.Fatalf("%q: no ids and no error", s)
		}
	})
}
