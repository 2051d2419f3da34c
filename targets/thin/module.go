// Package thin implements the thin-pool and thin device-mapper targets of
// Linux 6.1 (drivers/md/dm-thin.c, target version 1.22.0), as the kernel
// module dm_thin_pool.
package thin

import (
	"strconv"

	"github.com/dmsim/dmsim/dmsim"
)

const (
	moduleName = "dm_thin_pool"

	// NO_SPACE_TIMEOUT_SECS
	defaultNoSpaceTimeout = 60

	// DATA_DEV_BLOCK_SIZE_MIN_SECTORS / _MAX_SECTORS
	minBlockSize = 64 * 1024 >> 9
	maxBlockSize = 1024 * 1024 * 1024 >> 9

	// MAX_DEV_ID: device ids are 24 bits.
	maxDevID = 1<<24 - 1

	// THIN_METADATA_BLOCK_SIZE (sectors), THIN_METADATA_MAX_SECTORS,
	// THIN_METADATA_MAX_SECTORS_WARNING.
	metadataBlockSectors      = 8
	metadataMaxBlocks         = 255 * ((1 << 14) - 64) // DM_SM_METADATA_MAX_BLOCKS
	metadataMaxSectors        = metadataMaxBlocks * metadataBlockSectors
	metadataMaxSectorsWarning = 16 * (1024 * 1024 * 1024 >> 9)

	// thin_io_hints(): max_discard_sectors of a thin device (16 GiB).
	thinMaxDiscardSectors = 2048 * 1024 * 16
)

var (
	thinType = &dmsim.TargetType{
		Name:    "thin",
		Version: [3]uint32{1, 22, 0},
		Ctr:     thinCtr,
	}
	poolType = &dmsim.TargetType{
		Name:     "thin-pool",
		Version:  [3]uint32{1, 22, 0},
		Features: dmsim.Singleton | dmsim.AlwaysWriteable | dmsim.Immutable,
		Ctr:      poolCtr,
	}
)

func init() {
	// dm_thin_init(): thin is registered before thin-pool, so `dmsetup
	// targets` (newest first) lists thin-pool first.
	dmsim.RegisterModule(&dmsim.Module{
		Name:    moduleName,
		Aliases: []string{"dm-thin-pool", "dm-thin"},
		Targets: []*dmsim.TargetType{thinType, poolType},
		Params: []*dmsim.ModuleParam{
			{Name: "no_space_timeout", Default: strconv.Itoa(defaultNoSpaceTimeout), Parse: dmsim.ParamSetUint},
			// DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM(snapshot_copy_throttle)
			{Name: "snapshot_copy_throttle", Default: "100", Parse: dmsim.ParamSetUint},
		},
	})
}
