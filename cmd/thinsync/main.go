// Command thinsync is the real-machine build of package thinsync: verified,
// resumable send/receive of thin volumes over dmsetup, thin_dump and
// thin_delta. Build it static (CGO_ENABLED=0 go build ./cmd/thinsync); the
// recorder puts it into the guest image. See docs/thinsync.md.
package main

import (
	"os"

	"github.com/dmsim/dmsim/thinsync"
)

func main() {
	s := newHostSys()
	st := thinsync.Main(s, os.Args[1:])
	if st == thinsync.ExitKilled {
		s.die()
	}
	os.Exit(st)
}
