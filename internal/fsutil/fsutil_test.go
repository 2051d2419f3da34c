package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "golden.txt")
	for _, content := range []string{"first\n", "second, longer\n", ""} {
		if err := WriteAtomic(p, content); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != content {
			t.Errorf("read back %q %v, want %q", b, err, content)
		}
		if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
			t.Errorf("temporary file left: %v", err)
		}
	}
	if err := WriteAtomic(filepath.Join(t.TempDir(), "no", "such", "dir"), "x"); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
}
