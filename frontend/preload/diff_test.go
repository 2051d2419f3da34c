package preload_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/frontend/preload"
	"github.com/dmsim/dmsim/internal/hostcaps"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/thinsync/simcmd" // the app-* scenarios run thinsync
	_ "github.com/dmsim/dmsim/thintools"
)

const (
	scriptsDir = "../../scripts"
	goldensDir = "../../goldens"
	// expectedFile lists the differences between dmsim's dmsetup and the
	// real one that are understood and kept: "SCENARIO\t$ LINE\treason".
	expectedFile = "testdata/EXPECTED_DIFFERENCES"
)

// newReal builds the library and returns the real dmsetup's runner.
func newReal(t *testing.T) *realDmsetup {
	t.Helper()
	hostcaps.RequireTools(t, realDmsetupPath)
	if _, err := exec.LookPath("cc"); err != nil && os.Getenv("CC") == "" {
		hostcaps.RequireTools(t, "cc")
	}
	dir := t.TempDir()
	so := filepath.Join(dir, "dmsim-preload.so")
	if err := preload.Build(so); err != nil {
		t.Fatal(err)
	}
	return &realDmsetup{bin: realDmsetupPath, so: so, dir: dir}
}

func loadExpected(t *testing.T) map[string]string {
	m := map[string]string{}
	f, err := os.Open(expectedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		parts := strings.SplitN(l, "\t", 3)
		if len(parts) != 3 || parts[2] == "" {
			t.Fatalf("%s: want SCENARIO<TAB>$ LINE<TAB>reason: %q", expectedFile, l)
		}
		m[parts[0]+"\t"+parts[1]] = parts[2]
	}
	return m
}

// TestRealDmsetup runs every golden scenario twice, once with dmsim's
// dmsetup and once with the real /usr/sbin/dmsetup over the bridge (every
// other command is dmsim's both times), and compares the transcripts entry
// by entry: stdout, stderr, the kernel's log lines and the exit status of
// every line, byte for byte. A difference fails the test unless
// testdata/EXPECTED_DIFFERENCES lists it with its reason; a listed one that
// no longer shows fails it too.
func TestRealDmsetup(t *testing.T) {
	r := newReal(t)
	expected := loadExpected(t)
	seen := map[string]bool{}
	scripts, _ := filepath.Glob(filepath.Join(scriptsDir, "*.sh"))
	ran := 0
	for _, s := range scripts {
		name := strings.TrimSuffix(filepath.Base(s), ".sh")
		if !fileExists(filepath.Join(goldensDir, name+".txt")) {
			continue
		}
		if only := os.Getenv("DMSIM_BRIDGE_ONLY"); only != "" && only != name {
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, err := script.RunFile(ctx, s, script.Options{})
			if err != nil {
				t.Fatal(err)
			}
			restore := useReal(r)
			b, err := script.RunFile(ctx, s, script.Options{})
			restore()
			if err != nil {
				t.Fatal(err)
			}
			ba, bb := blocks(a.Transcript), blocks(b.Transcript)
			if len(ba) != len(bb) {
				t.Fatalf("transcripts of %d and %d entries", len(ba), len(bb))
			}
			for i := range ba {
				if ba[i] == bb[i] {
					continue
				}
				line := strings.SplitN(ba[i], "\n", 2)[0]
				key := name + "\t" + line
				if _, ok := expected[key]; ok {
					seen[key] = true
					continue
				}
				t.Errorf("%s\n--- dmsim's dmsetup\n%s--- real dmsetup\n%s", line, ba[i], bb[i])
			}
		})
	}
	if ran == 0 {
		t.Fatal("no scenarios")
	}
	t.Logf("%d scenarios, %d runs of the real dmsetup", ran, r.n.Load())
	if os.Getenv("DMSIM_BRIDGE_ONLY") == "" {
		for k, why := range expected {
			if !seen[k] {
				t.Errorf("%s lists %q (%s), which no longer differs", expectedFile, k, why)
			}
		}
	}
}
