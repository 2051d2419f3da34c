package thinsync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// BenchmarkMigrate1GiB8Snapshots: a 1 GiB thin, written whole, with 8
// snapshots taken after 10 MiB of random data changed each (1 %), moves to
// another pool of the same block size with `thinsync migrate` (the 8
// snapshots oldest first, then the thin; streams in memory, zstd fastest,
// manifests in /tmp). b.SetBytes is the family's mapped data (1 GiB plus
// 8 × 10 MiB), so MB/s is the rate of data moved. Run it once:
// go test -run XXX -bench Migrate -benchtime 1x ./thinsync
func BenchmarkMigrate1GiB8Snapshots(b *testing.B) {
	m, err := script.NewMachine(script.Config{CommandTime: -1, Disks: []script.Disk{
		{Name: "meta", Size: 16 << 20}, {Name: "data", Size: 1200 << 20},
		{Name: "meta2", Size: 16 << 20}, {Name: "data2", Size: 1200 << 20}}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	run(b, m, `dmsetup create pool --table "0 2457600 thin-pool $DISK_meta $DISK_data 128 0"`,
		`dmsetup create pool2 --table "0 2457600 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
		`dmsetup message pool 0 "create_thin 0"`,
		`dmsetup create thin --table "0 2097152 thin /dev/mapper/pool 0"`,
		"yes base | head -c 1073741824 | dd of=/dev/mapper/thin bs=1M oflag=direct status=none")
	var from []string
	for s := 1; s <= 8; s++ {
		run(b, m, "dmsetup suspend thin", fmt.Sprintf(`dmsetup message pool 0 "create_snap %d 0"`, s), "dmsetup resume thin",
			fmt.Sprintf("head -c 10485760 /dev/urandom | dd of=/dev/mapper/thin bs=1M seek=%d oflag=direct status=none", s*100))
		from = append(from, fmt.Sprint(s))
	}
	from = append(from, "0")
	run(b, m, "dmsetup remove thin")
	b.SetBytes(1<<30 + 8*10<<20)
	cpu0 := cpuTime()
	n := 0
	var out string
	for b.Loop() {
		to := make([]string, len(from))
		for i := range from {
			to[i] = fmt.Sprint(100*(n+1) + i)
		}
		out = run(b, m, fmt.Sprintf("thinsync migrate --from pool:%s --to pool2:%s --size 1G --manifests /tmp",
			strings.Join(from, ","), strings.Join(to, ",")))
		b.StopTimer()
		for _, id := range to {
			run(b, m, fmt.Sprintf(`dmsetup message pool2 0 "delete %s"`, id))
		}
		b.StartTimer()
		n++
	}
	if src, dst := mappedBlocks(b, m, "pool"), strings.Count(out, "verified"); dst != len(from) || src == 0 {
		b.Fatalf("migration said:\n%s", out)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(n)/(float64(1<<30+8*10<<20)/1e6), "cpu-us/MB")
}
