package thinsync_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
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
		// The same snapshot id again: that run is finished, nothing changes.
		{nil, "snapshot 4 is already the base; changed in 4 runs: 5 granules (327680 bytes): 3-4,7,10,40", 16},
	} {
		run(t, m, tc.ops...)
		out := run(t, m, fmt.Sprintf("thinsync track --pool pool --id 0 --dev thin --snap-id %d --state /tmp/track", min(i+1, 4)))
		if !strings.Contains(out, tc.want) {
			t.Errorf("round %d: %q does not say %q", i+1, out, tc.want)
		}
		if got := mappedBlocks(t, m, "pool"); got != tc.used {
			t.Errorf("round %d: the pool uses %d data blocks, want %d", i+1, got, tc.used)
		}
		if got, want := thins(t, m, "pool"), []int{0, min(i+1, 4)}; !slices.Equal(got, want) {
			t.Errorf("round %d: thins %v on the pool, want %v", i+1, got, want)
		}
	}
	// --reset starts over from a new snapshot and deletes the old base.
	out := run(t, m, "thinsync track --pool pool --id 0 --dev thin --snap-id 5 --state /tmp/track --reset")
	if !strings.Contains(out, "tracking thin 0 from snapshot 5") || !slices.Equal(thins(t, m, "pool"), []int{0, 5}) {
		t.Errorf("--reset: %q, thins %v", out, thins(t, m, "pool"))
	}
	// A state for another thin is refused.
	run(t, m, `dmsetup message pool 0 "create_thin 9"`, `dmsetup create nine --table "0 8192 thin /dev/mapper/pool 9"`)
	if code, msg := status(t, m, "thinsync track --pool pool --id 9 --dev nine --snap-id 10 --state /tmp/track"); code != 10 || !strings.Contains(msg, "tracks pool pool thin 0") {
		t.Errorf("another thin's state: exit %d, %q", code, msg)
	}
	// A snapshot id someone else has: refused, and their thin is left alone.
	if code, msg := status(t, m, "thinsync track --pool pool --id 0 --dev thin --snap-id 9 --state /tmp/track"); code != 6 {
		t.Errorf("a taken snapshot id: exit %d, %q", code, msg)
	}
	run(t, m, "thinsync track --pool pool --id 0 --dev thin --snap-id 6 --state /tmp/track")
	if got := thins(t, m, "pool"); !slices.Equal(got, []int{0, 6, 9}) {
		t.Errorf("after a refused id: thins %v, want [0 6 9]", got)
	}
	if st := run(t, m, "dmsetup status pool"); strings.Fields(st)[6] != "-" {
		t.Errorf("held root left: %s", st)
	}
}

