// Package realtools finds and runs the real thin-provisioning-tools 0.9.0
// binaries that tests cross-check dmsim against. It is for tests only.
//
// Missing tools skip the calling test, except on CI (CI=true), which must
// install thin-provisioning-tools: there the test fails instead.
package realtools

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Version is the thin-provisioning-tools release dmsim reproduces.
const Version = "0.9.0"

// Install is the hint printed when a tool is missing.
const Install = "apt-get install -y thin-provisioning-tools"

// Missing skips t (off CI) or fails it (CI=true) because of what.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must install thin-provisioning-tools", what)
	}
	t.Skipf("%s (%s)", what, Install)
}

type found struct {
	path, problem string
}

var cache sync.Map // name -> found

// locate finds name on PATH, then in /usr/sbin and /sbin (often off a
// user's PATH), and checks that `name -V` prints Version.
func locate(name string) found {
	if f, ok := cache.Load(name); ok {
		return f.(found)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		p = ""
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if c := filepath.Join(dir, name); isFile(c) {
				p = c
				break
			}
		}
	}
	var f found
	switch out, err := exec.Command(p, "-V").Output(); {
	case p == "":
		f.problem = name + " not installed"
	case err != nil:
		f.problem = name + " -V: " + err.Error()
	case strings.TrimSpace(string(out)) != Version:
		f.problem = p + " is version " + strings.TrimSpace(string(out)) + ", want " + Version
	default:
		f.path = p
	}
	cache.Store(name, f)
	return f
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Lookup returns the path of the real tool name, or why it cannot be used
// (not installed, or not Version). It never skips or fails a test.
func Lookup(name string) (string, error) {
	f := locate(name)
	if f.problem != "" {
		return "", errors.New(f.problem)
	}
	return f.path, nil
}

// Path returns the path of the real tool name, or skips/fails t (see Missing).
func Path(t testing.TB, name string) string {
	t.Helper()
	f := locate(name)
	if f.problem != "" {
		Missing(t, f.problem)
	}
	return f.path
}

// Run runs the real tool name with args and returns its stdout, stderr and
// exit code. Failing to start it fails t.
func Run(t testing.TB, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(Path(t, name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), errb.String(), code
}
