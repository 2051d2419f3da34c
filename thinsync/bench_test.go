package thinsync_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// benchPools is a machine with two pools of 1.2 GiB of data (64 KiB
// blocks), pool and pool2, and thin 0 of 1 GiB active as "thin"; it is
// closed with the benchmark. extra disks follow the four.
func benchPools(b *testing.B, extra ...script.Disk) *script.Machine {
	m, err := script.NewMachine(script.Config{CommandTime: -1, Disks: append([]script.Disk{
		{Name: "meta", Size: 16 << 20}, {Name: "data", Size: 1200 << 20},
		{Name: "meta2", Size: 16 << 20}, {Name: "data2", Size: 1200 << 20}}, extra...)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	run(b, m, `dmsetup create pool --table "0 2457600 thin-pool $DISK_meta $DISK_data 128 0"`,
		`dmsetup create pool2 --table "0 2457600 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
		`dmsetup message pool 0 "create_thin 0"`,
		`dmsetup create thin --table "0 2097152 thin /dev/mapper/pool 0"`)
	return m
}

// benchIncremental: a 1 GiB thin with 10 % of its blocks changed (1638 of
// 16384 blocks of 64 KiB, incompressible), sent into a receive through a
// pipe, with the manifests of the base on both sides. b.SetBytes is the
// changed data, so MB/s is the rate of changed data.
func benchIncremental(b *testing.B, codec string) {
	m := benchPools(b)
	run(b, m, "yes base | head -c 134217728 | dd of=/dev/mapper/thin bs=1M oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
		"thinsync send --pool pool --id 1 --size 2097152 --manifests /tmp | thinsync recv --pool pool2 --id 1 --manifests /tmp")
	const changed = 1638
	for i := 0; i < changed; i++ {
		// spread over the volume: every 10th block
		run(b, m, fmt.Sprintf("head -c 65536 /dev/urandom | dd of=/dev/mapper/thin bs=64K seek=%d oflag=direct status=none", i*10))
	}
	run(b, m, "dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin")
	b.SetBytes(changed * 65536)
	cpu0 := cpuTime()
	n := 0
	for i := 0; b.Loop(); i++ {
		run(b, m, fmt.Sprintf("thinsync send --pool pool --id 2 --base 1 --size 2097152 --manifests /tmp --compress %s | "+
			"thinsync recv --pool pool2 --id %d --base 1 --manifests /tmp", codec, 10+i))
		n++
	}
	// The process's CPU time per changed MB: on a loaded machine, wall time
	// says little; a quiet 2-core one runs at most 2 CPU-seconds a second.
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(n)/(changed*65536/1e6), "cpu-us/MB")
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkIncremental1GiBNone(b *testing.B)        { benchIncremental(b, "none") }
func BenchmarkIncremental1GiBZstdFastest(b *testing.B) { benchIncremental(b, "zstd:fastest") }
