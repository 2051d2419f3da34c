package thinsync_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/script"
)

const repCmd = "thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1001 --to-pool pool2 --to-ids 2001 --state $DISK_state --keep 3"

// replicaMD5 is the md5 of thin id of pool2, activated read-only.
func replicaMD5(t testing.TB, m *script.Machine, id int) string {
	t.Helper()
	run(t, m, fmt.Sprintf(`dmsetup create rr --readonly --table "0 8192 thin /dev/mapper/pool2 %d"`, id))
	defer run(t, m, "dmsetup remove rr")
	return md5of(t, m, "/dev/mapper/rr")
}

// TestReplicate100Cycles: 10 runs of 10 cycles, one every 60 seconds of
// virtual time, with a write between the runs: every run's newest replica
// reads the thin's md5, the emulator's clock advanced by the sleeps (no
// real time is spent), and in the end the target keeps the newest 3
// replicas and the source only the next base. Every other run keeps
// manifests; the pruned thins' manifests go with them.
func TestReplicate100Cycles(t *testing.T) {
	m := machine(t, script.Disk{Name: "state", Size: 1 << 20})
	run(t, m, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`,
		"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none")
	for r := 0; r < 10; r++ {
		run(t, m, fmt.Sprintf("yes %d | head -c 65536 | dd of=/dev/mapper/vol bs=64K seek=%d oflag=direct status=none", r, 3*r+1))
		t0 := m.Kernel.Clock.Now()
		cmd := repCmd + " --count 10 --every 60"
		if r%2 == 1 { // the manifests spare reading unchanged blocks
			cmd += " --manifests /tmp"
		}
		out := run(t, m, cmd)
		if dt := m.Kernel.Clock.Now() - t0; dt < 9*time.Minute {
			t.Errorf("run %d: 10 cycles every 60 s took %v of virtual time", r, dt)
		}
		if n := strings.Count(out, "thinsync: cycle "); n != 10 {
			t.Fatalf("run %d: %d cycles:\n%s", r, n, out)
		}
		last := 10*r + 10
		if !strings.Contains(out, fmt.Sprintf("cycle %d: snapshot %d -> thin %d of pool2", last, 1000+last, 2000+last)) {
			t.Fatalf("run %d:\n%s", r, out)
		}
		if got, want := replicaMD5(t, m, 2000+last), md5of(t, m, "/dev/mapper/vol"); got != want {
			t.Fatalf("cycle %d: replica md5 %s, source %s", last, got, want)
		}
	}
	if got := fmt.Sprint(thins(t, m, "pool2")); got != "[2098 2099 2100]" {
		t.Errorf("target keeps %s, want 2098 2099 2100", got)
	}
	if got := fmt.Sprint(thins(t, m, "pool")); got != "[0 1100]" {
		t.Errorf("source keeps %s, want 0 1100", got)
	}
	if got := strings.Join(strings.Fields(run(t, m, "echo /tmp/*.manifest")), " "); got != "/tmp/pool-1100.manifest /tmp/pool2-2098.manifest /tmp/pool2-2099.manifest /tmp/pool2-2100.manifest" {
		t.Errorf("manifests left: %s", got)
	}
}

// TestReplicateInterrupted: a run killed in a cycle (the test hooks exit
// with no cleanup), then a power cut. A receive cut with the stream staged
// on a disk is resumed after its last checkpoint; staged in /tmp (gone
// after the reboot) it is rolled back and run again. A cycle cut after
// its snapshot or its send (before the state says so) is rolled back
// (its snapshot deleted) and run again from a new snapshot; one cut after
// its receive is published. Always the replica reads the source's md5,
// the source keeps only the new base and the target both replicas.
func TestReplicateInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name, args, want, published string
	}{
		{"receive/disk", " --xfer $DISK_xfer --stop-after-records 3", "resumed (2 skipped)", "snapshot 1002 -> thin 2002"},
		{"receive/tmp", " --stop-after-records 3", "cycle 2 rolled back", "snapshot 1002 -> thin 2002"},
		{"snapshot", " --xfer $DISK_xfer --stop-at snapshot", "cycle 2 was cut in its snapshot phase: rolled back", "snapshot 1002 -> thin 2002"},
		{"sending", " --xfer $DISK_xfer --stop-at sending", "cycle 2 was cut in its sending phase: rolled back", "snapshot 1002 -> thin 2002"},
		{"receiving", " --xfer $DISK_xfer --stop-at receiving", "cycle 2 was cut after its receive", "thin 2002 of pool2 was received"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t, script.Disk{Name: "state", Size: 1 << 20}, script.Disk{Name: "xfer", Size: 8 << 20})
			args, _, _ := strings.Cut(tc.args, " --stop-")
			cmd := repCmd + args + " --checkpoint 131072"
			run(t, m, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`,
				"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none", cmd,
				"yes two | head -c 524288 | dd of=/dev/mapper/vol bs=64K seek=8 oflag=direct status=none")
			want := md5of(t, m, "/dev/mapper/vol")
			if r, _ := m.Run(repCmd + tc.args + " --checkpoint 131072"); r.Status != 137 {
				t.Fatalf("cut: %d %s", r.Status, r.Stderr)
			}
			if err := m.Reboot(); err != nil {
				t.Fatal(err)
			}
			out := run(t, m, `dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"`,
				`dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
				`dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`, cmd)
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "cycle 2: "+tc.published) {
				t.Fatalf("no %q:\n%s", tc.want, out)
			}
			if got := replicaMD5(t, m, 2002); got != want {
				t.Errorf("replica md5 %s, source %s", got, want)
			}
			if got := fmt.Sprint(thins(t, m, "pool")); got != "[0 1002]" {
				t.Errorf("source keeps %s, want 0 1002", got)
			}
			if got := fmt.Sprint(thins(t, m, "pool2")); got != "[2001 2002]" {
				t.Errorf("target keeps %s, want 2001 2002", got)
			}
		})
	}
}

// TestReplicateRefusals: a replica changed on the target is refused
// (exit 15) and the cycle rolled back; --reset sends a full cycle.
// Streams written for another machine are received there with recv.
func TestReplicateRefusals(t *testing.T) {
	m := machine(t, script.Disk{Name: "state", Size: 1 << 20})
	run(t, m, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`,
		"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none", repCmd,
		`dmsetup create t1 --table "0 8192 thin /dev/mapper/pool2 2001"`,
		"yes x | head -c 65536 | dd of=/dev/mapper/t1 bs=64K seek=30 oflag=direct status=none", "dmsetup remove t1")
	r, _ := m.Run(repCmd)
	if r.Status != 15 || !strings.Contains(string(r.Stderr), "is not the stream's base") {
		t.Fatalf("diverged replica: %d %s", r.Status, r.Stderr)
	}
	if got := fmt.Sprint(thins(t, m, "pool")); got != "[0 1001]" {
		t.Errorf("after the refusal the source keeps %s, want 0 1001", got)
	}
	out := run(t, m, repCmd+" --reset")
	if !strings.Contains(out, "cycle 2: snapshot 1002 -> thin 2002 of pool2 (full)") {
		t.Fatalf("reset: %s", out)
	}
	if got, want := replicaMD5(t, m, 2002), md5of(t, m, "/dev/mapper/vol"); got != want {
		t.Errorf("reset replica md5 %s, source %s", got, want)
	}

	// To another machine: streams into files, received there by recv.
	m2 := machine(t)
	run(t, m2, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`)
	stream := "thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --state /tmp/st -o /tmp/c.%d"
	// /tmp/c.%d takes several cycles; a plain name only one
	if r, _ := m2.Run(strings.Replace(stream, ".%d", "", 1) + " --count 2"); r.Status != 2 {
		t.Errorf("-o without %%d and --count 2: want usage, got %d %s", r.Status, r.Stderr)
	}
	for c := 1; c <= 3; c++ {
		run(t, m2, fmt.Sprintf("yes %d | head -c 131072 | dd of=/dev/mapper/vol bs=64K seek=%d oflag=direct status=none", c, 2*c),
			stream+" --count 1")
		recv := fmt.Sprintf("thinsync recv --pool pool2 --id %d -i /tmp/c.%d", c, c)
		if c > 1 {
			recv += fmt.Sprintf(" --base %d", c-1)
		}
		run(t, m2, recv)
		run(t, m2, fmt.Sprintf(`dmsetup create rr --readonly --table "0 8192 thin /dev/mapper/pool2 %d"`, c))
		if got, want := md5of(t, m2, "/dev/mapper/rr"), md5of(t, m2, "/dev/mapper/vol"); got != want {
			t.Errorf("stream cycle %d: md5 %s, source %s", c, got, want)
		}
		run(t, m2, "dmsetup remove rr")
	}
	if got := fmt.Sprint(thins(t, m2, "pool")); got != "[0 3]" {
		t.Errorf("stream source keeps %s, want 0 3", got)
	}
}

// BenchmarkReplicateCycle1GiB: one replicate cycle of a 1 GiB thin with 1 %
// of its blocks changed (164 of 16384 blocks of 64 KiB, incompressible),
// with manifests on both sides. b.SetBytes is the changed data.
func BenchmarkReplicateCycle1GiB(b *testing.B) {
	m, err := script.NewMachine(script.Config{CommandTime: -1, Disks: []script.Disk{
		{Name: "meta", Size: 16 << 20}, {Name: "data", Size: 1200 << 20},
		{Name: "meta2", Size: 16 << 20}, {Name: "data2", Size: 1200 << 20}, {Name: "state", Size: 1 << 20}}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	cmd := "thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --to-pool pool2 --state $DISK_state --keep 2 --manifests /tmp"
	run(b, m, `dmsetup create pool --table "0 2457600 thin-pool $DISK_meta $DISK_data 128 0"`,
		`dmsetup create pool2 --table "0 2457600 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
		`dmsetup message pool 0 "create_thin 0"`,
		`dmsetup create vol --table "0 2097152 thin /dev/mapper/pool 0"`,
		"yes base | head -c 134217728 | dd of=/dev/mapper/vol bs=1M oflag=direct status=none", cmd)
	const changed = 164
	b.SetBytes(changed * 65536)
	var cpu int64
	n := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		run(b, m, fmt.Sprintf("for i in $(seq 0 %d); do head -c 65536 /dev/urandom | dd of=/dev/mapper/vol bs=64K seek=$((i*100+%d)) oflag=direct status=none; done",
			changed-1, i%100))
		b.StartTimer()
		cpu0 := cpuTime()
		run(b, m, cmd)
		cpu += cpuTime() - cpu0
		n++
	}
	b.ReportMetric(float64(cpu)/1e6/float64(n), "cpu-ms/cycle")
}

// TestReplicateUntilKilled: --count 0 replicates until killed; a kill
// in the sleep between cycles (timeout's SIGTERM, exit 143, 150 virtual
// seconds in: during the wait after the third cycle) leaves the last
// cycle published, and the next run goes on from it.
func TestReplicateUntilKilled(t *testing.T) {
	m := machine(t, script.Disk{Name: "state", Size: 1 << 20})
	run(t, m, `dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"`,
		"seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none")
	r, _ := m.Run("timeout 150 " + repCmd + " --count 0 --every 60")
	if r.Status != 143 || strings.Count(string(r.Stdout), "thinsync: cycle ") != 3 {
		t.Fatalf("timeout: exit %d\n%s%s", r.Status, r.Stdout, r.Stderr)
	}
	if out := run(t, m, repCmd); !strings.Contains(out, "cycle 4: snapshot 1004 -> thin 2004 of pool2 (incremental from 2003)") {
		t.Fatalf("after the kill: %s", out)
	}
	if got := fmt.Sprint(thins(t, m, "pool")); got != "[0 1004]" {
		t.Errorf("source keeps %s, want 0 1004", got)
	}
}
