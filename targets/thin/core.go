package thin

import (
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
)

// noSpaceTimeout reads no_space_timeout (seconds; 0 queues forever), as
// set_pool_mode() does each time the pool runs out of data space.
func noSpaceTimeout(k *dmsim.Kernel) time.Duration {
	s := strings.TrimSpace(k.ModuleParam(moduleName, "no_space_timeout"))
	if s == "" {
		return defaultNoSpaceTimeout * time.Second
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return defaultNoSpaceTimeout * time.Second
	}
	return time.Duration(n) * time.Second
}

// flushDevice is blkdev_issue_flush(): make the device's volatile writes
// durable, for devices that model a write cache.
func flushDevice(bdev dmsim.BlockDevice) error {
	if f, ok := bdev.(dmsim.Flusher); ok {
		return f.Flush()
	}
	return nil
}
