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

// The merge-origin tests boot a machine with one pool (64 KiB blocks), a
// 2 MiB origin disk and an undo disk; thin 0 has the origin as its
// external origin and is 2 MiB too.

var mergeDisks = []sweepDisk{{"meta", 4 << 20}, {"data", 16 << 20}, {"origin", 2 << 20}, {"undo", 1 << 20}}

var mergeEnv = []string{"DISK_meta=/dev/vda", "DISK_data=/dev/vdb", "DISK_origin=/dev/vdc", "DISK_undo=/dev/vdd"}

const (
	mergePool  = `dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"`
	mergeThin  = `dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"`
	mergeLive  = "thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo"
	mergeReset = "thinsync merge-origin --pool pool --id 0 --snap-id 1 --size 4096 --origin $DISK_origin --undo $DISK_undo --reset"
)

func mergeMachine(t *testing.T, dir string) *script.Machine {
	var disks []script.Disk
	for _, d := range mergeDisks {
		disks = append(disks, script.Disk{Name: d.name, Size: d.size})
	}
	m, err := script.NewMachine(script.Config{Dir: dir, CommandTime: -1, Disks: disks})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mergeBuild makes the images of a merge between two rounds: round 1
// merged blocks 1-6; since then block 2 (merged) was discarded, blocks 8
// and 9 written, block 3 overwritten and part of block 12 written. It
// returns the origin's md5 before round 1 and the thin's md5 now (what
// the origin must read after round 2).
func mergeBuild(t *testing.T, m *script.Machine) (origMD5, viewMD5 string) {
	run(t, m, "seq 1 400000 | head -c 2097152 | dd of=$DISK_origin bs=64K oflag=direct status=none")
	origMD5 = md5of(t, m, "$DISK_origin")
	run(t, m, mergePool, `dmsetup message pool 0 "create_thin 0"`, mergeThin,
		"yes one | head -c 393216 | dd of=/dev/mapper/thin bs=64K seek=1 oflag=direct status=none",
		mergeLive,
		"blkdiscard -o 131072 -l 65536 /dev/mapper/thin",
		"yes two | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=8 oflag=direct status=none",
		"yes three | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none",
		"yes part | head -c 4096 | dd of=/dev/mapper/thin bs=512 seek=1540 oflag=direct conv=fsync status=none")
	viewMD5 = md5of(t, m, "/dev/mapper/thin")
	return origMD5, viewMD5
}

// TestMergeOrigin: a merge leaves the thin's view as it was and makes the
// origin read it; a discard of a merged block between rounds changes
// neither; a rerun writes nothing; --abort restores the origin; --reset
// frees the thin's blocks and keeps its view.
func TestMergeOrigin(t *testing.T) {
	m := mergeMachine(t, t.TempDir())
	defer m.Close()
	origMD5, viewMD5 := mergeBuild(t, m)
	if got := md5of(t, m, "$DISK_origin"); got == origMD5 || got == viewMD5 {
		t.Fatalf("after round 1 the origin reads %s (original %s, thin %s)", got, origMD5, viewMD5)
	}
	// Round 2: block 2 reads the origin, which holds round 1's data: only
	// blocks 3, 8, 9 and 12 differ; 1, 4, 5 and 6 are there already.
	if out := run(t, m, mergeLive); !strings.Contains(out, "8 mapped blocks (0 past the origin's end), wrote 4 (262144 bytes), 4 already there") {
		t.Errorf("round 2: %s", out)
	}
	for _, dev := range []string{"$DISK_origin", "/dev/mapper/thin"} {
		if got := md5of(t, m, dev); got != viewMD5 {
			t.Errorf("after round 2 %s reads %s, the thin read %s", dev, got, viewMD5)
		}
	}
	if out := run(t, m, mergeLive); !strings.Contains(out, "wrote 0 (0 bytes), 8 already there") {
		t.Errorf("rerun: %s", out)
	}
	run(t, m, mergeLive+" --abort")
	if got := md5of(t, m, "$DISK_origin"); got != origMD5 {
		t.Errorf("after --abort the origin reads %s, before the merge %s", got, origMD5)
	}
	// The rollback wrote block 2's old data back, which the thin reads
	// since it discarded block 2.
	view := md5of(t, m, "/dev/mapper/thin")
	if view == viewMD5 {
		t.Errorf("--abort did not change what the thin reads in block 2")
	}
	run(t, m, mergeLive, "dmsetup remove thin", mergeReset, mergeThin)
	if got := md5of(t, m, "/dev/mapper/thin"); got != view {
		t.Errorf("after --reset the thin reads %s, before %s", got, view)
	}
	if used := mappedBlocks(t, m, "pool"); used != 0 {
		t.Errorf("after --reset the pool uses %d data blocks", used)
	}
}

// TestMergeOriginRefusals: exit codes of the refusals, and nothing written.
func TestMergeOriginRefusals(t *testing.T) {
	m := mergeMachine(t, t.TempDir())
	defer m.Close()
	origMD5, _ := mergeBuild(t, m)
	after1 := md5of(t, m, "$DISK_origin")
	for _, tc := range []struct {
		name, setup, cmd, undo string
		code                   int
	}{
		{"other-thin", `dmsetup message pool 0 "create_thin 7"; dmsetup create o --table "0 4096 thin /dev/mapper/pool 7 $DISK_origin"`, mergeLive, "dmsetup remove o", thinsync.ExitOriginShared},
		{"linear", `dmsetup create o --table "0 8 linear $DISK_origin 0"`, mergeLive, "dmsetup remove o", thinsync.ExitOriginShared},
		{"reset-active", "", mergeLive + " --reset", "", thinsync.ExitBusy},
		{"snap-taken", `dmsetup message pool 0 "create_thin 1"`, mergeLive, `dmsetup message pool 0 "delete 1"`, thinsync.ExitBusy},
		{"past-end", "yes x | head -c 512 | dd of=/dev/mapper/thin bs=512 seek=4095 oflag=direct status=none",
			"dmsetup remove thin; dmsetup create thin --table \"0 4104 thin /dev/mapper/pool 0 $DISK_origin\"; " +
				"yes y | head -c 512 | dd of=/dev/mapper/thin bs=512 seek=4100 oflag=direct status=none; " + mergeLive, "", thinsync.ExitBeyondOrigin},
		{"other-session", "", "thinsync merge-origin --pool pool --id 5 --snap-id 1 --size 4096 --origin $DISK_origin --undo $DISK_undo", "", thinsync.ExitState},
		{"no-session", "", mergeLive + " --abort --undo /tmp/none", "", thinsync.ExitState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != "" {
				run(t, m, tc.setup)
			}
			r, err := m.Run(tc.cmd)
			if err != nil && r.Status == 0 {
				t.Fatal(err)
			}
			if r.Status != tc.code || strings.Count(string(r.Stderr), "\n") != 1 {
				t.Errorf("exit %d, want %d: %s", r.Status, tc.code, r.Stderr)
			}
			if got := md5of(t, m, "$DISK_origin"); got != after1 {
				t.Errorf("the refusal changed the origin")
			}
			if tc.undo != "" {
				run(t, m, tc.undo)
			}
		})
	}
	_ = origMD5
}

