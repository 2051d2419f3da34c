package dmsim_test

import (
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	_ "github.com/dmsim/dmsim/targets/all"
)

// BenchmarkLinearWrite64K: 64 KiB writes through a linear device to a
// virtio disk image.
func BenchmarkLinearWrite64K(b *testing.B) {
	m := Boot(b, 64<<20)
	m.MustCreate("l", Spec(0, 131072, "linear", "/dev/vda 0"))
	dev := m.Bdev("/dev/dm-0")
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.IO(dmsim.OpWrite, dev, uint64(i%1000)*128, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStripedRead4K: 4 KiB reads through a 4-way stripe on ram disks.
func BenchmarkStripedRead4K(b *testing.B) {
	m := Boot(b)
	if err := m.K.Modprobe("brd", map[string]string{"rd_nr": "4", "rd_size": "16384"}); err != nil {
		b.Fatal(err)
	}
	m.MustCreate("s", Spec(0, 4*32768, "striped", "4 128 /dev/ram0 0 /dev/ram1 0 /dev/ram2 0 /dev/ram3 0"))
	dev := m.Bdev("/dev/dm-0")
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.IO(dmsim.OpRead, dev, uint64(i*8)%(4*32768), buf); err != nil {
			b.Fatal(err)
		}
	}
}
