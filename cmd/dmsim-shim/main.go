// Command dmsim-shim is the multi-call program behind the dmsetup, thin_*,
// blockdev, blkdiscard and udevadm links that `dmsim shims DIR` installs:
// it forwards each command to the dmsim daemon (package frontend/shim).
// Build it static (CGO_ENABLED=0) so it runs in any mount namespace.
package main

import (
	"os"

	"github.com/dmsim/dmsim/frontend/shim"
)

func main() { os.Exit(shim.Main(os.Args)) }
