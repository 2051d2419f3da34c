package thin

import (
	"context"
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

// flushDevice is blkdev_issue_flush(): an empty REQ_PREFLUSH bio, waited
// for (the block layer completes it at once on a device without a volatile
// write cache).
func flushDevice(k *dmsim.Kernel, bdev dmsim.BlockDevice) error {
	bio := dmsim.NewBio(dmsim.OpFlush, bdev, 0, nil, nil)
	bio.Flags = dmsim.ReqPreflush
	return dmsim.SubmitWait(context.Background(), k.Clock, bio)
}
