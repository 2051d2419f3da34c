package thinsync_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/thinsync"
)

// The receive crash sweep (DMSIM_SWEEP=all for every cut). An incremental of 256 granules (64 KiB, all
// changed) is received with resume state, on disks with a volatile write
// cache and a bio log. Then, for every write and flush the receiver's
// disks executed, a power cut right after it is replayed: once keeping
// only what a flush made durable, once keeping every completed write.
// Each cut boots a fresh machine on those images and checks that the
// published base is untouched, that a published thin 2 reads the source's
// md5, and that --resume (or a fresh receive, when the state says nothing
// was started) ends at the source's md5.

const sweepRecv = "thinsync recv --pool pool2 --id 2 --base 1 --state $DISK_state -i $DISK_xfer"

var sweepEnv = []string{"DISK_meta2=/dev/vda", "DISK_data2=/dev/vdb", "DISK_state=/dev/vdc", "DISK_xfer=/dev/vdd"}

const sweepPool = `dmsetup create pool2 --table "0 73728 thin-pool $DISK_meta2 $DISK_data2 128 0"`

type sweepDisk struct {
	name string
	size int64
}

var sweepDisks = []sweepDisk{{"meta2", 4 << 20}, {"data2", 36 << 20}, {"state", 1 << 20}, {"xfer", 20 << 20}}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sweepBuild makes the images: pool2 with the published base (thin 1), the
// stream of the incremental on xfer, an empty state disk. It returns the
// base's and the source's md5.
func sweepBuild(t *testing.T, dir string) (baseMD5, srcMD5 string) {
	disks := []script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 36 << 20}}
	for _, d := range sweepDisks {
		disks = append(disks, script.Disk{Name: d.name, Size: d.size})
	}
	m, err := script.NewMachine(script.Config{Dir: dir, CommandTime: -1, Disks: disks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Halt()
	run(t, m, `dmsetup create pool --table "0 73728 thin-pool $DISK_meta $DISK_data 128 0"`, sweepPool,
		`dmsetup message pool 0 "create_thin 0"`, `dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"`,
		"yes a | head -c 16777216 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
		"thinsync send --pool pool --id 1 --size 32768 | thinsync recv --pool pool2 --id 1",
		"seq 1 3000000 | head -c 16777216 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin",
		"thinsync send --pool pool --id 2 --base 1 --size 32768 --checkpoint 1048576 -o $DISK_xfer",
		`dmsetup create b1 --readonly --table "0 32768 thin /dev/mapper/pool2 1"`)
	return md5of(t, m, "/dev/mapper/b1"), md5of(t, m, "/dev/mapper/thin")
}

// event is one write, discard or flush of a logged disk.
type event struct {
	disk int
	rec  dmsim.BioRecord
}

// durable reports how many of a disk's records (in order) a cut after
// them keeps when only flushed writes survive.
func durable(recs []dmsim.BioRecord) int {
	n := 0
	for i, r := range recs {
		switch {
		case r.Op == dmsim.OpFlush:
			n = i + 1
		case r.Flags&dmsim.ReqPreflush != 0:
			n = i
		}
		if r.Op == dmsim.OpWrite && r.Flags&dmsim.ReqFUA != 0 {
			n = i + 1
		}
	}
	return n
}

// apply writes records onto an image file.
func apply(t testing.TB, path string, recs []dmsim.BioRecord) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, r := range recs {
		off := int64(r.Sector) * dmsim.SectorSize
		switch r.Op {
		case dmsim.OpWrite:
			_, err = f.WriteAt(r.Data(), off)
		case dmsim.OpDiscard:
			_, err = f.WriteAt(make([]byte, r.Sectors*dmsim.SectorSize), off)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("boots hundreds of machines")
	}
	dir := t.TempDir()
	baseMD5, srcMD5 := sweepBuild(t, dir)
	img := func(d string) string { return filepath.Join(dir, d+".img") }

	// The logged receive, on copies.
	logged := filepath.Join(dir, "logged")
	os.Mkdir(logged, 0o755)
	var specs []dmsim.DiskSpec
	for i, d := range sweepDisks {
		p := filepath.Join(logged, d.name+".img")
		copyFile(t, img(d.name), p)
		specs = append(specs, dmsim.DiskSpec{Path: p, Size: d.size, VolatileCache: i < 3, BioLog: i < 3})
	}
	mb, err := script.Boot(specs, sweepEnv)
	if err != nil {
		t.Fatal(err)
	}
	run(t, mb, sweepPool, sweepRecv)
	var events []event
	perDisk := make([][]dmsim.BioRecord, 3)
	for i := 0; i < 3; i++ {
		for _, r := range mb.Kernel.Disks()[i].BioLog() {
			if r.Op != dmsim.OpRead {
				events = append(events, event{i, r})
				perDisk[i] = append(perDisk[i], r)
			}
		}
	}
	mb.Halt()
	sort.Slice(events, func(a, b int) bool { return events[a].rec.Seq < events[b].rec.Seq })
	t.Logf("%d writes, discards and flushes on the receiver's disks", len(events))

	// One set of work images, put back to the built images after each cut
	// (only the sectors the cut or its machine wrote).
	work := filepath.Join(dir, "cut")
	os.Mkdir(work, 0o755)
	var specs2 []dmsim.DiskSpec
	for _, sd := range sweepDisks {
		p := filepath.Join(work, sd.name+".img")
		copyFile(t, img(sd.name), p)
		specs2 = append(specs2, dmsim.DiskSpec{Path: p, Size: sd.size, BioLog: true})
	}
	dirty := make([][]dmsim.BioRecord, len(sweepDisks))
	restore := func() {
		for d, sd := range sweepDisks {
			restoreRanges(t, img(sd.name), specs2[d].Path, dirty[d])
			dirty[d] = dirty[d][:0]
		}
	}
	seen := map[string]bool{}
	cuts, resumed, published, fresh := 0, 0, 0, 0
	// Every cut with DMSIM_SWEEP=all (about 560 machines: minutes on a busy
	// 2-core machine); otherwise every 16th cut, plus the last.
	stride := 16
	if os.Getenv("DMSIM_SWEEP") == "all" {
		stride = 1
	}
	for k := 0; k <= len(events); k++ {
		if k%stride != 0 && k != len(events) {
			continue
		}
		// how many records of each disk happened before the cut
		var n [3]int
		for _, e := range events[:k] {
			n[e.disk]++
		}
		for _, keepAll := range []bool{false, true} {
			var keep [3]int
			for d := 0; d < 3; d++ {
				keep[d] = n[d]
				if !keepAll {
					keep[d] = durable(perDisk[d][:n[d]])
				}
			}
			key := fmt.Sprint(keep)
			if seen[key] {
				continue
			}
			seen[key] = true
			cuts++
			if os.Getenv("SWEEP_PROGRESS") != "" {
				fmt.Fprintf(os.Stderr, "cut %d/%d keepAll=%v %v\n", k, len(events), keepAll, time.Now().Format("15:04:05.000"))
			}
			for d := 0; d < 3; d++ {
				apply(t, specs2[d].Path, perDisk[d][:keep[d]])
				dirty[d] = append(dirty[d], perDisk[d][:keep[d]]...)
			}
			specs := specs2
			stateImg, _ := os.ReadFile(filepath.Join(work, "state.img"))
			st := thinsync.ParseState(stateImg)
			where := fmt.Sprintf("cut after %d of %d events (keep %v, state %v)", k, len(events), keep, st)
			m, err := script.Boot(specs, sweepEnv)
			if err != nil {
				t.Fatal(err)
			}
			check := func(line string) string {
				r, err := m.Run(line)
				if err != nil {
					m.Halt()
					t.Fatalf("%s: %v", where, err)
				}
				return string(r.Stdout)
			}
			check(sweepPool)
			check(`dmsetup create b1 --readonly --table "0 32768 thin /dev/mapper/pool2 1"`)
			if got := md5of(t, m, "/dev/mapper/b1"); got != baseMD5 {
				t.Fatalf("%s: the published base changed", where)
			}
			switch st["phase"] {
			case "":
				fresh++
				check(sweepRecv)
			case "receiving":
				resumed++
				check(sweepRecv + " --resume")
			case "published":
				published++
			default:
				t.Fatalf("%s: unexpected state", where)
			}
			check(`dmsetup create r2 --readonly --table "0 32768 thin /dev/mapper/pool2 2"`)
			if got := md5of(t, m, "/dev/mapper/r2"); got != srcMD5 {
				t.Fatalf("%s: thin 2 reads %s, the source %s", where, got, srcMD5)
			}
			m.Halt()
			for d := range sweepDisks {
				dirty[d] = append(dirty[d], m.Kernel.Disks()[d].BioLog()...)
			}
			restore()
		}
	}
	t.Logf("%d distinct crash states: %d fresh receives, %d resumes, %d already published; all at the source's md5", cuts, fresh, resumed, published)
	if resumed == 0 || published == 0 || fresh == 0 {
		t.Errorf("the sweep missed a phase")
	}
}

// restoreRanges copies the sectors the records wrote or discarded back
// from the built image.
func restoreRanges(t testing.TB, from, to string, recs []dmsim.BioRecord) {
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for _, r := range recs {
		if r.Op != dmsim.OpWrite && r.Op != dmsim.OpDiscard {
			continue
		}
		buf := make([]byte, r.Sectors*dmsim.SectorSize)
		off := int64(r.Sector) * dmsim.SectorSize
		if _, err := src.ReadAt(buf, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if _, err := dst.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
}
