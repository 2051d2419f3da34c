// Package hostcaps tells tests whether the host gives them what the front
// end needs: root, /dev/fuse, loop devices and the tools that use them
// (losetup, mkfs.ext4). It is for tests only.
//
// A missing capability skips the calling test, except on CI (CI=true),
// whose machines have all of them: there the test fails instead.
package hostcaps

import (
	"os"
	"os/exec"
	"testing"
)

// missing skips t (off CI) or fails it (CI=true).
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, which CI must provide", what)
	}
	t.Skipf("skipped: %s", what)
}

// RequireFUSE needs root and /dev/fuse.
func RequireFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "not root (FUSE mounts need root)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, "no /dev/fuse")
	}
}

// RequireLoop needs RequireFUSE, loop devices and the named tools.
func RequireLoop(t testing.TB, tools ...string) {
	t.Helper()
	RequireFUSE(t)
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		missing(t, "no /dev/loop-control")
	}
	for _, tool := range append([]string{"losetup"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" not installed")
		}
	}
}

// RequireTools needs the named programs: paths, or names looked up on PATH.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" not installed")
		}
	}
}
