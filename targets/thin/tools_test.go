package thin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/internal/realtools"
)

// runThinTool runs a real thin-provisioning-tools binary on an image of
// disk d. A missing tool skips the test, except on CI (see realtools).
func runThinTool(t testing.TB, name string, d *memDisk, args ...string) (string, string, int) {
	t.Helper()
	realtools.Path(t, name) // skip before doing any work
	img := filepath.Join(t.TempDir(), "meta.img")
	if err := os.WriteFile(img, d.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return realtools.Run(t, name, append(args, img)...)
}
