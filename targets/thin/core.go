package thin

import (
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
)

// coreOps are the device-mapper core services (dm_get_device,
// dm_table_event, dm_internal_suspend, ...) the targets use. The default
// implementation calls the dmsim core; tests substitute a fake so the
// targets can be exercised without the ioctl layer.
type coreOps interface {
	// getDevice is dm_get_device(ti, path, mode); putDevice dm_put_device.
	getDevice(ti *dmsim.DMTarget, path string, mode dmsim.FMode) (*dmsim.DMDev, error)
	putDevice(ti *dmsim.DMTarget, d *dmsim.DMDev)
	// kernel is the kernel instance the target's table belongs to.
	kernel(ti *dmsim.DMTarget) *dmsim.Kernel
	// md is dm_table_get_md(ti->table); tableMode dm_table_get_mode().
	md(ti *dmsim.DMTarget) *dmsim.MappedDevice
	tableMode(ti *dmsim.DMTarget) dmsim.FMode
	// deviceName is dm_device_name(md): "253:0".
	deviceName(md *dmsim.MappedDevice) string
	// tableEvent is dm_table_event(ti->table).
	tableEvent(ti *dmsim.DMTarget)
	// suspended is dm_suspended(ti): the target's device is suspended.
	suspended(ti *dmsim.DMTarget) bool
	// noflushSuspending is dm_noflush_suspending(ti).
	noflushSuspending(ti *dmsim.DMTarget) bool
	// internalSuspendNoflush / internalResume are dm_internal_suspend_noflush
	// and dm_internal_resume on a thin's mapped device.
	internalSuspendNoflush(md *dmsim.MappedDevice)
	internalResume(md *dmsim.MappedDevice)
	// getMD is dm_get_md(bdev->bd_dev): the mapped device behind a block
	// device, nil if it is not a device-mapper device.
	getMD(k *dmsim.Kernel, bdev dmsim.BlockDevice) *dmsim.MappedDevice
	// param reads a module parameter of dm_thin_pool.
	param(k *dmsim.Kernel, name string) string
}

var core coreOps = dmCore{}

// errRequeue completes a bio with BLK_STS_DM_REQUEUE: the core holds it
// and resubmits it after the resume.
var errRequeue error = dmsim.ErrRequeue

// dmCore is coreOps on the dmsim core.
type dmCore struct{}

func (dmCore) getDevice(ti *dmsim.DMTarget, path string, mode dmsim.FMode) (*dmsim.DMDev, error) {
	return ti.GetDevice(path, mode)
}

func (dmCore) putDevice(ti *dmsim.DMTarget, d *dmsim.DMDev)  { ti.PutDevice(d) }
func (dmCore) kernel(ti *dmsim.DMTarget) *dmsim.Kernel       { return ti.Kernel() }
func (dmCore) md(ti *dmsim.DMTarget) *dmsim.MappedDevice     { return ti.MD() }
func (dmCore) tableMode(ti *dmsim.DMTarget) dmsim.FMode      { return ti.Table.Mode() }
func (dmCore) deviceName(md *dmsim.MappedDevice) string      { return md.DeviceName() }
func (dmCore) tableEvent(ti *dmsim.DMTarget)                 { ti.Event() }
func (dmCore) suspended(ti *dmsim.DMTarget) bool             { return ti.Suspended() }
func (dmCore) noflushSuspending(ti *dmsim.DMTarget) bool     { return ti.NoflushSuspending() }
func (dmCore) internalSuspendNoflush(md *dmsim.MappedDevice) { md.InternalSuspendNoflush() }
func (dmCore) internalResume(md *dmsim.MappedDevice)         { md.InternalResume() }
func (dmCore) param(k *dmsim.Kernel, name string) string     { return k.ModuleParam(moduleName, name) }
func (dmCore) getMD(k *dmsim.Kernel, bdev dmsim.BlockDevice) *dmsim.MappedDevice {
	return k.GetMD(bdev.Dev())
}

// noSpaceTimeout reads no_space_timeout (seconds; 0 queues forever), as
// set_pool_mode() does each time the pool runs out of data space.
func noSpaceTimeout(k *dmsim.Kernel) time.Duration {
	s := strings.TrimSpace(core.param(k, "no_space_timeout"))
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
