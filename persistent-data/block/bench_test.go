package block

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFileDeviceWrite writes a run of blocks again and again at the
// start of an image file: pages the host already caches, so what it
// measures is the cost of a write call (its entry and exit) and of each
// block's copy into the page cache, the floor under a commit's writes.
func BenchmarkFileDeviceWrite(b *testing.B) {
	for _, blocks := range []int{1, 3, 16} {
		b.Run(fmt.Sprintf("blocks=%d", blocks), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "img"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			dev := &FileDevice{F: f}
			buf := make([]byte, blocks*Size)
			if _, err := dev.WriteAt(buf, 0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := dev.WriteAt(buf, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
