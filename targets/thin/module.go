// Package thin implements the thin-pool and thin device-mapper targets of
// Linux 6.1 (drivers/md/dm-thin.c, target version 1.22.0), as the kernel
// module dm_thin_pool.
//
// # Lock order
//
// Outermost first; a lock may be taken while holding only locks above it.
//
//  1. poolTable.mu (dm_thin_pool_table.mutex): held across pool_ctr,
//     pool_dtr, thin_ctr and thin_dtr, around the pool lookup and the
//     metadata open and close.
//  2. pool.modeMu: serialises set_pool_mode(); the metadata is switched to
//     read-only or read-write under it.
//  3. thinmeta's PoolMetadata lock (pmd->root_lock), taken inside every
//     dm_pool_* call; the block manager's lock nests inside it.
//  4. pool.mu (pool->lock): the deferred lists, the prepared mappings, the
//     active thins, mode bookkeeping.
//  5. thinC.mu (tc->lock): a thin's deferred and held bios. pool.mu is not
//     taken under it; code that walks the thins copies the list under
//     pool.mu first (pool.thins()).
//  6. prison.mu (the bio prison's cells), deferredSet.mu, and a bio's
//     errMu: leaves, nothing is taken under them.
//
// None of these is a sim.Mutex: all are sync.Mutex, held only briefly by
// an actor that keeps its running token. The waits in virtual time are the
// metadata device's I/O (bios waited for with dmsim.SubmitWait under 1 and
// 3, which give the token up while the lock is held) and the workqueue;
// no lock below 3 is held across a wait.
package thin

import (
	"strconv"

	"github.com/dmsim/dmsim/dmsim"
)

const (
	moduleName = "dm_thin_pool"

	// NO_SPACE_TIMEOUT_SECS
	defaultNoSpaceTimeout = 60

	// The other thin constants (MAX_DEV_ID, DATA_DEV_BLOCK_SIZE_*,
	// THIN_METADATA_*) are thinmeta's.

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
