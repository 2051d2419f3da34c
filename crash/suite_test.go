package crash

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

var (
	full   = flag.Bool("crash.full", false, "sweep every golden scenario exhaustively in every mode (TestCrashGoldens)")
	only   = flag.String("crash.only", "", "sweep only these scenarios (comma-separated names)")
	reboot = flag.Bool("crash.reboot", true, "boot a machine on each checked state")
)

// goldenScripts are the scenarios that have a golden transcript.
func goldenScripts(t testing.TB) []*scenario.Script {
	files, err := filepath.Glob("../scripts/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	var out []*scenario.Script
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sh")
		if _, err := os.Stat("../goldens/" + name + ".txt"); err != nil {
			continue
		}
		if *only != "" && !strings.Contains(","+*only+",", ","+name+",") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Parse(name, src)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestSuiteQuick(t *testing.T) {
	var total Result
	start := time.Now()
	for _, s := range goldenScripts(t) {
		for _, m := range []dmsim.CrashMode{dmsim.CrashPrefix, dmsim.CrashSubset, dmsim.CrashTorn} {
			r, err := Sweep(context.Background(), s, Options{Mode: m, NoReboot: !*reboot})
			if err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			t.Log(strings.TrimSpace(r.String()), time.Since(start))
			total.States += r.States
			total.Unique += r.Unique
			total.Failed += r.Failed
		}
	}
	t.Log(total.States, total.Unique, total.Failed, time.Since(start))
}
