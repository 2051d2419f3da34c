package crash

import (
	"context"
	"os"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

func TestDbgLog(t *testing.T) {
	name := os.Getenv("CRASH_SCRIPT")
	src, _ := os.ReadFile("../scripts/" + name + ".sh")
	s, _ := scenario.Parse(name, src)
	workload(context.Background(), s, func(b *bootTrace, _ *scenario.Item) error {
		for _, d := range b.Disks {
			t.Logf("%s: %s", d.Name, dmsim.FormatBioLog(d.Log, false))
		}
		for _, q := range b.Quiesces {
			t.Logf("q %d item %d", q.Seq, q.Item)
		}
		return nil
	})
}
