package script

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shell's processes are clock actors (procs.go): pipeline stages and
// background jobs run concurrently in virtual time, time passes only while
// every process waits, and a process woken by a pipe, a job's end or a
// stage's end runs before time moves on.
func TestProcessesInVirtualTime(t *testing.T) {
	const md5y = "08ae78c6517d89241208de2211996ae8  -\n" // of 1000000 bytes of "y\n"
	for _, c := range []struct {
		lines []string
		out   string
		now   time.Duration
	}{
		// stages run side by side; the pipeline ends with its last stage
		{[]string{"sleep 1 | sleep 2"}, "", 2 * time.Second},
		{[]string{"sleep 2 | (sleep 1; cat)"}, "", 2 * time.Second},
		{[]string{"(sleep 1; echo a) | (sleep 2; cat)"}, "a\n", 2 * time.Second},
		{[]string{"(sleep 1; echo a; sleep 1; echo b) | cat | cat"}, "a\nb\n", 2 * time.Second},
		{[]string{"echo $(sleep 1; echo b) | cat"}, "b\n", time.Second},
		// flow control through 64 KiB pipes
		{[]string{"yes | head -c 200000 | wc -c"}, "200000\n", 0},
		{[]string{"yes | head -c 1000000 | md5sum"}, md5y, 0},
		// a reader that gives its token up itself (dmsetup reading its table)
		{[]string{"(sleep 1; printf '0 8 error\\n') | dmsetup create e; dmsetup table e"}, "0 8 error \n", time.Second},
		// background jobs run while later lines run, and wait ends with them
		{[]string{"sleep 5 &", "true"}, "", 0},
		{[]string{"sleep 5 &", "wait"}, "", 5 * time.Second},
		{[]string{"sleep 1 &", "sleep 1 &", "wait"}, "", time.Second},
		{[]string{"sleep 3 & sleep 1 & wait $!"}, "", time.Second},
		{[]string{"sleep 3 & sleep 1 & wait $!", "wait"}, "", 3 * time.Second},
		{[]string{"(sleep 1; echo x) > o &", "cat o", "sleep 2", "cat o"}, "x\n", 2 * time.Second},
		{[]string{"yes | head -c 1000000 | md5sum > o &", "wait; cat o"}, md5y, 0},
		{[]string{"(sleep 1 | sleep 2; echo done) > o &", "sleep 1; cat o", "sleep 1; cat o"}, "done\n", 2 * time.Second},
		// statuses and $?, as in ash (every stage in a subshell)
		{[]string{"false | true; echo $?"}, "0\n", 0},
		{[]string{"true | false; echo $?"}, "1\n", 0},
		{[]string{"false; echo $? | cat"}, "1\n", 0},
		{[]string{"false; echo $? &", "wait"}, "1\n", 0},
		{[]string{"(exit 3) & wait $!; echo $?"}, "3\n", 0},
		{[]string{"x=1 | true; echo ${x:-unset}"}, "unset\n", 0},
		{[]string{"(set -e; false | true; echo ok)"}, "ok\n", 0},
		{[]string{"(set -e; true | false; echo no)"}, "", 0},
		{[]string{"(set -e; false || true | cat; echo ok)"}, "ok\n", 0},
		// read from a pipe whose writer waits for time, and more than fits
		{[]string{"(sleep 1; echo a; sleep 1; echo b) | (read x; read y; echo $x$y)"}, "ab\n", 2 * time.Second},
		{[]string{"seq 1 30000 | (n=0; while read l; do n=$((n+1)); done; echo $n)"}, "30000\n", 0},
		// redirections from files
		{[]string{"echo 5 > n; read v < n; echo $v", "cat < n", "echo $(<n)"}, "5\n5\n5\n", 0},
		{[]string{"cat < /sys/module/dm_thin_pool/parameters/no_space_timeout; cat < /dev/null"}, "60\n", 0},
	} {
		m, err := Boot(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.CommandTime = 0
		var out, errb strings.Builder
		for _, l := range c.lines {
			m.Exec(context.Background(), l, &out, &errb)
		}
		if got := m.Kernel.Clock.Now(); out.String() != c.out || got != c.now || errb.Len() > 0 {
			t.Errorf("%q: printed %q (stderr %q) at %v, want %q at %v", c.lines, out.String(), errb.String(), got, c.out, c.now)
		}
		m.sh.procs.mu.Lock()
		if n := len(m.sh.procs.pipes); n != 0 {
			t.Errorf("%q: %d pipes still registered after the lines ended", c.lines, n)
		}
		m.sh.procs.mu.Unlock()
		m.Halt()
	}
}

// Background jobs and pipelines against the kernel's timers, many runs at
// once (which used to make the real-time settling of jobs fail now and
// then): every run prints the same bytes.
func TestJobsDeterministic(t *testing.T) {
	const runs = 16
	outs := make([]string, runs)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			res, err := RunFile(context.Background(), "testdata/jobs.sh", Options{Version: "test"})
			if err != nil {
				outs[i] = fmt.Sprint(err)
				return
			}
			outs[i] = res.Transcript
		})
	}
	wg.Wait()
	for i := 1; i < runs; i++ {
		if d := UnifiedDiff("run 1", fmt.Sprintf("run %d", i+1), outs[0], outs[i]); d != "" {
			t.Fatalf("runs differ:\n%s", d)
		}
	}
}
