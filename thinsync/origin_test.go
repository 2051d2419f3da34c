package thinsync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// TestExternalOrigin: a thin with an external origin sends its unmapped
// ranges as the origin's data (read through the device), in a full
// stream and for left_only ranges (a discard) of an incremental; the
// received thins, which have no origin, read what the source reads.
func TestExternalOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, send string // how send learns the origin
	}{
		{"from-dev", "--dev thin"},
		{"flag", "--size 8192 --origin $DISK_origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t, script.Disk{Name: "origin", Size: 4 << 20})
			run(t, m, "yes origin | head -c 4194304 | dd of=$DISK_origin bs=64K oflag=direct status=none",
				`dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0 $DISK_origin"`,
				"yes new | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=5 oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin")
			full := stderrOf(t, m, "thinsync send --pool pool --id 1 "+tc.send+" -o /tmp/s1")
			if !strings.Contains(full, "64 DATA records") || !strings.Contains(full, "0 ZERO") {
				t.Errorf("full send of an external-origin thin: %s", full)
			}
			run(t, m, "thinsync recv --pool pool2 --id 1 -i /tmp/s1",
				// a discard of mapped blocks: left_only, which reads the origin again
				"blkdiscard -o 327680 -l 65536 /dev/mapper/thin",
				"yes two | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=20 oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin")
			inc := stderrOf(t, m, "thinsync send --pool pool --id 2 --base 1 "+tc.send+" -o /tmp/s2")
			if !strings.Contains(inc, "2 DATA records") || !strings.Contains(inc, "0 ZERO") {
				t.Errorf("incremental of an external-origin thin: %s", inc)
			}
			run(t, m, "thinsync recv --pool pool2 --id 2 --base 1 -i /tmp/s2")
			want := md5of(t, m, "/dev/mapper/thin")
			run(t, m, `dmsetup create r --readonly --table "0 8192 thin /dev/mapper/pool2 2"`)
			if got := md5of(t, m, "/dev/mapper/r"); got != want {
				t.Errorf("received md5 %s, source %s", got, want)
			}
			if st := run(t, m, "dmsetup status pool"); strings.Fields(st)[6] != "-" {
				t.Errorf("held root left: %s", st)
			}
		})
	}
}

// TestExternalOriginWithoutOrigin: the same thin sent without naming its
// origin sends its unmapped ranges as ZERO (what the pool alone knows):
// the control for TestExternalOrigin.
func TestExternalOriginWithoutOrigin(t *testing.T) {
	m := machine(t, script.Disk{Name: "origin", Size: 4 << 20})
	run(t, m, "yes origin | head -c 4194304 | dd of=$DISK_origin bs=64K oflag=direct status=none",
		`dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0 $DISK_origin"`,
		"yes new | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=5 oflag=direct status=none",
		`dmsetup message pool 0 "create_snap 1 0"`)
	out := stderrOf(t, m, "thinsync send --pool pool --id 1 --size 8192 -o /tmp/s1")
	if !strings.Contains(out, fmt.Sprintf("2 DATA records (%d bytes", 131072)) {
		t.Errorf("send without the origin: %s", out)
	}
}
