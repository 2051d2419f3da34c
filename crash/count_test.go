package crash

import (
	"context"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// TestCount counts (does not check) every golden scenario's states.
func TestCount(t *testing.T) {
	if !*countOnly {
		t.Skip("-crash.count")
	}
	modes := []dmsim.CrashMode{dmsim.CrashPrefix, dmsim.CrashSubset, dmsim.CrashTorn}
	tot := make([]Result, len(modes))
	for _, s := range goldenScripts(t) {
		rs, err := SweepModes(context.Background(), s, modes, Options{CountOnly: true, MaxPrefix: *maxPrefix})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			tot[i].Points += r.Points
			tot[i].States += r.States
			tot[i].Unique += r.Unique
		}
	}
	for i, m := range modes {
		t.Logf("%s: points %d states %d unique %d", m, tot[i].Points, tot[i].States, tot[i].Unique)
	}
}
