package thinmeta

import (
	"os"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestKernelExample replays the metadata operations of
// ../shared/spec/kernel-example.txt (a real 6.1 transcript) and checks the
// figures its status lines print, the held root block, and the real
// thin_dump of the result against the transcript's.
func TestKernelExample(t *testing.T) {
	dev := block.NewMemDevice(4 << 20)
	var logs []string
	pmd, err := Open(dev, 128, true, Options{Log: func(level int, msg string) {
		logs = append(logs, msg)
	}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// pool_status() commits, then prints used/total metadata and data.
	status := func(wantMeta, wantData, wantHeld uint64) {
		t.Helper()
		must(pmd.CommitMetadata())
		used, err := pmd.UsedMetadataBlocks()
		must(err)
		total, _ := pmd.MetadataDevSize()
		free, _ := pmd.FreeBlockCount()
		dsize, _ := pmd.DataDevSize()
		held, _ := pmd.MetadataSnap()
		if used != wantMeta || total != 1024 || dsize-free != wantData || dsize != 1024 || held != wantHeld {
			t.Fatalf("status %d/%d %d/%d held %d, want %d/1024 %d/1024 held %d", used, total, dsize-free, dsize, held, wantMeta, wantData, wantHeld)
		}
	}
	// write provisions vblock like the thin target: alloc, then insert.
	write := func(td *ThinDevice, vb uint64) {
		t.Helper()
		b, err := pmd.AllocDataBlock()
		must(err)
		must(td.InsertBlock(vb, b))
	}
	must(pmd.ResizeDataDev(1024)) // first resume
	must(pmd.CommitMetadata())
	status(111, 0, 0)
	must(pmd.CreateThin(0))
	must(pmd.CommitMetadata())
	status(112, 0, 0)
	td0, err := pmd.OpenThinDevice(0)
	must(err)
	for vb := uint64(0); vb < 4; vb++ { // dd 4 x 64 KiB
		write(td0, vb)
	}
	must(pmd.CommitMetadata()) // the periodic commit between commands
	write(td0, 160)
	must(pmd.CommitMetadata())
	write(td0, 320)
	status(112, 6, 0)
	must(pmd.CreateSnap(1, 0))
	must(pmd.CommitMetadata())
	status(112, 6, 0)
	td1, err := pmd.OpenThinDevice(1)
	must(err)
	// vblock 0 of the snapshot is shared: the write breaks sharing.
	r, err := td1.FindBlock(0, true)
	must(err)
	if !r.Shared || r.Block != 0 {
		t.Fatalf("snapshot block 0: %+v, want shared block 0", r)
	}
	write(td1, 0)
	must(pmd.CommitMetadata())
	write(td1, 1000)
	status(113, 8, 0)
	if n, _ := td1.MappedCount(); n != 7 {
		t.Fatalf("snap1 mapped %d, want 7", n)
	}
	if h, ok, _ := td1.HighestMappedBlock(); !ok || h != 1000 {
		t.Fatalf("snap1 highest %d %v", h, ok)
	}
	must(pmd.SetMetadataTransactionID(0, 1))
	must(pmd.CommitMetadata())
	status(113, 8, 0)
	if err := pmd.SetMetadataTransactionID(0, 2); err != linuxerr.EINVAL {
		t.Fatalf("mismatched set_transaction_id: %v", err)
	}
	must(pmd.ReserveMetadataSnap())
	must(pmd.CommitMetadata())
	status(114, 8, 57)
	if err := pmd.ReserveMetadataSnap(); err != linuxerr.EBUSY {
		t.Fatalf("second reserve: %v", err)
	}
	must(pmd.CommitMetadata())
	img := writeImage(t, dev)
	out, errs, code := runTool(t, "thin_dump", "-m", img)
	wantM, _ := os.ReadFile("testdata/kernel-example-dump-m.xml")
	if code != 0 || out != string(wantM) {
		t.Errorf("thin_dump -m: exit %d %s\n%s\nwant\n%s", code, errs, out, wantM)
	}
	if got := imageModel(t, dev, true).xml(); got != string(wantM) {
		t.Errorf("walker dump of the snapshot:\n%s\nwant\n%s", got, wantM)
	}
	realCheck(t, img)
	selfCheck(t, dev)
	must(pmd.ReleaseMetadataSnap())
	status(113, 8, 0)
	if err := pmd.ReleaseMetadataSnap(); err != linuxerr.EINVAL {
		t.Fatalf("second release: %v", err)
	}
	must(pmd.CreateThin(5))
	must(pmd.CommitMetadata())
	if err := pmd.CreateThin(0); err != linuxerr.EEXIST {
		t.Fatalf("create_thin 0 again: %v", err)
	}
	if err := pmd.CreateSnap(2, 42); err != linuxerr.ENODATA {
		t.Fatalf("create_snap 2 42: %v", err)
	}
	if err := pmd.CreateSnap(1, 0); err != linuxerr.EEXIST {
		t.Fatalf("create_snap 1 0: %v", err)
	}
	if err := pmd.DeleteThinDevice(42); err != linuxerr.ENODATA {
		t.Fatalf("delete 42: %v", err)
	}
	if err := pmd.DeleteThinDevice(1); err != linuxerr.EBUSY {
		t.Fatalf("delete open 1: %v", err)
	}
	must(pmd.CommitMetadata())
	td1.Close()
	must(pmd.DeleteThinDevice(1))
	status(113, 6, 0)
	td0.Close()
	must(pmd.Close())

	wantLogs := []string{
		"device-mapper: thin metadata: mismatched transaction id",
		"device-mapper: thin metadata: Pool metadata snapshot already exists: release this before taking another.",
		"device-mapper: thin metadata: No pool metadata snapshot found: nothing to release.",
	}
	if len(logs) != len(wantLogs) {
		t.Fatalf("logs %q", logs)
	}
	for i := range logs {
		if logs[i] != wantLogs[i] {
			t.Errorf("log %d: %q, want %q", i, logs[i], wantLogs[i])
		}
	}
	want, _ := os.ReadFile("testdata/kernel-example-dump.xml")
	if got := imageModel(t, dev, false).xml(); got != string(want) {
		t.Errorf("walker dump:\n%s\nwant\n%s", got, want)
	}
	selfCheck(t, dev)
	img = writeImage(t, dev)
	out, errs, code = runTool(t, "thin_dump", img)
	if code != 0 || out != string(want) {
		t.Errorf("thin_dump: exit %d %s\n%s\nwant\n%s", code, errs, out, want)
	}
	realCheck(t, img)

	// Reopen: the data block size must match, with the kernel's text.
	logs = nil
	if _, err := Open(dev, 256, true, Options{Log: func(level int, msg string) {
		logs = append(logs, msg)
	}}); err != linuxerr.EINVAL || len(logs) != 1 ||
		logs[0] != "device-mapper: thin metadata: changing the data block size (from 128 to 256) is not supported" {
		t.Fatalf("reopen with 256: %v %q", err, logs)
	}
	pmd, err = Open(dev, 128, false, Options{})
	must(err)
	if id, _ := pmd.MetadataTransactionID(); id != 1 {
		t.Fatalf("reopened transaction id %d", id)
	}
	used, _ := pmd.UsedMetadataBlocks()
	if used != 113 {
		t.Fatalf("reopened used %d", used)
	}
	must(pmd.Close())
}

// TestKernelExamplePool2 replays pool2 of the transcript: a 64 MiB
// metadata device (16384 blocks, 2 metadata bitmaps), 512 then 1024 data
// blocks, 496 then 512 blocks provisioned in one thin device.
func TestKernelExamplePool2(t *testing.T) {
	dev := block.NewMemDevice(64 << 20)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	status := func(wantMeta, wantData, wantTotal uint64) {
		t.Helper()
		must(pmd.CommitMetadata())
		used, _ := pmd.UsedMetadataBlocks()
		free, _ := pmd.FreeBlockCount()
		total, _ := pmd.DataDevSize()
		if used != wantMeta || total-free != wantData || total != wantTotal {
			t.Fatalf("status %d/16384 %d/%d, want %d/16384 %d/%d", used, total-free, total, wantMeta, wantData, wantTotal)
		}
	}
	must(pmd.ResizeDataDev(512))
	must(pmd.CommitMetadata())
	status(1648, 0, 512)
	must(pmd.CreateThin(0))
	must(pmd.CommitMetadata())
	td, err := pmd.OpenThinDevice(0)
	must(err)
	vb := uint64(0)
	for ; vb < 496; vb++ {
		b, err := pmd.AllocDataBlock()
		must(err)
		must(td.InsertBlock(vb, b))
		if vb%16 == 15 { // some periodic commits
			must(pmd.CommitMetadata())
		}
	}
	status(1651, 496, 512)
	for ; vb < 512; vb++ {
		b, err := pmd.AllocDataBlock()
		must(err)
		must(td.InsertBlock(vb, b))
	}
	if _, err := pmd.AllocDataBlock(); err != linuxerr.ENOSPC {
		t.Fatalf("allocation from a full pool: %v", err)
	}
	status(1652, 512, 512)
	must(pmd.ResizeDataDev(1024))
	status(1652, 512, 1024)
	td.Close()
	must(pmd.Close())
	selfCheck(t, dev)
	realCheck(t, writeImage(t, dev))
}
