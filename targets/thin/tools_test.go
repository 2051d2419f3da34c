package thin

import (
	"testing"

	"github.com/dmsim/dmsim/internal/realtools"
)

// runThinTool runs a real thin-provisioning-tools binary on the image of
// virtio disk d, as it is now. A missing tool skips the test, except on CI
// (see realtools).
func runThinTool(t testing.TB, name string, d *dev, args ...string) (string, string, int) {
	t.Helper()
	return realtools.Run(t, name, append(args, d.image())...)
}
