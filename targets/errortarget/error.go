// Package errortarget is the error target of Linux 6.1 (drivers/md/dm-target.c,
// io_err, version 1.5.0), built into dm_mod: every bio fails with EIO. It
// takes any arguments and is the wildcard that may replace an immutable
// target (dmsetup wipe_table, remove --force).
package errortarget

import "github.com/dmsim/dmsim/dmsim"

// Type is the error target type.
var Type = &dmsim.TargetType{
	Name:     "error",
	Version:  [3]uint32{1, 5, 0},
	Features: dmsim.Wildcard,
	Ctr:      ctr,
}

func init() {
	// dm_target_init() registers it first of the built-in targets.
	dmsim.AddToModule("dm_mod", 0, Type)
}

type ioErr struct{}

// ctr is io_err_ctr(): arguments are ignored; discards are taken (so they
// fail with EIO rather than EOPNOTSUPP, were the device to advertise them:
// in 6.1 it does not, having no devices and no discards_supported).
func ctr(ti *dmsim.DMTarget, _ []string) (dmsim.Target, error) {
	ti.NumDiscardBios = 1
	return ioErr{}, nil
}

// Map is io_err_map(): DM_MAPIO_KILL.
func (ioErr) Map(*dmsim.Bio) dmsim.MapResult { return dmsim.MapKill }
