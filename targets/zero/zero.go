// Package zero is the zero target of Linux 6.1 (drivers/md/dm-zero.c,
// version 1.1.0), module dm_zero: reads return zeros, writes are dropped.
// It loads on first use (request_module("dm-zero")) or with modprobe.
package zero

import (
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// Type is the zero target type.
var Type = &dmsim.TargetType{
	Name:    "zero",
	Version: [3]uint32{1, 1, 0},
	Ctr:     ctr,
}

func init() {
	dmsim.RegisterModule(&dmsim.Module{
		Name:    "dm_zero",
		Aliases: []string{"dm-zero"},
		Targets: []*dmsim.TargetType{Type},
	})
}

type zeroC struct{}

// ctr is zero_ctr(): no arguments. num_discard_bios is set, but with no
// devices and no discards_supported the device does not advertise discard
// in 6.1, so discards fail with EOPNOTSUPP before reaching the target.
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	if len(argv) != 0 {
		ti.Error = "No arguments required"
		return nil, linuxerr.EINVAL
	}
	ti.NumDiscardBios = 1
	return zeroC{}, nil
}

// Map is zero_map(): zero-fill reads, drop writes, kill anything else.
func (zeroC) Map(bio *dmsim.Bio) dmsim.MapResult {
	switch bio.Op {
	case dmsim.OpRead:
		clear(bio.Data)
	case dmsim.OpWrite:
	default:
		return dmsim.MapKill
	}
	bio.Endio(nil)
	return dmsim.MapSubmitted
}
