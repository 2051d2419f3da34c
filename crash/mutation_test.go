package crash

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/internal/crashmut"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/userland"
)

// fua-write DEV OFFSET LENGTH writes LENGTH bytes of 0xa5 at byte OFFSET of
// block device DEV as one bio carrying REQ_FUA: a test-only command, for
// the FUA paths no busybox 1.35 command reaches.
func init() {
	userland.Register(&userland.Command{Name: "fua-write", Summary: "test only: one REQ_FUA write", Run: func(p *userland.Proc) int {
		if len(p.Args) != 4 || p.Kernel == nil {
			fmt.Fprintln(p.Stderr, "usage: fua-write DEV OFFSET LENGTH")
			return 2
		}
		off, err1 := strconv.ParseUint(p.Args[2], 10, 64)
		n, err2 := strconv.ParseUint(p.Args[3], 10, 64)
		if err1 != nil || err2 != nil || off%dmsim.SectorSize != 0 || n%dmsim.SectorSize != 0 || n == 0 {
			fmt.Fprintln(p.Stderr, "fua-write: bad offset or length")
			return 2
		}
		var err error
		var ackSeq uint64
		p.Kcall(func() {
			bdev, release, e := p.Kernel.OpenBdev(p.Args[1], dmsim.FModeRead|dmsim.FModeWrite)
			if e != nil {
				err = e
				return
			}
			defer release()
			data := make([]byte, n)
			for i := range data {
				data[i] = 0xa5
			}
			ev := p.Kernel.Clock.NewEvent()
			bio := dmsim.NewBio(dmsim.OpWrite, bdev, off/dmsim.SectorSize, data, func(_ *dmsim.Bio, e error) {
				ackSeq = lastSeq(p.Kernel)
				ev.Fire(e)
			})
			bio.Flags = dmsim.ReqFUA
			bdev.Submit(bio)
			err = ev.Wait(context.Background())
		})
		if err != nil {
			fmt.Fprintf(p.Stderr, "fua-write: %v\n", err)
			return 1
		}
		// The instant of the acknowledgement, for the sweep's oracle.
		fmt.Fprintf(p.Stdout, "fua-write: acknowledged after bio %d\n", ackSeq)
		return 0
	}})
}

// TestMutations: each test-only mutation (package crashmut) makes the sweep
// of the golden scenarios (and of testdata/fua-overwrite.sh, the one
// script that sends FUA) fail; the failure shrinks to a reproducer of 20
// lines or fewer, which fails again when replayed with the mutation on and
// passes with it off.
func TestMutations(t *testing.T) {
	if !*mutations {
		t.Skip("-crash.mutations: sweeps until the first failure, then shrinks (minutes)")
	}
	scripts := goldenScripts(t)
	src, err := os.ReadFile("testdata/fua-overwrite.sh")
	if err != nil {
		t.Fatal(err)
	}
	fua, err := scenario.Parse("fua-overwrite", src)
	if err != nil {
		t.Fatal(err)
	}
	scripts = append(scripts, fua)
	for _, m := range crashmut.All {
		t.Run(m.String(), func(t *testing.T) {
			restore := crashmut.Set(m)
			defer restore()
			o := Options{Mode: dmsim.CrashSubset, StopAtFirst: true}
			var first *Failure
			var s *scenario.Script
			list := scripts
			if m == crashmut.FUAOverwriteEarly {
				// No golden scenario sends FUA (busybox 1.35's dd has no
				// oflag=dsync): only fua-overwrite.sh reaches the path.
				list = []*scenario.Script{fua}
			}
			for _, s = range list {
				r, err := Sweep(context.Background(), s, o)
				if err != nil {
					t.Fatalf("%s: %v", s.Name, err)
				}
				if len(r.Failures) > 0 {
					first = &r.Failures[0]
					break
				}
			}
			if first == nil {
				t.Fatal("no scenario fails")
			}
			t.Logf("first failure: %s, %v", s.Name, first)
			text, f, err := Shrink(context.Background(), s, first, o)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Count(text, "\n")
			t.Logf("reproducer (%d lines, %v):\n%s", lines, f, text)
			if lines > 20 {
				t.Errorf("reproducer has %d lines, want 20 or fewer", lines)
			}
			rs, err := scenario.Parse("repro", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			v, err := Replay(context.Background(), rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.Invariant != f.Invariant {
				t.Errorf("replay with the mutation: %v, want %s", v, f.Invariant)
			}
			restore()
			v, err = Replay(context.Background(), rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.Invariant != "" {
				t.Errorf("replay without the mutation: %v, want ok", v)
			}
		})
	}
}
