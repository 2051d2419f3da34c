package thintools

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCase is one line of testdata/cases.txt.
type goldenCase struct {
	name, flags, cmd, post string
}

func loadCases(t testing.TB) []goldenCase {
	data, err := os.ReadFile("testdata/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	var cs []goldenCase
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, "|", 4)
		if len(f) < 3 {
			t.Fatalf("bad case line %q", line)
		}
		c := goldenCase{name: f[0], flags: f[1], cmd: f[2]}
		if len(f) == 4 {
			c.post = f[3]
		}
		cs = append(cs, c)
	}
	return cs
}

// dirFS resolves relative paths against a directory (a test's cwd).
type dirFS struct{ dir string }

func (d dirFS) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.dir, p)
}
func (d dirFS) OpenDevice(p string, w, x bool) (Device, error) {
	return OSFS{}.OpenDevice(d.abs(p), w, x)
}
func (d dirFS) Open(p string) (io.ReadCloser, error)    { return OSFS{}.Open(d.abs(p)) }
func (d dirFS) Create(p string) (io.WriteCloser, error) { return OSFS{}.Create(d.abs(p)) }

// setupDir fills dir with the test images and XML inputs.
func setupDir(t testing.TB, dir string) {
	imgs, _ := filepath.Glob("testdata/images/*.img.gz")
	for _, gz := range imgs {
		f, err := os.Open(gz)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, strings.TrimSuffix(filepath.Base(gz), ".gz")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, zr); err != nil {
			t.Fatal(err)
		}
		out.Close()
		f.Close()
	}
	xmls, _ := filepath.Glob("testdata/xml/*.xml")
	for _, x := range xmls {
		b, err := os.ReadFile(x)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(x)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// splitWords splits a command into words, honouring single and double
// quotes (enough for cases.txt).
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			q, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// runLine runs a case's command line in dir: thin_* commands with dmsim's
// tools (or, with real, the real ones from PATH), anything else with bash.
// It returns stdout, stderr and the last command's exit status.
func runLine(t testing.TB, dir, line string, real bool, merged bool) (string, string, int) {
	var stdout, stderr bytes.Buffer
	errw := io.Writer(&stderr)
	if merged {
		errw = &stdout
	}
	rc := 0
	for _, seg := range strings.Split(line, ";") {
		seg = strings.TrimSpace(seg)
		words := splitWords(seg)
		if len(words) == 0 {
			continue
		}
		if strings.HasPrefix(words[0], "thin_") && !real {
			rc = Commands[words[0]](context.Background(), words, &Env{
				Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: errw, FS: dirFS{dir},
			})
			continue
		}
		cmd := exec.Command("bash", "-c", seg)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &stdout, errw
		rc = 0
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				rc = ee.ExitCode()
			} else {
				t.Fatalf("%s: %v", seg, err)
			}
		}
	}
	return stdout.String(), stderr.String(), rc
}

func readGolden(t testing.TB, name, ext string) string {
	b, err := os.ReadFile(filepath.Join("testdata/golden", name+"."+ext))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGolden runs every case of testdata/cases.txt with dmsim's tools and
// compares stdout, stderr, the exit code and, for cases that write, the
// thin_dump of the result with what the real 0.9.0 tools produced.
func TestGolden(t *testing.T) {
	shared := t.TempDir()
	setupDir(t, shared)
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := shared
			if strings.Contains(c.flags, "w") {
				dir = t.TempDir()
				setupDir(t, dir)
			}
			out, errs, rc := runLine(t, dir, c.cmd, false, false)
			compare(t, "stdout", out, readGolden(t, c.name, "out"))
			compare(t, "stderr", errs, readGolden(t, c.name, "err"))
			if want := strings.TrimSpace(readGolden(t, c.name, "rc")); fmt.Sprint(rc) != want {
				t.Errorf("%s: exit code %d, want %s", c.cmd, rc, want)
			}
			if c.post != "" {
				post, _, _ := runLine(t, dir, c.post, false, true)
				compare(t, "post", post, readGolden(t, c.name, "post"))
			}
		})
	}
}

func compare(t testing.TB, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w || i >= len(gl) || i >= len(wl) {
			t.Errorf("%s differs at line %d:\n got: %q\nwant: %q\n(got %d bytes, want %d)", what, i+1, g, w, len(got), len(want))
			return
		}
	}
}
