package script

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/userland"
)

// A process that never waits lets time pass by its CPU work
// (userland/cpu.go), so the timer of its `timeout` fires: busybox timeout
// execs the command, which dies of SIGTERM (143, "Terminated"), as
// recorded on Linux (scripts/busy-timeout.sh).
func TestBusyLetsTimePass(t *testing.T) {
	const md5y = "08ae78c6517d89241208de2211996ae8  -\n" // of 1000000 bytes of "y\n"
	for _, c := range []struct {
		line   string
		status int
		out    string
		now    time.Duration // virtual time the line took
	}{
		{"timeout 5 dd if=/dev/zero of=/dev/null bs=1 count=100000000000", 143, "", 5 * time.Second},
		{"timeout 2 dd if=/dev/zero of=/dev/null bs=1M count=100000000000", 143, "", 2 * time.Second},
		{"timeout 1 cat /dev/zero >/dev/null", 143, "", time.Second},
		{"timeout 1 yes >/dev/null", 143, "", time.Second},
		{"timeout 1 yes | cat >/dev/null; echo done", 0, "done\n", 1000002 * time.Microsecond},
		{"yes | timeout 1 cat >/dev/null", 143, "", 1000002 * time.Microsecond},
		{"timeout 3 dd if=/dev/urandom of=/dev/null bs=4K count=100000000", 143, "", 3 * time.Second},
		// the output is unchanged; the copies cost 7 ms
		{"yes | head -c 1000000 | md5sum", 0, md5y, 7000014 * time.Nanosecond},
		// 100000 rounds of `[` cost 2 s: a loop lets time pass
		{"i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo $i", 0, "100000\n",
			100000 * userland.StatementCost},
		// a job starts at `wait`, after the loop: its sleep ends at 3 s
		{"(sleep 1; echo slept) & i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; wait", 0, "slept\n",
			100000*userland.StatementCost + time.Second},
	} {
		m, err := NewMachine(Config{CommandTime: -1})
		if err != nil {
			t.Fatal(err)
		}
		var out, errb strings.Builder
		st := m.Exec(context.Background(), c.line, &out, &errb)
		wantErr := ""
		if c.status == 143 {
			wantErr = "Terminated\n"
		}
		if got := m.Kernel.Clock.Now(); st != c.status || out.String() != c.out || errb.String() != wantErr || got != c.now {
			t.Errorf("%q: status %d, stdout %q, stderr %q at %v; want %d, %q, %q at %v",
				c.line, st, out.String(), errb.String(), got, c.status, c.out, wantErr, c.now)
		}
		m.Close()
	}
}

// The stall guard stops a line during which the simulation makes no
// progress: a loop of builtins with no timer ahead (time passes by its
// statements, but nothing could ever end it), with a pool's periodic
// commit (a daemon timer) firing meanwhile or not, an uncharged loop that
// lets no time pass at all, or a command stuck outside the simulation. It
// names the line; the run ends there.
func TestStallGuard(t *testing.T) {
	for _, c := range []struct {
		name   string
		before []string // run first, without the guard
		line   string
	}{
		{"shell loop", []string{"true"}, "while true; do :; done"},
		{"uncharged loop", nil, "for ((;;)); do x=1; done"},
		{"loop with a pool", []string{
			"dmsetup create pool --table \"0 32768 thin-pool $DISK_meta $DISK_data 128 0\"",
			"dmsetup message pool 0 \"create_thin 0\""}, "until false; do :; done"},
		{"busy applet", nil, "yes >/dev/null"},
	} {
		m, err := NewMachine(Config{Disks: []Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 16 << 20}}, MaxStall: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.before {
			if _, err := m.Run(l); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		m.MaxStall, m.Wall = 10*time.Second, sim.NewInstantWall(time.Unix(1000, 0))
		r := m.RunLine(context.Background(), c.line)
		want := "`" + c.line + "` ran 10s without letting time pass; stopped"
		if r.Stall == nil || r.Stall.Error() != want {
			t.Errorf("%s: stall %v, want %q", c.name, r.Stall, want)
		}
		m.Close()
	}
}

// A script's stalled line ends the run with an error naming it.
func TestStallGuardScript(t *testing.T) {
	var out strings.Builder
	s := parseScript(t, "# a comment\n\nwhile true; do :; done\necho never\n")
	_, err := Run(context.Background(), s, Options{MaxStall: 10 * time.Second, Wall: sim.NewInstantWall(time.Unix(1000, 0)), Out: &out})
	var se *StallError
	const want = "line 3: `while true; do :; done` ran 10s without letting time pass; stopped"
	if !errors.As(err, &se) || se.Num != 3 || err.Error() != want || strings.Contains(out.String(), "never") {
		t.Errorf("error %v, want %q; transcript:\n%s", err, want, out.String())
	}
}

// The guard never fires on lines that make progress, with the host's wall
// clock; off (negative), it does not run at all.
func TestStallGuardQuiet(t *testing.T) {
	for _, max := range []time.Duration{0, -1} {
		s := parseScript(t, "sleep 100\ntimeout 3 dd if=/dev/zero of=/dev/null bs=1 count=1000000000\n"+
			"i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done\n")
		if _, err := Run(context.Background(), s, Options{MaxStall: max}); err != nil {
			t.Errorf("MaxStall %v: %v", max, err)
		}
	}
}

// The REPL's Exec: the guard's message on stderr, status 124, and the
// machine runs the next line.
func TestStallGuardExec(t *testing.T) {
	m, err := NewMachine(Config{MaxStall: time.Second, Wall: sim.NewInstantWall(time.Unix(1000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var errb strings.Builder
	if st := m.Exec(context.Background(), "while :; do :; done", io.Discard, &errb); st != 124 ||
		!strings.HasSuffix(errb.String(), "dmsim: `while :; do :; done` ran 1s without letting time pass; stopped\n") {
		t.Errorf("status %d, stderr %q", st, errb.String())
	}
	var out strings.Builder
	m.Wall = nil
	if st := m.Exec(context.Background(), "echo next", &out, io.Discard); st != 0 || out.String() != "next\n" {
		t.Errorf("next line: status %d, %q", st, out.String())
	}
}

func parseScript(t *testing.T, src string) *scenario.Script {
	t.Helper()
	s, err := scenario.Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
