package script

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/dmsim"
)

// The kernel's bio logs (recorder --log-writes: qemu's blklogwrites on
// every disk) are kept as goldens/logs/NAME.DISK.log.zst, and the
// scenarios whose durable images are known not to match them, with the
// reason, in goldens/logs/KNOWN_DIVERGENT.
const (
	bioLogsDir      = "../goldens/logs"
	knownDivergent  = "../goldens/logs/KNOWN_DIVERGENT"
	bioLogExtension = ".log.zst"
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
func TestCrashModelIsKernels(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(bioLogsDir, "*"+bioLogExtension))
	if len(logs) == 0 {
		t.Skip("no kernel bio logs in " + bioLogsDir)
	}
	byScenario := map[string][]string{} // scenario -> disks
	for _, p := range logs {
		base := strings.TrimSuffix(filepath.Base(p), bioLogExtension)
		i := strings.LastIndexByte(base, '.')
		if i < 0 {
			t.Fatalf("%s: not NAME.DISK%s", p, bioLogExtension)
		}
		byScenario[base[:i]] = append(byScenario[base[:i]], base[i+1:])
	}
	known := readKnown(t, knownDivergent)
	for name := range known {
		if _, ok := byScenario[name]; !ok {
			t.Errorf("%s lists %s, which has no kernel bio log", knownDivergent, name)
		}
	}
	names := make([]string, 0, len(byScenario))
	for n := range byScenario {
		names = append(names, n)
	}
	sort.Strings(names)
	var same, states atomic.Int32
	t.Run("scenario", func(t *testing.T) {
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				diff, n := compareDurable(t, name, byScenario[name])
				reason, isKnown := known[name]
				switch {
				case diff == "" && isKnown:
					t.Errorf("%s is listed in %s (%s) but now matches the kernel: remove it", name, knownDivergent, reason)
				case diff == "":
					same.Add(1)
					states.Add(int32(n))
				case isKnown:
					t.Logf("known divergence (%s):\n%s", reason, diff)
				default:
					t.Errorf("%s: dmsim's durable images differ from the kernel's (list it in %s with a reason if expected):\n%s",
						name, knownDivergent, diff)
				}
			})
		}
	})
	msg := fmt.Sprintf("%d of %d scenarios with the kernel's durable images (%d flush-boundary images compared)",
		same.Load(), len(names), states.Load())
	t.Log(msg)
	fmt.Println(msg)
}

// compareDurable runs scenario name in dmsim with bio logs and compares
// each disk's durable images with the kernel's; it returns a description
// of the differences ("" if none) and how many images were compared.
func compareDurable(t *testing.T, name string, disks []string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	simMu.RLock()
	res, err := RunFile(ctx, filepath.Join(scriptsDir, name+".sh"), Options{BioLog: true})
	simMu.RUnlock()
	if err != nil {
		return fmt.Sprintf("run failed: %v", err), 0
	}
	sort.Strings(disks)
	var out strings.Builder
	n := 0
	for _, disk := range disks {
		_, kernel, err := biolog.ReadFile(filepath.Join(bioLogsDir, name+"."+disk+bioLogExtension))
		if errors.Is(err, biolog.ErrEmpty) {
			err = nil // the disk was never written
		}
		if err != nil {
			fmt.Fprintf(&out, "disk %s: kernel log: %v\n", disk, err)
			continue
		}
		ours := biolog.DurableImages(dmsim.SectorSize, dmsim.BioLogEntries(res.BioLogs[disk]))
		theirs := biolog.DurableImages(dmsim.SectorSize, kernel)
		n += len(theirs)
		if d := diffImages(ours, theirs); d != "" {
			fmt.Fprintf(&out, "disk %s: %s\n", disk, d)
		}
	}
	return out.String(), n
}

// diffImages says where two durable-image sequences first differ.
func diffImages(ours, theirs []biolog.Image) string {
	for i := 0; i < max(len(ours), len(theirs)); i++ {
		switch {
		case i >= len(ours):
			return fmt.Sprintf("%d durable images in dmsim, %d in the kernel; the kernel's next: %v", len(ours), len(theirs), theirs[i])
		case i >= len(theirs):
			return fmt.Sprintf("%d durable images in dmsim, %d in the kernel; dmsim's next: %v", len(ours), len(theirs), ours[i])
		case ours[i].Fingerprint != theirs[i].Fingerprint:
			return fmt.Sprintf("image %d of %d/%d differs: dmsim %v, kernel %v", i, len(ours), len(theirs), ours[i], theirs[i])
		}
	}
	return ""
}
