package thinsync_test

import (
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// TestRecvRefusals: refusals of a receive into a new thin; each is one
// line with its exit code, and nothing is published: NEWID does not exist
// afterwards (create_thin NEWID succeeds) and the state says aborted.
func TestRecvRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup []string
		line  string
		code  int
		msg   string
	}{
		// 2 MiB of data into a pool of 1 MiB that errors when full.
		{"out of space", []string{`dmsetup create pool3 --table "0 2048 thin-pool $DISK_meta3 $DISK_data3 128 0 1 error_if_no_space"`},
			"thinsync recv --pool pool3 --id 1 --state /tmp/st -i /tmp/s1", 9, "No space left on device"},
		{"corrupt stream", []string{`dmsetup create pool3 --table "0 32768 thin-pool $DISK_meta3 $DISK_big3 128 0"`,
			// an unknown mandatory record is refused the same way (TestStreamRecords)
			"head -c 2000 /tmp/s1 > /tmp/bad", "printf 'garbage' >> /tmp/bad"},
			"thinsync recv --pool pool3 --id 1 --state /tmp/st -i /tmp/bad", 3, "stream refused"},
		{"granule mismatch", []string{`dmsetup create pool3 --table "0 32768 thin-pool $DISK_meta3 $DISK_big3 256 0"`},
			"thinsync recv --pool pool3 --id 1 --state /tmp/st -i /tmp/s1", 7, "stream granule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t, script.Disk{Name: "meta3", Size: 4 << 20}, script.Disk{Name: "data3", Size: 1 << 20},
				script.Disk{Name: "big3", Size: 16 << 20})
			run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`,
				"seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
				"thinsync send --pool pool --id 1 --size 8192 -o /tmp/s1", ": > /tmp/st")
			run(t, m, tc.setup...)
			code, msg := status(t, m, tc.line)
			if code != tc.code || !strings.Contains(msg, tc.msg) || strings.Count(msg, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q in one line", code, msg, tc.code, tc.msg)
			}
			if code, msg := status(t, m, `dmsetup message pool3 0 "create_thin 1"`); code != 0 {
				t.Errorf("thin 1 was left in pool3: %s", msg)
			}
			if tc.code != 7 {
				if st := run(t, m, "cat /tmp/st"); !strings.Contains(st, "phase=aborted") {
					t.Errorf("state: %q", st)
				}
			}
		})
	}
}
