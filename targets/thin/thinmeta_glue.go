package thin

import (
	"github.com/dmsim/dmsim/dmsim"
)

// openThinmeta adapts the thinmeta package to Metadata. Until thinmeta
// exists it refuses, as a kernel whose metadata layer failed to open would.
func openThinmeta(log *dmsim.KernelLog, bdev dmsim.BlockDevice, dataBlockSize uint32, format bool) (Metadata, error) {
	return nil, dmsim.ENOSYS
}
