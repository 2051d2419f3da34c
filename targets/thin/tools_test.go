package thin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// thinTool finds a thin-provisioning-tools binary: missing, the test is
// skipped, except on CI (CI=true), which must install the package.
func thinTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: CI must install thin-provisioning-tools", name)
	}
	t.Skipf("%s not installed", name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// runThinTool runs a real tool on an image of disk d.
func runThinTool(t testing.TB, name string, d *memDisk, args ...string) (string, string, int) {
	t.Helper()
	tool := thinTool(t, name)
	img := filepath.Join(t.TempDir(), "meta.img")
	if err := os.WriteFile(img, d.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append(args, img)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
