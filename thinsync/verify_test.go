package thinsync_test

import (
	"strings"
	"testing"
)

// TestVerifyArchive: `verify --archive` passes a whole archive and refuses
// one whose stream was damaged (a flipped byte) or is missing.
func TestVerifyArchive(t *testing.T) {
	for _, tc := range []struct {
		name, damage string
		code         int
		msg          string
	}{
		{"whole", "true", 0, "archive vol of /tmp is whole"},
		{"flipped byte", "printf X | dd of=/tmp/vol.0002.incremental bs=1 seek=300 conv=notrunc status=none", 3, ""},
		{"emptied stream", ": > /tmp/vol.0001.full", 3, "vol.0001.full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t)
			run(t, m, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`,
				"yes one | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none",
				"thinsync backup --pool pool --id 0 --dev vol --snap-id 101 --archive /tmp --volume vol",
				"yes two | head -c 131072 | dd of=/dev/mapper/vol bs=64K seek=4 oflag=direct status=none",
				"thinsync backup --pool pool --id 0 --dev vol --snap-id 102 --archive /tmp --volume vol",
				tc.damage)
			code, msg := status(t, m, "thinsync verify --archive /tmp --volume vol")
			if tc.code == 0 {
				msg = run(t, m, "thinsync verify --archive /tmp --volume vol")
			}
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("exit %d %q; want exit %d saying %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}
