package script

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

// The kernel's bio logs (recorder --log-writes: qemu's blklogwrites on
// every disk) are kept as goldens/logs/NAME.DISK.log.zst, and the
// scenarios whose durable images are known not to match them, with the
// reason, in the same directory's KNOWN_DIVERGENT.
const bioLogExtension = ".log.zst"

// startsExtension is the file beside a scenario's bio logs that records
// when the recording's guest started each command (NAME.starts, recorder
// --log-writes): dmsim replays the scenario at that pace (Options.
// CommandStarts), so the pool's periodic commit falls between the same
// commands as on the kernel.
const startsExtension = ".starts"

// paceRuns is how many times a scenario with a recorded pace runs again
// with refined CPU scales (PaceScales) after the first, paced run.
const paceRuns = 2

// bioLogSet is a directory of kernel bio logs and the virtual time each
// command line costs when dmsim replays the scenarios to compare with them.
type bioLogSet struct {
	dir         string
	commandTime time.Duration
}

// IcountCommandTime is the command cost dmsim replays the logs recorded
// with `dmsim-record --icount shift=0` at. There the guest's clocks count
// its instructions (1 ns each), so a command line costs the guest a few
// milliseconds, however slow TCG is, and the pool's periodic commit no
// longer lands inside commands as it does at TCG's pace (hundreds of
// milliseconds a line, which DefaultCommandTime stands for).
const IcountCommandTime = -1

// bioLogSets are the sets TestCrashModelIsKernels reads: goldens/logs,
// recorded at TCG's pace, and goldens/logs/icount.
var bioLogSets = []bioLogSet{
	{"../goldens/logs", DefaultCommandTime},
	{"../goldens/logs/icount", IcountCommandTime},
}

// -biologs reads one other directory instead, such as a new recording's
// --out DIR/logs, to check it before it is copied into goldens/logs;
// -biologs.icount says it was recorded with --icount.
var (
	bioLogsDir    = flag.String("biologs", "", "compare with the kernel bio logs in this `dir` only")
	bioLogsIcount = flag.Bool("biologs.icount", false, "the -biologs dir was recorded with --icount shift=0")
	bioLogsPace   = flag.Duration("biologs.pace", 0, "replay the -biologs dir at this command time (0: the set's own)")
)

// TestCrashModelIsKernels: on every scenario with a kernel bio log, the
// sequence of images each disk's flushes made durable in dmsim equals the
// one in the real kernel's bio log (biolog.DurableImages: the log is cut
// at flushes and FUA writes, and each cut's whole-disk image is
// fingerprinted).
//
// The comparison is by image, not by bio: qemu receives the guest's
// requests after the block layer merged them (4 KiB writes to adjacent
// blocks arrive as one), and elides flushes that follow no write, so the
// bio streams differ in shape where the durable states do not. The image
// at every flush is exactly what a crash just after that flush keeps, so
// equal sequences mean dmsim's crash states are the kernel's.
//
// A scenario listed in KNOWN_DIVERGENT (its commits ride the pool's 1 s
// timer, which lands elsewhere in the recording) must still end with the
// kernel's final image on every disk but the meta* ones: when a commit
// happens moves metadata blocks, never what the data disks hold.
func TestCrashModelIsKernels(t *testing.T) {
	if testing.Short() {
		// CI's -race -short pass; its full pass runs it (a paced scenario
		// runs three times)
		t.Skip("replays every scenario with a kernel bio log: not in -short")
	}
	sets := bioLogSets
	if *bioLogsDir != "" {
		set := bioLogSet{*bioLogsDir, DefaultCommandTime}
		if *bioLogsIcount {
			set.commandTime = IcountCommandTime
		}
		if *bioLogsPace != 0 {
			set.commandTime = *bioLogsPace
		}
		sets = []bioLogSet{set}
	}
	var same, all, states atomic.Int32
	seen := map[string]string{} // scenario -> the set it was read from
	t.Run("scenario", func(t *testing.T) {
		for _, set := range sets {
			byScenario := readBioLogSet(t, set.dir)
			known := readKnown(t, filepath.Join(set.dir, "KNOWN_DIVERGENT"))
			for name := range known {
				if _, ok := byScenario[name]; !ok {
					t.Errorf("%s/KNOWN_DIVERGENT lists %s, which has no kernel bio log there", set.dir, name)
				}
			}
			names := make([]string, 0, len(byScenario))
			for n := range byScenario {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				if other, ok := seen[name]; ok {
					t.Errorf("%s has bio logs in both %s and %s: keep one", name, other, set.dir)
					continue
				}
				seen[name] = set.dir
				all.Add(1)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					diff, n, finalDiffers := compareDurable(t, set, name, byScenario[name])
					reason, isKnown := known[name]
					switch {
					case diff == "" && isKnown:
						t.Errorf("%s is listed in %s/KNOWN_DIVERGENT (%s) but now matches the kernel: remove it", name, set.dir, reason)
					case diff == "":
						same.Add(1)
						states.Add(int32(n))
					case isKnown && len(finalDiffers) > 0:
						// Where commits fall moves the metadata, never
						// what the data disks end up holding.
						t.Errorf("%s is listed in %s/KNOWN_DIVERGENT (%s), but the final images of its disks %v differ from the kernel's too:\n%s",
							name, set.dir, reason, finalDiffers, diff)
					case isKnown:
						t.Logf("known divergence (%s):\n%s", reason, diff)
					default:
						t.Errorf("%s: dmsim's durable images differ from the kernel's (list it in %s/KNOWN_DIVERGENT with a reason if expected):\n%s",
							name, set.dir, diff)
					}
				})
			}
		}
	})
	if all.Load() == 0 {
		t.Skip("no kernel bio logs")
	}
	msg := fmt.Sprintf("%d of %d scenarios with the kernel's durable images (%d flush-boundary images compared)",
		same.Load(), all.Load(), states.Load())
	t.Log(msg)
	fmt.Println(msg)
}

