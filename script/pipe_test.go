package script

import (
	"context"
	"fmt"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

// TestPipeReadsRepeat: dd without iflag=fullblock reading a pipeline gets
// the same reads in every run, however the host schedules the stages: a
// read waits until the writer fills it, blocks on a full pipe or ends
// (pipeCapacity), as on the recording machine's one CPU. Before, a read
// took whatever the host's scheduling had left in the pipe, and the
// records (and the bios, and the crash sweep's traces) varied.
func TestPipeReadsRepeat(t *testing.T) {
	for _, cmd := range []string{
		"yes one | head -c 1048576 | dd of=$DISK_a bs=64K oflag=direct status=noxfer",
		"yes one | head -c 1048576 | dd of=$DISK_a bs=8K oflag=direct status=noxfer",
		"seq 1 100000 | head -c 300000 | dd of=$DISK_a bs=64K oflag=direct status=noxfer",
		"yes one | head -c 4194304 | dd of=/dev/null bs=1M status=noxfer",
	} {
		first := ""
		for run := 0; run < 30; run++ {
			s, err := scenario.Parse("pipe", []byte("# disk: a 4M\n"+cmd+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), s, Options{BioLog: true})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Transcript + fmt.Sprint(res.BioLogs["a"])
			if run == 0 {
				first = got
			} else if got != first {
				t.Fatalf("%s: run %d differs from run 0:\n%s", cmd, run, res.Transcript)
			}
		}
	}
}
