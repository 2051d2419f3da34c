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
	for _, m := range []dmsim.CrashMode{dmsim.CrashPrefix, dmsim.CrashSubset, dmsim.CrashTorn} {
		var tot Result
		for _, s := range goldenScripts(t) {
			r, err := Sweep(context.Background(), s, Options{Mode: m, CountOnly: true, MaxPrefix: *maxPrefix})
			if err != nil {
				t.Fatal(err)
			}
			tot.Points += r.Points
			tot.States += r.States
			tot.Unique += r.Unique
		}
		t.Logf("%s: points %d states %d unique %d", m, tot.Points, tot.States, tot.Unique)
	}
}
