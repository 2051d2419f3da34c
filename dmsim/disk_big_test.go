package dmsim

import (
	"os"
	"path/filepath"
	"testing"
)

// TruncateImage makes a sparse image as long as asked, or as long as the
// host file system allows (ext4: 16 TiB - 4 KiB), never failing for size
// alone; shrinking works; nothing is allocated.
func TestTruncateImage(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		size  int64
		exact bool // any file system takes it
	}{{4 << 20, true}, {64 << 40, false}, {1 << 30, true}, {1<<63 - 512, false}} {
		if err := TruncateImage(f, c.size); err != nil {
			t.Fatalf("%d: %v", c.size, err)
		}
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Size(); got > c.size || (c.exact && got != c.size) || got < min(c.size, 1<<30) || got%4096 != 0 {
			t.Errorf("%d bytes asked: %d", c.size, got)
		}
		b := make([]byte, 512)
		if err := readFull(f, b, c.size-512); err != nil {
			t.Errorf("%d: reading the last sector: %v", c.size, err)
		}
	}
}