// thins lists the thin ids of a pool (thin_dump of its metadata under a
// metadata snapshot).
func thins(t testing.TB, m *script.Machine, pool string) []int {
	t.Helper()
	meta := map[string]string{"pool": "$DISK_meta", "pool2": "$DISK_meta2"}[pool]
	run(t, m, fmt.Sprintf(`dmsetup message %s 0 "reserve_metadata_snap"`, pool))
	out := run(t, m, "thin_dump -m "+meta)
	run(t, m, fmt.Sprintf(`dmsetup message %s 0 "release_metadata_snap"`, pool))
	var ids []int
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, `<device dev_id="`); i >= 0 {
			var id int
			fmt.Sscanf(line[i+len(`<device dev_id="`):], "%d", &id)
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// snapMD5 is the md5 of a pool's thin, activated read-only for the read.
func snapMD5(t testing.TB, m *script.Machine, pool string, id, sectors int) string {
	t.Helper()
	run(t, m, fmt.Sprintf(`dmsetup create md5-%s-%d --readonly --table "0 %d thin /dev/mapper/%s %d"`, pool, id, sectors, pool, id))
	defer run(t, m, fmt.Sprintf("dmsetup remove md5-%s-%d", pool, id))
	return md5of(t, m, fmt.Sprintf("/dev/mapper/md5-%s-%d", pool, id))
}

// TestTrackSend: backup cycles driven by track. A full stream of the first
// tracking snapshot, then per cycle two rounds of changes, each followed by
// `track` (which deletes the previous snapshot), and `send --track` of the
// newest snapshot: an incremental from the last one sent (gone from the
// pool) that reads only the granules of the map, received as a snapshot
// of the previous received thin at the source's md5.
func TestTrackSend(t *testing.T) {
	m := machine(t)
	const track = "thinsync track --pool pool --id 0 --dev thin --state /tmp/track --snap-id "
	run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`, "mkdir /tmp/m",
		"seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		track+"1", "thinsync send --pool pool --id 1 --size 8192 --manifests /tmp/m -o /tmp/s1",
		"thinsync recv --pool pool2 --id 1 --manifests /tmp/m -i /tmp/s1")
	snap := 1
	for cycle, tc := range []struct {
		ops   [2][]string
		bytes int // the changed bytes send reads
	}{
		{[2][]string{{"yes a | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none"},
			{"blkdiscard -o 655360 -l 65536 /dev/mapper/thin", "yes c | head -c 512 | dd of=/dev/mapper/thin bs=512 seek=5000 oflag=direct status=none"}},
			3 * 65536}, // 3, 4 and 39 read; 10 is unmapped now: a ZERO record
		{[2][]string{{"yes d | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=4 oflag=direct status=none"},
			{"yes e | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=4 oflag=direct status=none"}},
			65536},
		{[2][]string{nil, nil}, 0},
	} {
		prev := snap
		for _, ops := range tc.ops {
			run(t, m, ops...)
			snap++
			run(t, m, fmt.Sprint(track, snap))
			if got := thins(t, m, "pool"); !slices.Equal(got, []int{0, snap}) {
				t.Fatalf("cycle %d: thins %v on the pool, want [0 %d]", cycle, got, snap)
			}
		}
		out := stderrOf(t, m, fmt.Sprintf("thinsync send --pool pool --id %d --track /tmp/track --manifests /tmp/m -o /tmp/s", snap))
		want := fmt.Sprintf("incremental from %d, by the changed-block map", prev)
		if !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("read %d changed bytes + 0 for roots", tc.bytes)) {
			t.Errorf("cycle %d: %q, want %q and %d bytes read", cycle, out, want, tc.bytes)
		}
		run(t, m, fmt.Sprintf("thinsync recv --pool pool2 --id %d --base %d --manifests /tmp/m -i /tmp/s", cycle+2, cycle+1))
		if got, want := snapMD5(t, m, "pool2", cycle+2, 8192), snapMD5(t, m, "pool", snap, 8192); got != want {
			t.Fatalf("cycle %d: received md5 %s, source %s", cycle, got, want)
		}
		// The map is empty again and counts from the snapshot sent.
		if out := run(t, m, fmt.Sprint(track, snap)); !strings.Contains(out, "changed in") || !strings.Contains(out, ": 0 granules (0 bytes): none") {
			t.Errorf("cycle %d: after the send: %q", cycle, out)
		}
	}
	for _, tc := range []struct {
		line string
		code int
	}{
		{fmt.Sprintf("thinsync send --pool pool --id %d --track /tmp/track --manifests /tmp/m -o /tmp/x", snap+1), 10},
		{fmt.Sprintf("thinsync send --pool pool --id %d --track /tmp/track --manifests /tmp -o /tmp/x", snap), 5},
		{fmt.Sprintf("thinsync send --pool pool --id %d --track /tmp/track -o /tmp/x", snap), 2},
		{fmt.Sprintf("thinsync send --pool pool --id %d --track /tmp/m/pool-1.manifest --manifests /tmp/m -o /tmp/x", snap), 10},
	} {
		if code, msg := status(t, m, tc.line); code != tc.code {
			t.Errorf("%s: exit %d (%q), want %d", tc.line, code, msg, tc.code)
		}
	}
}

// TestTrackCrash: a track run killed after each of its steps (the test
// hook --stop-after: its intent, the snapshot, the map, the state, the
// old base's deletion; every step is synced or a committed pool message,
// so a power cut there leaves the same) is followed by the same command.
// It succeeds, only the new base and the live thin stay on the pool, and
// the map still leads `send --track` to the source's md5.
func TestTrackCrash(t *testing.T) {
	const track = "thinsync track --pool pool --id 0 --dev thin --state /tmp/track --snap-id "
	for _, tc := range []struct {
		first bool
		stop  string
		want  string // in the rerun's summary
	}{
		{true, "intent", "tracking thin 0 from snapshot 1 ("},
		{true, "snap", "tracking thin 0 from snapshot 1 (taken again: a crashed run's)"},
		{true, "map", "tracking thin 0 from snapshot 1 (taken again"},
		{true, "state", "snapshot 1 is already the base"},
		// The snapshot is taken (again) after the write that followed the
		// crash: the delta has it (60).
		{false, "intent", "base snapshot 2 (deleted 1); delta 4 granules, 4 new; changed in 2 runs: 4 granules (262144 bytes): 2-4,60"},
		{false, "snap", "base snapshot 2 (taken again: a crashed run's) (deleted 1); delta 4 granules"},
		{false, "map", "base snapshot 2 (taken again: a crashed run's) (deleted 1); delta 4 granules"},
		{false, "state", "snapshot 2 is already the base; changed in 2 runs: 3 granules"},
		{false, "delete", "snapshot 2 is already the base; changed in 2 runs: 3 granules"},
	} {
		t.Run(fmt.Sprint(tc.first, tc.stop), func(t *testing.T) {
			m := machine(t)
			run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`, "mkdir /tmp/m",
				"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none")
			snap := 1
			if !tc.first {
				run(t, m, track+"1", "thinsync send --pool pool --id 1 --size 8192 --manifests /tmp/m -o /tmp/s1",
					"thinsync recv --pool pool2 --id 1 --manifests /tmp/m -i /tmp/s1",
					"yes a | head -c 196608 | dd of=/dev/mapper/thin bs=64K seek=2 oflag=direct status=none")
				snap = 2
			}
			if code, msg := status(t, m, fmt.Sprint(track, snap, " --stop-after ", tc.stop)); code != 137 {
				t.Fatalf("stopped run: exit %d, %q", code, msg)
			}
			if !tc.first { // written after the crash: the next round's
				run(t, m, "yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=60 oflag=direct status=none")
			}
			if out := run(t, m, fmt.Sprint(track, snap)); !strings.Contains(out, tc.want) {
				t.Errorf("rerun: %q, want %q", out, tc.want)
			}
			if got := thins(t, m, "pool"); !slices.Equal(got, []int{0, snap}) {
				t.Errorf("thins %v on the pool, want [0 %d]", got, snap)
			}
			if tc.first {
				return
			}
			run(t, m, "thinsync track --pool pool --id 0 --dev thin --state /tmp/track --snap-id 3",
				"thinsync send --pool pool --id 3 --track /tmp/track --manifests /tmp/m -o /tmp/s",
				"thinsync recv --pool pool2 --id 2 --base 1 --manifests /tmp/m -i /tmp/s")
			if got, want := snapMD5(t, m, "pool2", 2, 8192), snapMD5(t, m, "pool", 3, 8192); got != want {
				t.Errorf("received md5 %s, source %s", got, want)
			}
		})
	}
}
