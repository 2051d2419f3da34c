package thintools

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestRestoreIO: thin_restore writes as 0.9.0 does on Linux 6.1 (its bio
// log onto a virtio disk): no flush, the superblock once and last; and a
// failed restore leaves the superblock zeroed.
func TestRestoreIO(t *testing.T) {
	good, err := os.ReadFile("testdata/xml/basic.xml")
	if err != nil {
		t.Fatal(err)
	}
	dev := &memDev{b: make([]byte, 64*blockSize)}
	restore := func(xml []byte) int {
		fs := memFS{files: map[string]*memDev{"in.xml": {b: xml}, "out": dev}}
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, FS: fs}
		return ThinRestore(context.Background(), []string{"thin_restore", "-i", "in.xml", "-o", "out"}, env)
	}
	if rc := restore(good); rc != 0 {
		t.Fatalf("restore: exit %d", rc)
	}
	supers := 0
	for _, off := range dev.writes {
		if off == 0 {
			supers++
		}
	}
	if dev.syncs != 0 || supers != 1 || dev.writes[len(dev.writes)-1] != 0 {
		t.Errorf("restore: %d syncs, %d superblock writes, last write at %d; want 0, 1, 0", dev.syncs, supers, dev.writes[len(dev.writes)-1])
	}
	if bytes.Equal(dev.b[:blockSize], make([]byte, blockSize)) {
		t.Fatal("restore left a zero superblock")
	}
	if rc := restore(good[:len(good)/2]); rc != 1 {
		t.Fatalf("truncated restore: exit %d, want 1", rc)
	}
	if !bytes.Equal(dev.b[:blockSize], make([]byte, blockSize)) {
		t.Error("a failed restore left the superblock in place")
	}
}
