package crash

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/thinsync/simcmd" // the app-* scenarios run thinsync
)

func parseFile(t *testing.T, path string) *scenario.Script {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse(strings.TrimSuffix(path, ".sh"), src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSweep: one scenario in each mode finds no failure, dedups (unique
// states are fewer than states where writes repeat), and gives the same
// report twice.
func TestSweep(t *testing.T) {
	s := parseFile(t, "../scripts/thin-commit-fsync.sh")
	for _, tc := range []struct {
		mode         dmsim.CrashMode
		states, uniq int
	}{
		{dmsim.CrashPrefix, 61, 57},
		{dmsim.CrashSubset, 506, 502},
		{dmsim.CrashTorn, 173, 57},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			var reports []string
			for range 2 {
				r, err := Sweep(context.Background(), s, Options{Mode: tc.mode})
				if err != nil {
					t.Fatal(err)
				}
				if r.Failed != 0 {
					t.Errorf("failures:\n%v", r)
				}
				if r.States != tc.states || r.Unique != tc.uniq {
					t.Errorf("states %d unique %d, want %d %d", r.States, r.Unique, tc.states, tc.uniq)
				}
				reports = append(reports, r.String())
			}
			if reports[0] != reports[1] {
				t.Errorf("reports differ:\n%s\n%s", reports[0], reports[1])
			}
		})
	}
}

// TestReplay: a `# crash:` directive on a good kernel passes; one naming
// a state that does not exist is an error.
func TestReplay(t *testing.T) {
	head := "# disk: meta 4M\n# disk: data 16M\n" +
		"dmsetup create pool --table \"0 32768 thin-pool $DISK_meta $DISK_data 128 0\"\n" +
		"dmsetup message pool 0 \"create_thin 0\"\n" +
		"dmsetup create thin --table \"0 8192 thin /dev/mapper/pool 0\"\n" +
		"yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer\n"
	for _, tc := range []struct {
		crash, want, err string
	}{
		{"meta point=7 keep=0", "# crash check: ok", ""},
		{"meta point=2 keep=0,1", "# crash check: ok", ""},
		{"data point=0 keep=none", "# crash check: ok", ""},
		{"meta point=99 keep=none", "", "has no crash state"},
		{"meta point=2 keep=7", "", "has no crash state"},
	} {
		s, err := scenario.Parse("replay", []byte(head+"# crash: "+tc.crash+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		v, err := Replay(context.Background(), s, &out)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.crash, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.crash, err)
		}
		if v.String() != tc.want {
			t.Errorf("%s: %v, want %s", tc.crash, v, tc.want)
		}
		if !strings.Contains(out.String(), "$ dmsetup create pool") {
			t.Errorf("%s: no transcript:\n%s", tc.crash, out.String())
		}
	}
}