// readBioLogSet returns the disks of each scenario with logs in dir.
func readBioLogSet(t *testing.T, dir string) map[string][]string {
	logs, _ := filepath.Glob(filepath.Join(dir, "*"+bioLogExtension))
	byScenario := map[string][]string{} // scenario -> disks
	for _, p := range logs {
		base := strings.TrimSuffix(filepath.Base(p), bioLogExtension)
		i := strings.LastIndexByte(base, '.')
		if i < 0 {
			t.Fatalf("%s: not NAME.DISK%s", p, bioLogExtension)
		}
		byScenario[base[:i]] = append(byScenario[base[:i]], base[i+1:])
	}
	return byScenario
}

// compareDurable runs scenario name in dmsim with bio logs and compares
// each disk's durable images with the kernel's; it returns a description
// of the differences ("" if none), how many images were compared, and the
// disks other than meta* ones whose final images (everything written, as
// a host that does not crash keeps it) differ from the kernel's.
func compareDurable(t *testing.T, set bioLogSet, name string, disks []string) (string, int, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	src, err := os.ReadFile(filepath.Join(scriptsDir, name+".sh"))
	if err != nil {
		return err.Error(), 0, nil
	}
	s, err := scenario.Parse(name, src)
	if err != nil {
		return err.Error(), 0, nil
	}
	o := Options{BioLog: true, CommandTime: set.commandTime}
	// The recording's pace, where the recorder kept it (NAME.starts): a
	// first run keeps it between commands, the next ones also inside them
	// (pace.go).
	if b, err := os.ReadFile(filepath.Join(set.dir, name+startsExtension)); err == nil {
		if o.CommandStarts, err = scenario.ParseStarts(b); err != nil {
			return fmt.Sprintf("%s%s: %v", name, startsExtension, err), 0, nil
		}
	}
	simMu.RLock()
	res, err := Run(ctx, s, o)
	for i := 0; err == nil && o.CommandStarts != nil && i < paceRuns; i++ {
		o.CommandCPUScale = PaceScales(s, o.CommandStarts, res.Commands, o.CommandCPUScale)
		res, err = Run(ctx, s, o)
	}
	simMu.RUnlock()
	if err != nil {
		return fmt.Sprintf("run failed: %v", err), 0, nil
	}
	sort.Strings(disks)
	var out strings.Builder
	var finalDiffers []string
	n := 0
	for _, disk := range disks {
		_, kernel, err := biolog.ReadFile(filepath.Join(set.dir, name+"."+disk+bioLogExtension))
		if errors.Is(err, biolog.ErrEmpty) {
			err = nil // the disk was never written
		}
		if err != nil {
			fmt.Fprintf(&out, "disk %s: kernel log: %v\n", disk, err)
			continue
		}
		ours := biolog.DurableImages(dmsim.SectorSize, withExitFlushes(res.BioLogs[disk], res.Reboots[disk]))
		theirs := biolog.DurableImages(dmsim.SectorSize, kernel)
		n += len(theirs)
		if d := diffImages(ours, theirs); d != "" {
			final := "the same"
			if len(ours) == 0 || len(theirs) == 0 || ours[len(ours)-1].Fingerprint != theirs[len(theirs)-1].Fingerprint {
				final = "different"
				if !strings.HasPrefix(disk, "meta") {
					finalDiffers = append(finalDiffers, disk)
				}
			}
			fmt.Fprintf(&out, "disk %s: %s; final images %s\n", disk, d, final)
		}
	}
	return out.String(), n, finalDiffers
}

