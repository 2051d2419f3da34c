package thinmeta

import (
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

func TestNeedsCheckReadOnlyAbortResize(t *testing.T) {
	dev := block.NewMemDevice(1 << 20) // 256 blocks
	pmd, err := Open(dev, 1024, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if r := pmd.MetadataReserve(); r != 25 {
		t.Fatalf("reserve %d, want 25", r)
	}
	// The low-water callback fires once when free metadata drops to the
	// threshold, and again only after rising above it.
	fired := 0
	free0 := pmd.metaSM.NrFree()
	must(pmd.RegisterMetadataThreshold(free0-3, func() { fired++ }))
	must(pmd.ResizeDataDev(100))
	must(pmd.CreateThin(1))
	must(pmd.CommitMetadata())
	td, err := pmd.OpenThinDevice(1)
	must(err)
	for vb := uint64(0); vb < 50; vb++ {
		b, err := pmd.AllocDataBlock()
		must(err)
		must(td.InsertBlock(vb*1000, b))
	}
	if fired != 1 {
		t.Fatalf("threshold fired %d times", fired)
	}
	must(pmd.CommitMetadata())
	// Abort drops uncommitted mappings.
	b, _ := pmd.AllocDataBlock()
	must(td.InsertBlock(7, b))
	if !td.ChangedThisTransaction() || !pmd.ChangedThisTransaction() {
		t.Fatal("not changed")
	}
	must(pmd.AbortMetadata())
	if !td.AbortedChanges() {
		t.Fatal("aborted_with_changes not set")
	}
	if _, err := td.FindBlock(7, true); err != linuxerr.ENODATA {
		t.Fatalf("mapping survived the abort: %v", err)
	}
	if free, _ := pmd.FreeBlockCount(); free != 50 {
		t.Fatalf("free data %d after abort, want 50", free)
	}
	if err := pmd.SetNeedsCheck(); err != nil {
		t.Fatalf("set_needs_check: %v failio=%v", err, pmd.failIO)
	}
	if !pmd.NeedsCheck() {
		t.Fatal("needs_check not set")
	}
	pmd.SetReadOnly()
	if err := td.InsertBlock(8, 60); err == nil {
		t.Fatal("insert succeeded on read-only metadata")
	}
	// Like the pool after a failed metadata operation: abort, then (the
	// in-core details of the aborted transaction survive an abort, as in
	// the kernel) reopen without committing.
	pmd.SetReadWrite()
	must(pmd.AbortMetadata())
	td.Close()
	pmd.SetReadOnly()
	must(pmd.Close())
	pmd, err = Open(dev, 1024, false, Options{})
	must(err)
	td, err = pmd.OpenThinDevice(1)
	must(err)
	// Grow the metadata device: 256 -> 20000 blocks (two bitmaps).
	dev.Resize(20000 * block.Size)
	used0, _ := pmd.UsedMetadataBlocks()
	must(pmd.ResizeMetadataDev(20000))
	must(pmd.CommitMetadata())
	if n, _ := pmd.MetadataDevSize(); n != 20000 {
		t.Fatalf("metadata size %d", n)
	}
	if r := pmd.MetadataReserve(); r != 2000 {
		t.Fatalf("reserve %d", r)
	}
	used, _ := pmd.UsedMetadataBlocks()
	if used != used0-25+2000+1 {
		t.Fatalf("used %d after growing (was %d): want one more bitmap", used, used0)
	}
	if err := pmd.ResizeMetadataDev(300); err != linuxerr.EINVAL {
		t.Fatalf("shrink: %v", err)
	}
	td.Close()
	must(pmd.Close())
	pmd, err = Open(dev, 1024, false, Options{})
	must(err)
	if !pmd.NeedsCheck() {
		t.Fatal("needs_check lost")
	}
	must(pmd.Close())
	selfCheck(t, dev)
	realCheck(t, writeImage(t, dev))
	// An unformatted device is not formatted without format_device.
	if _, err := Open(block.NewMemDevice(1<<20), 128, false, Options{}); err != linuxerr.EPERM {
		t.Fatalf("open of a zeroed device: %v", err)
	}
	// Too small to format.
	if _, err := Open(block.NewMemDevice(4*block.Size), 128, true, Options{}); linuxerr.ToErrno(err) != linuxerr.ENOSPC {
		t.Fatalf("format of a 4-block device: %v", err)
	}
	// Unsupported features.
	d2 := block.NewMemDevice(1 << 20)
	p2, _ := Open(d2, 128, true, Options{})
	p2.Close()
	raw := d2.Bytes()
	le.PutUint32(raw[360:], 1)
	sbv := &sbValidator{}
	sbv.PrepareForWrite(raw[:block.Size], 0)
	d2.WriteAt(raw[:block.Size], 0)
	var logs []string
	if _, err := Open(d2, 128, false, Options{Log: func(l int, m string) { logs = append(logs, m) }}); err != linuxerr.EINVAL || len(logs) != 1 ||
		logs[0] != "device-mapper: thin metadata: could not access metadata due to unsupported optional features (1)." {
		t.Fatalf("incompat: %v %q", err, logs)
	}
	// Bad magic, with the kernel's sb_check() text.
	le.PutUint32(raw[360:], 0)
	le.PutUint64(raw[32:], 1)
	sbv.PrepareForWrite(raw[:block.Size], 0)
	d2.WriteAt(raw[:block.Size], 0)
	logs = nil
	if _, err := Open(d2, 128, false, Options{Log: func(l int, m string) { logs = append(logs, m) }}); err == nil || len(logs) < 1 ||
		logs[0] != "device-mapper: thin metadata: sb_check failed: magic 1: wanted 27022010" {
		t.Fatalf("bad magic: %v %q", err, logs)
	}
}

// TestPoolCacheBytes: a pool's default block cache grows with its metadata
// device, between 64 MiB and maxPoolCacheBytes.
func TestPoolCacheBytes(t *testing.T) {
	for _, c := range []struct {
		dev, want int64
	}{
		{4 << 20, 64 << 20},
		{1 << 30, 64 << 20},
		{5 << 30 / 4, 80 << 20},
		{3200 << 20, 160 << 20},
		{16 << 30, 160 << 20},
	} {
		if got := poolCacheBytes(c.dev); got != c.want {
			t.Errorf("metadata device of %d bytes: cache %d, want %d", c.dev, got, c.want)
		}
	}
}
