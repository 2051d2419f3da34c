package thinsync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/thinsync"
)

// The final round of a live migration, cut at every write (the pattern of
// TestCrashSweep in crash_test.go). A build machine runs two pre-copy
// rounds of thin 0 (device "thin") from pool to pool2 and stops (the test
// hook --stop-after-round), with the state on its own disk; then the device
// takes more writes (overwrites, new blocks, a discard), flushed. A logged
// machine on those images, all five disks with a volatile write cache,
// re-activates the device on the source and runs the final round
// (--resume): suspend, last snapshot and delta into pool2's thin 0, flush,
// table swap, resume, cleanup. For every write, discard and flush it did,
// a power cut right after it is replayed twice (keeping only what flushes
// made durable; keeping every completed write). Each crash state boots a
// fresh machine that activates the device where the state says it lives
// (on the source before the switch, on the target once it is done), reruns
// the migration with --resume when the state says it is unfinished, and
// checks that the device then reads the source's md5 from pool2 and that
// the source thin never changed. (A cut in the commit after
// reserve_metadata_snap can leave a held root whose block was never
// written; the rerun's release fails but clears it, as the kernel's does.)

const liveResume = "thinsync migrate --live thin --from pool:0 --to pool2:0 --state $DISK_state --resume"

var liveDisks = []sweepDisk{{"meta", 4 << 20}, {"data", 24 << 20}, {"meta2", 4 << 20}, {"data2", 24 << 20}, {"state", 1 << 20}}

var liveEnv = []string{"DISK_meta=/dev/vda", "DISK_data=/dev/vdb", "DISK_meta2=/dev/vdc", "DISK_data2=/dev/vdd", "DISK_state=/dev/vde"}