// withExitFlushes is a disk's records as bio log entries, with a flush
// where each boot ended (reboots: the record counts there): the
// recorder's qemu flushes every disk when the guest powers off, and its
// blklogwrites logs that flush too. The guest sends none (poweroff -f -n);
// what was written is kept either way, as dmsim keeps it at `# reboot`.
func withExitFlushes(recs []dmsim.BioRecord, reboots []int) []biolog.Entry {
	var out []biolog.Entry
	last := 0
	for _, r := range reboots {
		out = append(out, dmsim.BioLogEntries(recs[last:r])...)
		out = append(out, biolog.Entry{Flags: biolog.FlagFlush})
		last = r
	}
	return append(out, dmsim.BioLogEntries(recs[last:])...)
}

// diffImages says where dmsim's and the kernel's durable-image sequences
// first differ.
func diffImages(ours, theirs []biolog.Image) string {
	return diffImagesOf(ours, theirs, "dmsim", "kernel")
}

// diffImagesOf says where two durable-image sequences, of a and of b,
// first differ.
func diffImagesOf(x, y []biolog.Image, a, b string) string {
	for i := 0; i < max(len(x), len(y)); i++ {
		switch {
		case i >= len(x):
			return fmt.Sprintf("%d durable images in %s, %d in %s; %s's next: %v", len(x), a, len(y), b, b, y[i])
		case i >= len(y):
			return fmt.Sprintf("%d durable images in %s, %d in %s; %s's next: %v", len(x), a, len(y), b, a, x[i])
		case x[i].Fingerprint != y[i].Fingerprint:
			return fmt.Sprintf("image %d of %d/%d differs: %s %v, %s %v", i, len(x), len(y), a, x[i], b, y[i])
		}
	}
	return ""
}

// TestCompareDurableFinalImages: the check that keeps a listed scenario
// honest sees a data disk that ends otherwise than the kernel's. The
// fixture pairs thin-snapshot with thin-delete's kernel logs.
func TestCompareDurableFinalImages(t *testing.T) {
	set := bioLogSet{"testdata/biologs-swapped", IcountCommandTime}
	diff, _, finalDiffers := compareDurable(t, set, "thin-snapshot", []string{"data", "meta"})
	if diff == "" || !slices.Equal(finalDiffers, []string{"data"}) {
		t.Errorf("thin-snapshot against thin-delete's logs: diff %q, final images differ on %v, want [data]", diff, finalDiffers)
	}
	set.dir = "../goldens/logs/icount"
	if diff, _, finalDiffers := compareDurable(t, set, "thin-snapshot", []string{"data", "meta"}); diff != "" || finalDiffers != nil {
		t.Errorf("thin-snapshot against its own logs: diff %q, final images differ on %v", diff, finalDiffers)
	}
}

// -biologs.again names a second recording of the -biologs scenarios
// (another --out DIR/logs): TestKernelRecordingsAgree then says, for each
// scenario in both, whether the kernel made the same durable images both
// times. Where it did not, the kernel's own behaviour varies from run to
// run (for example the order in which the data device completes the
// pieces of a bio, which orders the pool's mapping inserts), and no replay
// can match every recording.
var bioLogsAgain = flag.String("biologs.again", "", "a second recording of the -biologs `dir`'s scenarios")

func TestKernelRecordingsAgree(t *testing.T) {
	if *bioLogsDir == "" || *bioLogsAgain == "" {
		t.Skip("needs -biologs and -biologs.again")
	}
	first, second := readBioLogSet(t, *bioLogsDir), readBioLogSet(t, *bioLogsAgain)
	names := make([]string, 0, len(first))
	for n := range first {
		if _, ok := second[n]; ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		disks := first[name]
		sort.Strings(disks)
		var diffs []string
		for _, disk := range disks {
			var images [2][]biolog.Image
			for i, dir := range []string{*bioLogsDir, *bioLogsAgain} {
				_, entries, err := biolog.ReadFile(filepath.Join(dir, name+"."+disk+bioLogExtension))
				if err != nil && !errors.Is(err, biolog.ErrEmpty) {
					t.Fatalf("%s %s: %v", name, disk, err)
				}
				images[i] = biolog.DurableImages(dmsim.SectorSize, entries)
			}
			if d := diffImagesOf(images[0], images[1], "the first", "the second"); d != "" {
				diffs = append(diffs, fmt.Sprintf("disk %s: %s", disk, d))
			}
		}
		if len(diffs) == 0 {
			fmt.Printf("%s: the kernel's two recordings agree\n", name)
		} else {
			fmt.Printf("%s: the kernel's two recordings differ: %s\n", name, strings.Join(diffs, "; "))
		}
	}
}
