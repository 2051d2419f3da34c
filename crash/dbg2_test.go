package crash

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

func TestDbgSeq(t *testing.T) {
	name := os.Getenv("CRASH_SCRIPT")
	src, _ := os.ReadFile("../scripts/" + name + ".sh")
	s, _ := scenario.Parse(name, src)
	workload(context.Background(), s, func(b *bootTrace, _ *scenario.Item) error {
		for _, d := range b.Disks {
			var sb strings.Builder
			for _, r := range d.Log {
				fmt.Fprintf(&sb, "%d:%v ", r.Seq, r)
			}
			t.Logf("%s: %s", d.Name, sb.String())
		}
		for _, q := range b.Quiesces {
			if q.Item >= 0 {
				t.Logf("q %d after %s", q.Seq, s.Items[q.Item].Cmd)
			}
		}
		return nil
	})
}