var livePools = []string{
	`dmsetup create pool --table "0 49152 thin-pool $DISK_meta $DISK_data 128 0"`,
	`dmsetup create pool2 --table "0 49152 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
}

const (
	liveOnSource = `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`
	liveOnTarget = `dmsetup create thin --table "0 8192 thin /dev/mapper/pool2 0"`
)

// liveBuild makes the images up to the final round and returns the md5 the
// device must read after it.
func liveBuild(t *testing.T, dir string) string {
	var disks []script.Disk
	for _, d := range liveDisks {
		disks = append(disks, script.Disk{Name: d.name, Size: d.size})
	}
	m, err := script.NewMachine(script.Config{Dir: dir, CommandTime: -1, Disks: disks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Halt()
	run(t, m, livePools...)
	run(t, m, `dmsetup message pool 0 "create_thin 0"`, liveOnSource,
		"yes base | head -c 2097152 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"yes w | head -c 131072 > /tmp/w")
	r, _ := m.Run("thinsync migrate --live thin --from pool:0 --to pool2:0 --rounds 2 --final-below 0 --state $DISK_state " +
		"--snap-ids 1,2 --stop-after-round 2 --between-rounds \"dd if=/tmp/w of=/dev/mapper/thin bs=64K seek={round}0 oflag=direct\"")
	if r.Status != 137 {
		t.Fatalf("the pre-copy rounds: exit %d: %s%s", r.Status, r.Stdout, r.Stderr)
	}
	run(t, m, "yes f | head -c 196608 | dd of=/dev/mapper/thin bs=64K seek=5 oflag=direct status=none",
		"yes g | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=60 oflag=direct status=none",
		"blkdiscard -o 1310720 -l 131072 /dev/mapper/thin",
		"yes h | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=100 oflag=direct conv=fsync status=none")
	return md5of(t, m, "/dev/mapper/thin")
}

func TestMigrateLiveCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("boots hundreds of machines")
	}
	dir := t.TempDir()
	srcMD5 := liveBuild(t, dir)
	nd := len(liveDisks)
	hist := make([]*diskHistory, nd)
	for i, d := range liveDisks {
		b, err := os.ReadFile(filepath.Join(dir, d.name+".img"))
		if err != nil {
			t.Fatal(err)
		}
		hist[i] = newHistory(b, nil)
	}
	scratch := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		scratch = "/dev/shm"
	}
	boot := func(keep []int, cache bool) (*script.Machine, error) {
		var specs []dmsim.DiskSpec
		for i, d := range liveDisks {
			specs = append(specs, dmsim.DiskSpec{Image: newCutDisk(hist[i], keep[i]), Size: d.size,
				VolatileCache: cache, BioLog: cache})
		}
		return script.BootIn(scratch, specs, liveEnv)
	}

	// The logged final round.
	mb, err := boot(make([]int, nd), true)
	if err != nil {
		t.Fatal(err)
	}
	run(t, mb, livePools...)
	run(t, mb, liveOnSource)
	if got := md5of(t, mb, "/dev/mapper/thin"); got != srcMD5 {
		t.Fatalf("the built images read %s, the build %s", got, srcMD5)
	}
	out := run(t, mb, liveResume)
	if !strings.Contains(out, "final round") || !strings.Contains(out, "is served by pool2 thin 0") {
		t.Fatalf("the logged final round said:\n%s", out)
	}
	perDisk := make([][]dmsim.BioRecord, nd)
	var all []event
	for i := 0; i < nd; i++ {
		for _, r := range mb.Kernel.Disks()[i].BioLog() {
			if r.Op != dmsim.OpRead {
				all = append(all, event{i, r})
				perDisk[i] = append(perDisk[i], r)
			}
		}
	}
	mb.Halt()
	sort.Slice(all, func(a, b int) bool { return all[a].rec.Seq < all[b].rec.Seq })
	for i := 0; i < nd; i++ {
		hist[i] = newHistory(hist[i].base, perDisk[i])
	}
	t.Logf("%d writes, discards and flushes on the five disks", len(all))

	stride := 1
	if n, err := strconv.Atoi(os.Getenv("DMSIM_SWEEP")); err == nil && n > 1 {
		stride = n
	}
	type cut struct {
		k    int
		keep []int
	}
	seen := map[string]bool{}
	var cuts []cut
	n := make([]int, nd)
	for k := 0; k <= len(all); k++ {
		if k > 0 {
			n[all[k-1].disk]++
		}
		if k%stride != 0 && k != len(all) {
			continue
		}
		for _, keepAll := range []bool{false, true} {
			keep := make([]int, nd)
			for d := range keep {
				keep[d] = n[d]
				if !keepAll {
					keep[d] = durable(perDisk[d][:n[d]])
				}
			}
			if key := fmt.Sprint(keep); !seen[key] {
				seen[key] = true
				cuts = append(cuts, cut{k, keep})
			}
		}
	}

	checkCut := func(c cut) (phase string, err error) {
		stateImg := make([]byte, liveDisks[nd-1].size)
		newCutDisk(hist[nd-1], c.keep[nd-1]).ReadAt(stateImg, 0)
		st := thinsync.ParseState(stateImg)
		where := fmt.Sprintf("cut after %d of %d events (keep %v, state %v)", c.k, len(all), c.keep, st)
		m, err := boot(c.keep, false)
		if err != nil {
			return "", err
		}
		defer m.Halt()
		sh := func(line string) (string, error) {
			r, err := m.Run(line)
			if err != nil {
				return "", fmt.Errorf("%s: %s: %v", where, line, err)
			}
			return string(r.Stdout), nil
		}
		md5 := func(dev string) (string, error) {
			out, err := sh("md5sum " + dev)
			if f := strings.Fields(out); err == nil && len(f) > 0 {
				return f[0], nil
			}
			return "", err
		}
		for _, l := range livePools {
			if _, err := sh(l); err != nil {
				return "", err
			}
		}
		phase = st["phase"]
		var lines []string
		switch phase {
		case "final": // not switched: the device lives on the source
			lines = []string{liveOnSource, liveResume}
		case "switched":
			lines = []string{liveResume}
		case "done":
			lines = []string{liveOnTarget}
		default:
			return "", fmt.Errorf("%s: unexpected state", where)
		}
		for _, l := range lines {
			if _, err := sh(l); err != nil {
				return "", err
			}
		}
		if got, err := md5("/dev/mapper/thin"); err != nil {
			return "", err
		} else if got != srcMD5 {
			return "", fmt.Errorf("%s: the device reads %s, the source %s", where, got, srcMD5)
		}
		for _, l := range []string{"dmsetup remove thin", `dmsetup create r --readonly --table "0 8192 thin /dev/mapper/pool2 0"`,
			`dmsetup create s --readonly --table "0 8192 thin /dev/mapper/pool 0"`} {
			if _, err := sh(l); err != nil {
				return "", err
			}
		}
		for _, dev := range []string{"/dev/mapper/r", "/dev/mapper/s"} {
			if got, err := md5(dev); err != nil {
				return "", err
			} else if got != srcMD5 {
				return "", fmt.Errorf("%s: %s reads %s, the source %s", where, dev, got, srcMD5)
			}
		}
		if r, _ := m.Run(liveResume); r.Status != thinsync.ExitState {
			return "", fmt.Errorf("%s: a second --resume exits %d, not %d", where, r.Status, thinsync.ExitState)
		}
		return phase, nil
	}

	var (
		mu     sync.Mutex
		phases = map[string]int{}
		errs   []error
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cuts) {
					return
				}
				phase, err := checkCut(cuts[i])
				mu.Lock()
				phases[phase]++
				if err != nil {
					errs = append(errs, err)
					next.Store(int64(len(cuts)))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("%d distinct crash states: %d in the final round, %d switched, %d done; all converge to the source's md5 on pool2",
		len(cuts), phases["final"], phases["switched"], phases["done"])
	if phases["final"] == 0 || phases["switched"] == 0 || phases["done"] == 0 {
		t.Errorf("the sweep missed a phase")
	}
}
