package recorder

import (
	"bytes"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/scenario"
)

// TestDriveSpec: a disk with a bio log is blklogwrites over the image (a
// qcow2 one through a qcow2 node); the first boot sets the log's sector
// size, later boots append (qemu refuses log-sector-size with log-append).
func TestDriveSpec(t *testing.T) {
	plain := vmDisk{Name: "a", Path: "/i/a.img", Format: "raw"}
	logged := vmDisk{Name: "a", Path: "/i/a.img", Format: "raw", Log: "/i/a.log"}
	huge := vmDisk{Name: "a", Path: "/i/a.img", Format: "qcow2", Log: "/i/a.log"}
	unsafe := vmDisk{Name: "a", Path: "/i/a.img", Format: "raw", Log: "/i/a.log", Cache: "unsafe"}
	tests := []struct {
		d    vmDisk
		boot int
		want string
	}{
		{plain, 1, "if=none,id=d0,file=/i/a.img,format=raw,cache=writeback"},
		{logged, 1, "if=none,id=d0,driver=blklogwrites,file.driver=file,file.filename=/i/a.img,log.driver=file,log.filename=/i/a.log,log-super-update-interval=1,cache=writeback,log-sector-size=512"},
		{logged, 2, "if=none,id=d0,driver=blklogwrites,file.driver=file,file.filename=/i/a.img,log.driver=file,log.filename=/i/a.log,log-super-update-interval=1,cache=writeback,log-append=on"},
		{unsafe, 1, "if=none,id=d0,driver=blklogwrites,file.driver=file,file.filename=/i/a.img,file.cache.no-flush=on,log.driver=file,log.filename=/i/a.log,log.cache.no-flush=on,log-super-update-interval=1,cache=writeback,log-sector-size=512"},
		{huge, 1, "if=none,id=d0,driver=blklogwrites,file.driver=qcow2,file.file.driver=file,file.file.filename=/i/a.img,log.driver=file,log.filename=/i/a.log,log-super-update-interval=1,cache=writeback,log-sector-size=512"},
	}
	for _, tt := range tests {
		if got := driveSpec(0, tt.boot, tt.d); got != tt.want {
			t.Errorf("boot %d: %s\nwant %s", tt.boot, got, tt.want)
		}
	}
}

// TestWriteBioLogs: the logs are kept compressed under logs/, with the
// commands' start times, replacing the scenario's old ones, and read back
// as they were.
func TestWriteBioLogs(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	log.Write(biolog.EncodeSuper(biolog.Super{Magic: biolog.Magic, Version: biolog.Version, SectorSize: 512}))
	starts := map[int]time.Duration{3: 5e9, 4: 5.25e9}
	r := &Result{Name: "s", BioLogs: map[string][]byte{"meta": log.Bytes()}, Starts: starts}
	if err := WriteBioLogs(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(StartsPath(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := scenario.ParseStarts(b); err != nil || !maps.Equal(got, starts) {
		t.Errorf("starts read back: %v, %v; want %v", got, err, starts)
	}
	r.BioLogs, r.Starts = map[string][]byte{"data": log.Bytes()}, nil
	if err := WriteBioLogs(dir, r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := biolog.ReadFile(BioLogPath(dir, "s", "meta")); err == nil {
		t.Error("old log of disk meta kept")
	}
	if _, err := os.Stat(StartsPath(dir, "s")); err == nil {
		t.Error("old starts kept")
	}
	s, entries, err := biolog.ReadFile(BioLogPath(dir, "s", "data"))
	if err != nil || s.NrEntries != 0 || len(entries) != 0 {
		t.Errorf("%+v %v %v", s, entries, err)
	}
}
