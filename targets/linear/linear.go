// Package linear is the linear target of Linux 6.1 (drivers/md/dm-linear.c,
// version 1.4.0), built into dm_mod: `<start> <len> linear <dev> <offset>`
// maps the target's sectors onto dev from offset on.
package linear

import (
	"fmt"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// Type is the linear target type.
var Type = &dmsim.TargetType{
	Name:    "linear",
	Version: [3]uint32{1, 4, 0},
	Ctr:     ctr,
}

func init() {
	// dm_init(): dm_target_init (error), dm_linear_init, dm_stripe_init.
	dmsim.AddToModule("dm_mod", 1, Type)
}

type linearC struct {
	ti    *dmsim.DMTarget
	dev   *dmsim.DMDev
	start uint64
}

// ctr is linear_ctr(): exactly two arguments; the offset is checked
// before the device is looked up.
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	if len(argv) != 2 {
		ti.Error = "Invalid argument count"
		return nil, linuxerr.EINVAL
	}
	start, ok := table.ScanULL(argv[1])
	if !ok {
		ti.Error = "Invalid device sector"
		return nil, linuxerr.EINVAL
	}
	dev, err := ti.GetDevice(argv[0], ti.Table.Mode())
	if err != nil {
		ti.Error = "Device lookup failed"
		return nil, err
	}
	ti.NumFlushBios = 1
	ti.NumDiscardBios = 1
	return &linearC{ti: ti, dev: dev, start: start}, nil
}

// Map is linear_map(): point the bio at the device, shifting its sector
// (a flush, which has no sectors, keeps sector 0).
func (lc *linearC) Map(bio *dmsim.Bio) dmsim.MapResult {
	bio.Dev = lc.dev.Bdev
	if bio.Size() != 0 {
		bio.Sector = lc.start + (bio.Sector - lc.ti.Begin)
	}
	return dmsim.MapRemapped
}

func (lc *linearC) Dtr() { lc.ti.PutDevice(lc.dev) }

// Status is linear_status(): nothing for INFO; "<dev M:m> <offset>" for
// TABLE.
func (lc *linearC) Status(typ dmsim.StatusType, _ dmsim.StatusFlags) string {
	if typ == dmsim.StatusTable {
		return fmt.Sprintf("%s %d", lc.dev.Name, lc.start)
	}
	return ""
}

// IterateDevices is linear_iterate_devices().
func (lc *linearC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	return fn(lc.dev, lc.start, lc.ti.Len)
}
