package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kernelGolden is a transcript as the recorder writes it for echoScript.
const (
	echoScript   = "# Say hi.\necho hi\n"
	kernelGolden = "# env: kernel 6.1.0-57-amd64\n# env: busybox v1.35.0\n# Say hi.\n$ echo hi\n| hi\n[exit 0]\n"
	wrongGolden  = "# env: kernel 6.1.0-57-amd64\n# Say hi.\n$ echo hi\n| bye\n[exit 0]\n"
	metaScript   = "# disk: meta 1M\necho meta\n"
)

var closingLine = regexp.MustCompile(`\n[0-9]+ passed, [0-9]+ failed\n$`)

// `dmsim test`: scripts or directories, goldens beside them or in
// --goldens DIR, diffs for differences, a closing count, exit 1 on any
// failure; --update writes goldens marked `# env: dmsim` that then pass.
func TestTestCommand(t *testing.T) {
	type file struct{ path, content string }
	cases := []struct {
		name    string
		files   []file
		args    []string // DIR/ is replaced by the test's directory
		code    int
		stdout  []string // in this order
		absent  []string
		closing string
		after   []file // files that must exist afterwards, with this prefix
	}{
		{name: "pass", files: []file{{"a.sh", echoScript}, {"a.txt", kernelGolden}},
			args: []string{"DIR/a.sh"}, code: 0, stdout: []string{"ok   DIR/a.sh\n"}, closing: "1 passed, 0 failed"},
		{name: "directory", files: []file{{"s/b.sh", echoScript}, {"s/b.txt", kernelGolden}, {"s/a.sh", echoScript},
			{"s/a.txt", kernelGolden}, {"s/notes.md", "x"}, {"s/sub/c.sh", "false\n"}},
			args: []string{"DIR/s"}, code: 0, stdout: []string{"ok   DIR/s/a.sh\n", "ok   DIR/s/b.sh\n"},
			absent: []string{"c.sh"}, closing: "2 passed, 0 failed"},
		{name: "fail with a diff", files: []file{{"a.sh", echoScript}, {"a.txt", wrongGolden}},
			args: []string{"DIR/a.sh"}, code: 1,
			stdout: []string{"FAIL DIR/a.sh\n", "--- DIR/a.txt (Linux 6.1.0-57-amd64)\n+++ dmsim\n",
				"@@ -1,4 +1,4 @@\n # Say hi.\n $ echo hi\n-| bye\n+| hi\n [exit 0]\n"},
			closing: "0 passed, 1 failed"},
		{name: "missing golden", files: []file{{"a.sh", echoScript}, {"b.sh", echoScript}, {"b.txt", kernelGolden}},
			args: []string{"DIR/a.sh", "DIR/b.sh"}, code: 1,
			stdout:  []string{"FAIL DIR/a.sh: no golden DIR/a.txt (record one with the recorder, or accept dmsim's with --update)\n", "ok   DIR/b.sh\n"},
			closing: "1 passed, 1 failed"},
		{name: "goldens dir", files: []file{{"s/a.sh", echoScript}, {"g/a.txt", kernelGolden}, {"s/a.txt", wrongGolden}},
			args: []string{"--goldens", "DIR/g", "DIR/s"}, code: 0, stdout: []string{"ok   DIR/s/a.sh\n"}, closing: "1 passed, 0 failed"},
		{name: "goldens dir missing", files: []file{{"s/a.sh", echoScript}, {"s/a.txt", kernelGolden}},
			args: []string{"DIR/s", "--goldens=DIR/g"}, code: 1, stdout: []string{"FAIL DIR/s/a.sh: no golden DIR/g/a.txt"},
			closing: "0 passed, 1 failed"},
		{name: "update", files: []file{{"a.sh", echoScript}, {"b.sh", echoScript}, {"b.txt", wrongGolden},
			{"c.sh", echoScript}, {"c.txt", kernelGolden}, {"m.sh", metaScript}, {"m.data.xml", "stale"}},
			args: []string{"--update", "DIR"}, code: 0,
			stdout:  []string{"updated DIR/a.txt\n", "updated DIR/b.txt\n", "ok   DIR/c.sh\n", "updated DIR/m.txt\n"},
			closing: "4 passed, 0 failed",
			after: []file{{"a.txt", "# env: dmsim "}, {"b.txt", "# env: dmsim "}, {"c.txt", kernelGolden},
				{"m.txt", "# env: dmsim "}, {"m.meta.xml", "# thin_dump exit 1\n"}}},
		{name: "update into goldens dir", files: []file{{"s/a.sh", echoScript}},
			args: []string{"--update", "--goldens", "DIR/g", "DIR/s/a.sh"}, code: 0,
			stdout: []string{"updated DIR/g/a.txt\n"}, closing: "1 passed, 0 failed", after: []file{{"g/a.txt", "# env: dmsim "}}},
		{name: "jobs keep the order", files: []file{{"a.sh", echoScript}, {"a.txt", kernelGolden}, {"b.sh", metaScript},
			{"c.sh", "sleep 1\necho hi\n"}, {"d.sh", echoScript}, {"d.txt", wrongGolden}, {"e.sh", echoScript}, {"e.txt", kernelGolden}},
			args: []string{"--jobs", "3", "DIR/e.sh", "DIR"}, code: 1,
			stdout: []string{"ok   DIR/e.sh\n", "ok   DIR/a.sh\n", "FAIL DIR/b.sh: no golden", "FAIL DIR/c.sh: no golden",
				"FAIL DIR/d.sh\n--- DIR/d.txt", "+| hi\n", "ok   DIR/e.sh\n"},
			closing: "3 passed, 3 failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(dir, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var args []string
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			var out, errb bytes.Buffer
			code := run(append([]string{"test"}, args...), strings.NewReader(""), &out, &errb)
			got := strings.ReplaceAll(out.String(), dir, "DIR")
			if code != c.code || errb.Len() != 0 {
				t.Errorf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
			rest := got
			for _, w := range c.stdout {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stdout lacks %q (in this order):\n%s", w, got)
					break
				}
				rest = rest[i+len(w):]
			}
			for _, a := range c.absent {
				if strings.Contains(got, a) {
					t.Errorf("stdout has %q:\n%s", a, got)
				}
			}
			if !closingLine.MatchString(got) || !strings.HasSuffix(got, "\n"+c.closing+"\n") {
				t.Errorf("stdout does not end in %q:\n%s", c.closing, got)
			}
			for _, f := range c.after {
				b, err := os.ReadFile(filepath.Join(dir, f.path))
				if err != nil || !strings.HasPrefix(string(b), f.content) {
					t.Errorf("%s: %q, %v; want it to start with %q", f.path, b, err, f.content)
				}
			}
			if c.name == "update" {
				if _, err := os.Stat(filepath.Join(dir, "m.data.xml")); err == nil {
					t.Errorf("the stale m.data.xml is still there")
				}
				// What --update wrote passes, and --jobs 1 prints what --jobs 4 does.
				var outs []string
				for _, jobs := range []string{"1", "4"} {
					var out2, err2 bytes.Buffer
					if code := run([]string{"test", "--jobs", jobs, dir}, strings.NewReader(""), &out2, &err2); code != 0 {
						t.Errorf("after --update, --jobs %s: exit %d:\n%s%s", jobs, code, out2.String(), err2.String())
					}
					outs = append(outs, out2.String())
				}
				if outs[0] != outs[1] || !strings.HasSuffix(outs[0], "\n4 passed, 0 failed\n") {
					t.Errorf("after --update: --jobs 1 printed\n%s--jobs 4 printed\n%s", outs[0], outs[1])
				}
			}
		})
	}
}

// Usage errors: a message, the synopsis, exit 2, nothing on stdout.
func TestTestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"test"}, "dmsim test: no PATH\n"},
		{[]string{"test", "--jobs", "0", "a.sh"}, "dmsim test: --jobs 0: want at least 1\n"},
		{[]string{"test", "--jobs", "x", "a.sh"}, `dmsim test: invalid value "x" for flag -jobs`},
		{[]string{"test", "--frob", "a.sh"}, "dmsim test: flag provided but not defined: -frob\n"},
		{[]string{"test", filepath.Join(dir, "none.sh")}, "dmsim test: stat " + filepath.Join(dir, "none.sh") + ": no such file or directory\n"},
		{[]string{"test", dir}, "dmsim test: " + dir + ": no *.sh scripts\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if st := run(c.args, strings.NewReader(""), &out, &errb); st != 2 {
			t.Errorf("%q: exit %d, want 2", c.args, st)
		}
		if !strings.HasPrefix(errb.String(), c.msg) || !strings.Contains(errb.String(), "usage: dmsim test") {
			t.Errorf("%q: stderr %q, want %q and the usage", c.args, errb.String(), c.msg)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", c.args, out.String())
		}
	}
}
