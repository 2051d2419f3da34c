package thinsync_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestTrack: rounds of writes and discards on a live thin, each followed
// by `track`; the map accumulates every changed granule since the first
// round, and only the newest snapshot stays on the pool, so the pool uses
// no more data blocks than the live thin maps.
func TestTrack(t *testing.T) {
	m := machine(t)
	run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`,
		"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none", ": > /tmp/track")
	for i, tc := range []struct {
		ops  []string
		want string // in the summary line
		used int    // data blocks the pool uses afterwards
	}{
		{nil, "tracking thin 0 from snapshot 1 (65536-byte granules)", 16},
		{[]string{"yes a | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none"},
			"base snapshot 2 (deleted 1); delta 2 granules, 2 new; changed in 2 runs: 2 granules (131072 bytes): 3-4", 16},
		{[]string{"yes b | head -c 512 | dd of=/dev/mapper/thin bs=512 seek=1000 oflag=direct status=none",
			"blkdiscard -o 655360 -l 65536 /dev/mapper/thin",
			"yes c | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=40 oflag=direct status=none"},
			"base snapshot 3 (deleted 2); delta 3 granules, 3 new; changed in 3 runs: 5 granules (327680 bytes): 3-4,7,10,40", 16},
		{[]string{"yes d | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=4 oflag=direct status=none"},
			"base snapshot 4 (deleted 3); delta 1 granules, 0 new; changed in 4 runs: 5 granules (327680 bytes): 3-4,7,10,40", 16},
	} {
		run(t, m, tc.ops...)
		out := run(t, m, fmt.Sprintf("thinsync track --pool pool --id 0 --dev thin --snap-id %d --state /tmp/track", i+1))
		if !strings.Contains(out, tc.want) {
			t.Errorf("round %d: %q does not say %q", i+1, out, tc.want)
		}
		if got := mappedBlocks(t, m, "pool"); got != tc.used {
			t.Errorf("round %d: the pool uses %d data blocks, want %d", i+1, got, tc.used)
		}
		if i > 0 {
			if code, _ := status(t, m, fmt.Sprintf(`dmsetup message pool 0 "create_thin %d"`, i)); code != 0 {
				t.Errorf("round %d: snapshot %d was not deleted", i+1, i)
			} else {
				run(t, m, fmt.Sprintf(`dmsetup message pool 0 "delete %d"`, i))
			}
		}
	}
	if st := run(t, m, "dmsetup status pool"); strings.Fields(st)[6] != "-" {
		t.Errorf("held root left: %s", st)
	}
	// A state for another thin is refused.
	run(t, m, `dmsetup message pool 0 "create_thin 9"`, `dmsetup create nine --table "0 8192 thin /dev/mapper/pool 9"`)
	if code, msg := status(t, m, "thinsync track --pool pool --id 9 --dev nine --snap-id 10 --state /tmp/track"); code != 10 || !strings.Contains(msg, "tracks pool pool thin 0") {
		t.Errorf("another thin's state: exit %d, %q", code, msg)
	}
}
