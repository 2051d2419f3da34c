package script

import (
	"context"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
)

func TestFormatCommand(t *testing.T) {
	cases := []struct {
		it   scenario.Item
		r    Result
		want string
	}{
		{scenario.Item{Kind: scenario.Command, Cmd: "true"}, Result{}, "$ true\n[exit 0]\n"},
		{scenario.Item{Kind: scenario.Command, Cmd: "x", Silent: true}, Result{Stdout: []byte("hidden\n")}, ""},
		{scenario.Item{Kind: scenario.Command, Cmd: "x", Silent: true}, Result{Status: 2}, "$ x\n[exit 2]\n"},
		{scenario.Item{Kind: scenario.Command, Cmd: "c"}, Result{
			Stdout: []byte("a\n\nb"), Stderr: []byte("e1\n"),
			Kmsg: []dmsim.LogLine{{Level: 4, Text: "device-mapper: thin: x"}}, Status: 1},
			"$ c\n| a\n| \n| b\n! e1\nk <4>device-mapper: thin: x\n[exit 1]\n"},
		{scenario.Item{Kind: scenario.Command, Cmd: "echo"}, Result{Stdout: []byte("\n")}, "$ echo\n| \n[exit 0]\n"},
	}
	for _, c := range cases {
		var b strings.Builder
		FormatCommand(&b, c.it, c.r)
		if b.String() != c.want {
			t.Errorf("%+v: got %q want %q", c.it, b.String(), c.want)
		}
	}
}

func TestStripEnv(t *testing.T) {
	in := "# env: dmsim x\n# disk: a 1M\n$ true\n# env: late\n[exit 0]\n"
	if got, want := StripEnv(in), "# disk: a 1M\n$ true\n[exit 0]\n"; got != want {
		t.Errorf("got %q", got)
	}
}

func TestUnifiedDiff(t *testing.T) {
	if d := UnifiedDiff("a", "b", "x\ny\n", "x\ny\n"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n"
	// changes 6 lines apart share a hunk, as in GNU diff -u
	want := "--- a\n+++ b\n@@ -2,9 +2,10 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+11\n"
	if d := UnifiedDiff("a", "b", a, b); d != want {
		t.Errorf("got\n%s\nwant\n%s", d, want)
	}
	a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b = "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n"
	want = "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,3 @@\n 9\n 10\n 11\n-12\n"
	if d := UnifiedDiff("a", "b", a, b); d != want {
		t.Errorf("got\n%s\nwant\n%s", d, want)
	}
	if d := UnifiedDiff("a", "b", "x", "y"); !strings.Contains(d, "\\ No newline at end of file") {
		t.Errorf("missing newline marker: %q", d)
	}
}

// The runner's shell semantics: variables persist, @ lines are silent,
// unknown commands fail with 127, redirections reach the scratch
// directory and /sys, stdin is empty, and the working directory is /tmp.
func TestRunShell(t *testing.T) {
	src := `# disk: a 1M
x=hello
echo $x $DISK_a $DM_DISABLE_UDEV
@true
@false
pwd
cat
nosuchcommand arg
echo data > f; cat f; cat /tmp/f
cat < missing
echo x > /nodir/y
echo abc > /sys/module/dm_mod/parameters/nosuch
f() { echo in f "$@"; }; f 1 2
echo 'unterminated
ls | head -1
timeout 1 sleep 5
sleep 1 && echo slept
`
	s, err := scenario.Parse("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), s, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	want := `# env: dmsim test
# env: disk a = /dev/vda 1M (2048 sectors, 254:0, discard)
# disk: a 1M
$ x=hello
[exit 0]
$ echo $x $DISK_a $DM_DISABLE_UDEV
| hello /dev/vda 1
[exit 0]
$ false
[exit 1]
$ pwd
| /tmp
[exit 0]
$ cat
[exit 0]
$ nosuchcommand arg
! dmsim: nosuchcommand: command not supported
[exit 127]
$ echo data > f; cat f; cat /tmp/f
| data
| data
[exit 0]
$ cat < missing
! sh: can't open missing: no such file
[exit 1]
$ echo x > /nodir/y
! sh: can't create /nodir/y: nonexistent directory
[exit 1]
$ echo abc > /sys/module/dm_mod/parameters/nosuch
! sh: can't create /sys/module/dm_mod/parameters/nosuch: nonexistent directory
[exit 1]
$ f() { echo in f "$@"; }; f 1 2
| in f 1 2
[exit 0]
$ echo 'unterminated
! sh: eval: line 0: syntax error: unterminated quoted string
[exit 2]
$ ls | head -1
! dmsim: ls: command not supported
[exit 0]
$ timeout 1 sleep 5
! Terminated
[exit 143]
$ sleep 1 && echo slept
| slept
[exit 0]
`
	if d := UnifiedDiff("want", "got", want, res.Transcript); d != "" {
		t.Errorf("transcript differs:\n%s", d)
	}
}
