package crash

import (
	"context"
	"os"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	_ "github.com/dmsim/dmsim/targets/all"
)

func sweepFile(t *testing.T, path string, o Options) *Result {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Sweep(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSmoke(t *testing.T) {
	for _, m := range []dmsim.CrashMode{dmsim.CrashPrefix, dmsim.CrashSubset, dmsim.CrashTorn} {
		r := sweepFile(t, "../scripts/"+os.Getenv("CRASH_SCRIPT")+".sh", Options{Mode: m})
		t.Log(r)
	}
}
