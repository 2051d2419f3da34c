package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/script"
)

// `dmsim run` flags: both --flag value and --flag=value, before or after
// the script, --disk repeated; --command-time 0 means none and no flag the
// runner's default.
func TestParseRunArgs(t *testing.T) {
	cases := []struct {
		args []string
		want script.Options
		file string
	}{
		{[]string{"s.sh"}, script.Options{Disks: map[string]string{}}, "s.sh"},
		{[]string{"--keep", "k", "--disk", "meta=/m.img", "--disk=data=/d.img", "s.sh"},
			script.Options{KeepDir: "k", Disks: map[string]string{"meta": "/m.img", "data": "/d.img"}}, "s.sh"},
		{[]string{"s.sh", "--keep=k", "--command-time", "1s"},
			script.Options{KeepDir: "k", Disks: map[string]string{}, CommandTime: time.Second}, "s.sh"},
		{[]string{"--command-time=0", "-"}, script.Options{Disks: map[string]string{}, CommandTime: -1}, "-"},
		{[]string{"--max-stall", "30s", "s.sh"}, script.Options{Disks: map[string]string{}, MaxStall: 30 * time.Second}, "s.sh"},
		{[]string{"s.sh", "--max-stall=0"}, script.Options{Disks: map[string]string{}, MaxStall: -1}, "s.sh"},
	}
	for _, c := range cases {
		r, _, err := parseRunArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if got := r.options(); !reflect.DeepEqual(got, c.want) || r.script != c.file {
			t.Errorf("%q: %+v %q, want %+v %q", c.args, got, r.script, c.want, c.file)
		}
	}
}

// Usage errors: a message naming the problem, the synopsis, exit 2.
func TestRunUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"run"}, "dmsim run: no SCRIPT\n"},
		{[]string{"run", "a.sh", "b.sh"}, "dmsim run: one script at a time\n"},
		{[]string{"run", "--frob", "a.sh"}, "dmsim run: flag provided but not defined: -frob\n"},
		{[]string{"run", "a.sh", "--keep"}, "dmsim run: flag needs an argument: -keep\n"},
		{[]string{"run", "--disk", "x", "a.sh"}, `dmsim run: invalid value "x" for flag -disk: want NAME=PATH` + "\n"},
		{[]string{"run", "--command-time=-1s", "a.sh"},
			`dmsim run: invalid value "-1s" for flag -command-time: want a duration (350ms, 1s, 0)` + "\n"},
		{[]string{"repl", "--disk"}, "dmsim repl: flag needs an argument: -disk\n"},
		{[]string{"repl", "x"}, "dmsim repl: unexpected argument \"x\"\n"},
		{[]string{"frob"}, "dmsim: unknown command \"frob\"\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if st := run(c.args, strings.NewReader(""), &out, &errb); st != 2 {
			t.Errorf("%q: exit %d, want 2", c.args, st)
		}
		if !strings.HasPrefix(errb.String(), c.msg) || !strings.Contains(errb.String(), "sage:") {
			t.Errorf("%q: stderr %q, want %q and the usage", c.args, errb.String(), c.msg)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", c.args, out.String())
		}
	}
}

// -h prints the usage on stdout and exits 0.
func TestRunHelp(t *testing.T) {
	for _, args := range [][]string{{"run", "-h"}, {"run", "--help"}, {"repl", "--help"}} {
		var out, errb bytes.Buffer
		if st := run(args, strings.NewReader(""), &out, &errb); st != 0 || !strings.Contains(out.String(), "usage: dmsim "+args[0]) ||
			!strings.Contains(out.String(), "-disk") || errb.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, st, out.String(), errb.String())
		}
	}
}

// A run with flags in both forms replays the script and keeps its images.
func TestRunScript(t *testing.T) {
	keep := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"run", "--command-time", "0", "../../scripts/example.sh", "--keep=" + keep}
	if st := run(args, strings.NewReader(""), &out, &errb); st != 0 {
		t.Fatalf("exit %d: %s", st, errb.String())
	}
	if !strings.HasPrefix(out.String(), "# env: dmsim ") || !strings.Contains(out.String(), "[exit 0]") {
		t.Errorf("transcript:\n%s", out.String())
	}
	if imgs, _ := filepath.Glob(filepath.Join(keep, "*.img")); len(imgs) == 0 {
		t.Errorf("--keep %s: no images kept", keep)
	}
}