// mergeCut is one crash state: how many records of each disk survive.
type mergeCut struct {
	k    int
	keep [4]int
}

// TestMergeOriginCrashSweep cuts round 2 of a live merge, and a merge with
// --reset of the inactive thin, after every write, discard and flush of
// the four disks (the pool's, the origin, the undo disk), with the
// volatile cache: once keeping only what a flush made durable, once every
// completed write. Each crash state boots a machine, which reruns the same
// command: it must succeed, the origin and the thin must read the thin's
// view from before the merge, the freeze snapshot must be gone and no
// metadata snapshot held; for the live round, --abort must then restore
// the origin as it was before round 1. DMSIM_SWEEP=N checks every Nth cut.
func TestMergeOriginCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("boots hundreds of machines")
	}
	dir := t.TempDir()
	m := mergeMachine(t, dir)
	origMD5, viewMD5 := mergeBuild(t, m)
	m.Halt()
	base := make([][]byte, len(mergeDisks))
	for i, d := range mergeDisks {
		b, err := os.ReadFile(filepath.Join(dir, d.name+".img"))
		if err != nil {
			t.Fatal(err)
		}
		base[i] = b
	}
	scratch := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		scratch = "/dev/shm"
	}
	for _, tc := range []struct {
		name  string
		setup []string // before the merge, on every boot
		cmd   string
		reset bool
	}{
		{"live", []string{mergePool, mergeThin}, mergeLive, false},
		{"reset", []string{mergePool}, mergeReset, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hist := make([]*diskHistory, len(mergeDisks))
			for i := range mergeDisks {
				hist[i] = newHistory(base[i], nil)
			}
			boot := func(keep [4]int, cache bool) (*script.Machine, error) {
				var specs []dmsim.DiskSpec
				for i, d := range mergeDisks {
					specs = append(specs, dmsim.DiskSpec{Image: newCutDisk(hist[i], keep[i]), Size: d.size, VolatileCache: cache, BioLog: cache})
				}
				return script.BootIn(scratch, specs, mergeEnv)
			}
			mb, err := boot([4]int{}, true)
			if err != nil {
				t.Fatal(err)
			}
			run(t, mb, append(tc.setup, tc.cmd)...)
			var all []event
			perDisk := make([][]dmsim.BioRecord, len(mergeDisks))
			for i := range mergeDisks {
				for _, r := range mb.Kernel.Disks()[i].BioLog() {
					if r.Op != dmsim.OpRead {
						all = append(all, event{i, r})
						perDisk[i] = append(perDisk[i], r)
					}
				}
			}
			mb.Halt()
			sort.Slice(all, func(a, b int) bool { return all[a].rec.Seq < all[b].rec.Seq })
			for i := range mergeDisks {
				hist[i] = newHistory(base[i], perDisk[i])
			}
			t.Logf("%d writes, discards and flushes", len(all))
			stride := 1
			if n, err := strconv.Atoi(os.Getenv("DMSIM_SWEEP")); err == nil && n > 1 {
				stride = n
			}
			seen := map[[4]int]bool{}
			var cuts []mergeCut
			var n [4]int
			for k := 0; k <= len(all); k++ {
				if k > 0 {
					n[all[k-1].disk]++
				}
				if k%stride != 0 && k != len(all) {
					continue
				}
				for _, keepAll := range []bool{false, true} {
					var keep [4]int
					for d := range keep {
						keep[d] = n[d]
						if !keepAll {
							keep[d] = durable(perDisk[d][:n[d]])
						}
					}
					if !seen[keep] {
						seen[keep] = true
						cuts = append(cuts, mergeCut{k, keep})
					}
				}
			}
			check := func(c mergeCut) (string, error) {
				undo := make([]byte, 8192)
				newCutDisk(hist[3], c.keep[3]).ReadAt(undo, 0)
				st := thinsync.ParseState(undo)
				where := fmt.Sprintf("cut after %d of %d events (keep %v, state %v)", c.k, len(all), c.keep, st)
				m, err := boot(c.keep, false)
				if err != nil {
					return "", err
				}
				defer m.Halt()
				sh := func(line string) (string, error) {
					r, err := m.Run(line)
					if err != nil {
						return "", fmt.Errorf("%s: %s: %v: %s", where, line, err, r.Stderr)
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
				for _, l := range tc.setup {
					if _, err := sh(l); err != nil {
						return "", err
					}
				}
				r, err := m.Run(tc.cmd)
				if err != nil {
					return "", fmt.Errorf("%s: %s: %v: %s", where, tc.cmd, err, r.Stderr)
				}
				// A crash inside reserve_metadata_snap may leave a hold that
				// is not safe to release: the rerun leaves it and merges blind.
				blind := strings.Contains(string(r.Stderr), "leaving it (check the pool with thin_check")
				if tc.reset {
					if _, err := sh(mergeThin); err != nil {
						return "", err
					}
					if out, err := sh("dmsetup status thin"); err != nil {
						return "", err
					} else if !strings.HasSuffix(strings.TrimSpace(out), "thin 0 -") {
						return "", fmt.Errorf("%s: after the reset: %s", where, out)
					}
				}
				for _, dev := range []string{"$DISK_origin", "/dev/mapper/thin"} {
					if got, err := md5(dev); err != nil {
						return "", err
					} else if got != viewMD5 {
						return "", fmt.Errorf("%s: %s reads %s, the thin read %s", where, dev, got, viewMD5)
					}
				}
				out, err := sh("dmsetup status pool")
				if err != nil {
					return "", err
				}
				if f := strings.Fields(out); len(f) < 7 || (f[6] != "-") != blind {
					return "", fmt.Errorf("%s: a metadata snapshot is held: %s", where, out)
				}
				// The freeze snapshot is gone: its id is free.
				if _, err := sh(`dmsetup message pool 0 "create_thin 1"`); err != nil {
					return "", err
				}
				if !tc.reset {
					if _, err := sh(tc.cmd + " --abort"); err != nil {
						return "", err
					}
					if got, err := md5("$DISK_origin"); err != nil {
						return "", err
					} else if got != origMD5 {
						return "", fmt.Errorf("%s: --abort left the origin at %s, before the merge %s", where, got, origMD5)
					}
				}
				if blind {
					return "blind", nil
				}
				return st["phase"], nil
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
						phase, err := check(cuts[i])
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
			if len(errs) == 0 {
				t.Logf("%d distinct crash states, by the undo file's phase at the cut (blind: a hold left inside reserve_metadata_snap): %v; all converged", len(cuts), phases)
			}
			want := []string{"merging", "merged"}
			if tc.reset {
				want = append(want, "resetting", "reset")
			}
			for _, p := range want {
				if phases[p] == 0 {
					t.Errorf("no cut in phase %s", p)
				}
			}
		})
	}
}

// TestMergeOriginGeometry: a thin equal to, smaller than and bigger than
// its origin, and origins with a fractional tail block (dmtest's
// external_origin_tests geometries). After a merge with --truncate the
// origin reads what the thin reads up to the smaller of the two sizes, and
// the origin past the thin's end is untouched.
func TestMergeOriginGeometry(t *testing.T) {
	for _, tc := range []struct {
		name         string
		thin, origin int // sectors
	}{
		{"equal", 4096, 4096},
		{"smaller", 2048, 4096},
		{"smaller-partial", 2100, 4096},
		{"bigger", 6144, 4096},
		{"fractional", 6144, 4040},
		{"fractional-smaller", 3900, 4040},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mergeMachine(t, t.TempDir())
			defer m.Close()
			run(t, m, "seq 1 600000 | head -c 4194304 | dd of=$DISK_data bs=64K oflag=direct status=none", // junk under the pool
				"seq 1 400000 | head -c 2097152 | dd of=$DISK_origin bs=64K oflag=direct status=none",
				fmt.Sprintf(`dmsetup create o --table "0 %d linear $DISK_origin 0"`, tc.origin),
				mergePool, `dmsetup message pool 0 "create_thin 0"`,
				fmt.Sprintf(`dmsetup create thin --table "0 %d thin /dev/mapper/pool 0 /dev/mapper/o"`, tc.thin))
			// Writes at the start, in the middle, across the origin's end and at the thin's end.
			for _, sec := range []int{0, 1000, tc.origin - 4, tc.thin - 8} {
				if sec < 0 || sec+8 > tc.thin {
					continue
				}
				run(t, m, fmt.Sprintf("yes w%d | head -c 4096 | dd of=/dev/mapper/thin bs=512 seek=%d oflag=direct status=none", sec, sec))
			}
			n := min(tc.thin, tc.origin) * 512
			view := strings.Fields(run(t, m, fmt.Sprintf("head -c %d /dev/mapper/thin | md5sum", n)))[0]
			whole := md5of(t, m, "/dev/mapper/thin")
			rest := ""
			if tc.origin > tc.thin {
				rest = run(t, m, fmt.Sprintf("dd if=/dev/mapper/o bs=512 skip=%d status=none | md5sum", tc.thin))
			}
			run(t, m, "thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --origin /dev/mapper/o --undo $DISK_undo --truncate")
			if got := strings.Fields(run(t, m, fmt.Sprintf("head -c %d /dev/mapper/o | md5sum", n)))[0]; got != view {
				t.Errorf("the origin reads %s, the thin %s", got, view)
			}
			if got := md5of(t, m, "/dev/mapper/thin"); got != whole {
				t.Errorf("the merge changed what the thin reads")
			}
			if rest != "" {
				if got := run(t, m, fmt.Sprintf("dd if=/dev/mapper/o bs=512 skip=%d status=none | md5sum", tc.thin)); got != rest {
					t.Errorf("the origin changed past the thin's end")
				}
			}
		})
	}
}
