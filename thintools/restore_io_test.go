package thintools

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/thinmeta"
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

// TestClearNeedsCheckIO: thin_check --clear-needs-check-flag writes the
// superblock once and does not flush, as 0.9.0 on Linux 6.1 (the kernel's
// bio log of thin-fault-needs-check has the write and no flush before the
// pool's next commit).
func TestClearNeedsCheckIO(t *testing.T) {
	xml, err := os.ReadFile("testdata/xml/basic.xml")
	if err != nil {
		t.Fatal(err)
	}
	dev := &memDev{b: make([]byte, 64*blockSize)}
	fs := memFS{files: map[string]*memDev{"in.xml": {b: xml}, "meta": dev}}
	run := func(tool func(context.Context, []string, *Env) int, args ...string) int {
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, FS: fs}
		return tool(context.Background(), args, env)
	}
	if rc := run(ThinRestore, "thin_restore", "-i", "in.xml", "-o", "meta"); rc != 0 {
		t.Fatalf("restore: exit %d", rc)
	}
	sb := dev.b[:blockSize]
	flags := func() uint32 { return thinmeta.DecodeSuperblock(sb).Flags }
	super := thinmeta.DecodeSuperblock(sb)
	super.Flags |= thinmeta.NeedsCheckFlag
	super.Encode(sb)
	binary.LittleEndian.PutUint32(sb, block.Checksum(sb[4:], thinmeta.SuperblockCsumXor))
	dev.writes, dev.syncs = nil, 0

	if rc := run(ThinCheck, "thin_check", "--clear-needs-check-flag", "meta"); rc != 0 {
		t.Fatalf("thin_check --clear-needs-check-flag: exit %d", rc)
	}
	if dev.syncs != 0 || len(dev.writes) != 1 || dev.writes[0] != 0 {
		t.Errorf("%d syncs, writes at %v; want 0 syncs, one write at 0", dev.syncs, dev.writes)
	}
	if flags()&thinmeta.NeedsCheckFlag != 0 {
		t.Error("needs_check still set")
	}
	if rc := run(ThinCheck, "thin_check", "meta"); rc != 0 {
		t.Errorf("thin_check after clearing: exit %d", rc)
	}
}
