package thinsync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// familyMachine boots a machine with a source pool of 128-sector blocks
// and a family on it: thin 0 (8 MiB table, 4 MiB written), snapshots 1, 2
// and 3 taken after overwrites, partial writes, a discard and new blocks;
// thin 0 changed again after snapshot 3. Its device is removed (an offline
// family). The source pool has sblock-sector blocks, the target pool2
// tblock-sector blocks and tsectors of data.
func familyMachine(t testing.TB, sblock, tblock, tsectors int) *script.Machine {
	t.Helper()
	m, err := script.NewMachine(script.Config{CommandTime: -1, Disks: []script.Disk{
		{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 64 << 20},
		{Name: "meta2", Size: 4 << 20}, {Name: "data2", Size: 64 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	snap := func(id int) []string {
		return []string{"dmsetup suspend thin", fmt.Sprintf(`dmsetup message pool 0 "create_snap %d 0"`, id), "dmsetup resume thin"}
	}
	lines := []string{fmt.Sprintf(`dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data %d 0"`, sblock),
		fmt.Sprintf(`dmsetup create pool2 --table "0 %d thin-pool $DISK_meta2 $DISK_data2 %d 0"`, tsectors, tblock),
		`dmsetup message pool 0 "create_thin 0"`, `dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"`,
		"yes base | head -c 4194304 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none"}
	lines = append(lines, snap(1)...)
	lines = append(lines, "yes b | head -c 196608 | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none",
		"yes c | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=333 oflag=direct status=none")
	lines = append(lines, snap(2)...)
	lines = append(lines, "blkdiscard -o 1048576 -l 262144 /dev/mapper/thin",
		"yes d | head -c 327680 | dd of=/dev/mapper/thin bs=64K seek=90 oflag=direct status=none")
	lines = append(lines, snap(3)...)
	lines = append(lines, "yes e | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=7 oflag=direct status=none",
		"dmsetup remove thin")
	run(t, m, lines...)
	return m
}

// TestMigrateFamilyBlocks: a family migrated to a pool of the same block
// size uses exactly as many data blocks as the source; to 256-sector
// blocks, no more blocks (each holds two source blocks' worth); from
// 256-sector blocks to 128-sector ones, no more bytes. Every migrated thin
// reads its source's md5.
func TestMigrateFamilyBlocks(t *testing.T) {
	for _, tc := range []struct {
		sblock, tblock int
		check          func(src, dst int) bool
		what           string
	}{
		{128, 128, func(src, dst int) bool { return dst == src }, "exactly the source's count"},
		{256, 256, func(src, dst int) bool { return dst == src }, "exactly the source's count"},
		{128, 256, func(src, dst int) bool { return dst <= src && dst > 0 }, "at most the source's count"},
		{256, 128, func(src, dst int) bool { return dst <= 2*src && dst > src }, "at most the source's bytes"},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.sblock, tc.tblock), func(t *testing.T) {
			m := familyMachine(t, tc.sblock, tc.tblock, 131072)
			out := run(t, m, "thinsync migrate --from pool:1,2,3,0 --to pool2:1,2,3,0 --size 16384")
			src, dst := mappedBlocks(t, m, "pool"), mappedBlocks(t, m, "pool2")
			if !tc.check(src, dst) {
				t.Errorf("source pool uses %d blocks of %d sectors, the target %d of %d: want %s\n%s", src, tc.sblock, dst, tc.tblock, tc.what, out)
			}
			if !strings.Contains(out, fmt.Sprintf(": %d new data blocks", dst)) {
				t.Errorf("summary does not say %d new blocks:\n%s", dst, out)
			}
			for _, id := range []int{1, 2, 3, 0} {
				run(t, m, fmt.Sprintf(`dmsetup create s%d --readonly --table "0 16384 thin /dev/mapper/pool %d"`, id, id),
					fmt.Sprintf(`dmsetup create r%d --readonly --table "0 16384 thin /dev/mapper/pool2 %d"`, id, id))
				if a, b := md5of(t, m, fmt.Sprintf("/dev/mapper/s%d", id)), md5of(t, m, fmt.Sprintf("/dev/mapper/r%d", id)); a != b {
					t.Errorf("thin %d: target md5 %s, source %s", id, b, a)
				}
			}
			t.Logf("source %d blocks of %d sectors, target %d of %d", src, tc.sblock, dst, tc.tblock)
		})
	}
}

// TestMigrateRefusals: each refusal exits with its code before anything is
// written to the target.
func TestMigrateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tsize int
		setup []string
		args  string
		code  int
		msg   string
	}{
		{"too small", 4096, nil, "--to pool2:1,2,3,0", 11, "too small"},
		{"id taken", 131072, []string{`dmsetup message pool2 0 "create_thin 2"`}, "--to pool2:1,2,3,0", 6, "exists on the target"},
		{"read-only source", 131072, []string{`dmsetup reload pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"`,
			"dmsetup suspend pool", "dmsetup resume pool"}, "--to pool2:1,2,3,0", 12, "read-only"},
		{"same pool", 131072, nil, "--to pool:11,12,13,10", 2, "another pool"},
		{"id count", 131072, nil, "--to pool2:1,2", 2, "as many ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := familyMachine(t, 128, 128, tc.tsize)
			run(t, m, tc.setup...)
			before := run(t, m, "dmsetup status pool2")
			r, _ := m.Run("thinsync migrate --from pool:1,2,3,0 --size 16384 " + tc.args)
			if r.Status != tc.code || !strings.Contains(string(r.Stderr), tc.msg) || strings.Count(string(r.Stderr), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line with %q", r.Status, r.Stderr, tc.code, tc.msg)
			}
			if after := run(t, m, "dmsetup status pool2"); after != before {
				t.Errorf("the target changed: %s -> %s", before, after)
			}
		})
	}
}

