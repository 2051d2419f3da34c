package script

import (
	"context"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

// BenchmarkReplayKernelExample replays the kernel-example fixture (about
// 130 commands, a thin pool, snapshots and 2 MiB of writes).
func BenchmarkReplayKernelExample(b *testing.B) {
	for b.Loop() {
		if _, err := RunFile(context.Background(), "testdata/kernel-example.sh", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDD measures dd through dmsim: 16 MiB written to a thin volume
// with direct I/O, then read back through the page cache.
func BenchmarkDD(b *testing.B) {
	src := []byte(`# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 131072 thin /dev/mapper/pool 0"
dd if=/dev/zero of=/dev/mapper/thin bs=1M count=16 oflag=direct status=none
dd if=/dev/mapper/thin of=/dev/null bs=64K count=256 status=none
`)
	s, err := scenario.Parse("bench", src)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(32 << 20)
	for b.Loop() {
		res, err := Run(context.Background(), s, Options{})
		if err != nil {
			b.Fatal(err)
		}
		_ = res
	}
}