// TestMigrateLiveResume: a live migration stopped after pre-copy round N
// (as if killed: the test hook), with writes to the device before it is
// resumed, ends with the device served by the target and reading what it
// read on the source; the scratch snapshots are gone from both pools.
func TestMigrateLiveResume(t *testing.T) {
	for _, stop := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(stop), func(t *testing.T) {
			m := machine(t, script.Disk{Name: "state", Size: 1 << 20})
			run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`,
				"yes base | head -c 2097152 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
				"yes w | head -c 131072 > /tmp/w")
			const mig = "thinsync migrate --live thin --from pool:0 --to pool2:5 --rounds 3 --final-below 0 --state $DISK_state " +
				`--between-rounds "dd if=/tmp/w of=/dev/mapper/thin bs=64K seek={round}0 oflag=direct"`
			r, _ := m.Run(fmt.Sprintf("%s --stop-after-round %d", mig, stop))
			if r.Status != 137 {
				t.Fatalf("exit %d: %s%s", r.Status, r.Stdout, r.Stderr)
			}
			run(t, m, "yes x | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=33 oflag=direct status=none")
			if r, _ := m.Run(mig); r.Status != 10 {
				t.Errorf("a new migration over an unfinished state: exit %d, want 10", r.Status)
			}
			out := run(t, m, mig+" --resume")
			want := md5of(t, m, "/dev/mapper/thin")
			run(t, m, `dmsetup create s --readonly --table "0 8192 thin /dev/mapper/pool 0"`)
			if got := md5of(t, m, "/dev/mapper/s"); got != want {
				t.Errorf("the device reads %s, the source thin %s", want, got)
			}
			if table := run(t, m, "dmsetup table thin"); !strings.HasSuffix(strings.TrimSpace(table), " 5") {
				t.Errorf("table %q is not pool2's thin 5\n%s", table, out)
			}
			for _, pool := range []string{"pool", "pool2"} {
				for _, id := range []int{1, 2} {
					if r, _ := m.Run(fmt.Sprintf(`dmsetup message %s 0 "create_thin %d"`, pool, id)); r.Status != 0 {
						t.Errorf("snapshot %d left on %s", id, pool)
					}
				}
			}
		})
	}
}

// TestMigrateSpool: the streams can go through a file instead of memory,
// uncompressed; the result is the same.
func TestMigrateSpool(t *testing.T) {
	m := familyMachine(t, 128, 128, 131072)
	run(t, m, "thinsync migrate --from pool:1,2,3,0 --to pool2:1,2,3,0 --size 16384 --spool /tmp/spool --compress none")
	if src, dst := mappedBlocks(t, m, "pool"), mappedBlocks(t, m, "pool2"); src != dst {
		t.Errorf("source %d blocks, target %d", src, dst)
	}
	run(t, m, `dmsetup create s --readonly --table "0 16384 thin /dev/mapper/pool 0"`,
		`dmsetup create r --readonly --table "0 16384 thin /dev/mapper/pool2 0"`)
	if a, b := md5of(t, m, "/dev/mapper/s"), md5of(t, m, "/dev/mapper/r"); a != b {
		t.Errorf("target md5 %s, source %s", b, a)
	}
	if out := run(t, m, "thinsync inspect /tmp/spool"); !strings.Contains(out, "kind=incremental") || !strings.Contains(out, "codec=none") {
		t.Errorf("the spool does not hold the last incremental:\n%s", out)
	}
}
