package dmsim

import (
	"sort"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// Table is a device-mapper table (struct dm_table).
type Table struct {
	// Set while the table is built (table_load, under the device's
	// typeLock), read-only once it is staged.
	md        *MappedDevice
	mode      FMode
	targets   []*DMTarget
	singleton bool
	immutable *TargetType

	devMu sync.Mutex
	devs  []*tableDev // dm_dev_internal list, most recently added first; guarded by devMu

	eventMu sync.Mutex
	eventFn func() // guarded by eventMu
}

// tableDev is struct dm_dev_internal: a device the table uses, with the
// number of dm_get_device() calls that hold it. Guarded by Table.devMu.
type tableDev struct {
	d     *DMDev
	count int
}

// MD returns the table's mapped device (dm_table_get_md).
func (t *Table) MD() *MappedDevice { return t.md }

// Mode is the table's open mode (dm_table_get_mode).
func (t *Table) Mode() FMode { return t.mode }

// Targets returns the table's targets in order.
func (t *Table) Targets() []*DMTarget { return t.targets }

// Kernel returns the kernel the table belongs to.
func (t *Table) Kernel() *Kernel { return t.md.k }

// Size is dm_table_get_size(): the end of the last target.
func (t *Table) Size() uint64 {
	if len(t.targets) == 0 {
		return 0
	}
	last := t.targets[len(t.targets)-1]
	return last.Begin + last.Len
}

// FindTarget is dm_table_find_target(): the target holding sector, or nil.
func (t *Table) FindTarget(sector uint64) *DMTarget {
	i := sort.Search(len(t.targets), func(i int) bool {
		ti := t.targets[i]
		return ti.Begin+ti.Len-1 >= sector
	})
	if i == len(t.targets) {
		return nil
	}
	ti := t.targets[i]
	if sector < ti.Begin || sector-ti.Begin >= ti.Len {
		return nil
	}
	return ti
}

// Event is dm_table_event(): for the live table, the device's event
// counter goes up and `dmsetup wait` waiters wake; for a table that is not
// (or no longer) live it does nothing.
func (t *Table) Event() {
	t.eventMu.Lock()
	fn := t.eventFn
	t.eventMu.Unlock()
	if fn != nil {
		fn()
	}
}

func (t *Table) setEventFn(fn func()) {
	t.eventMu.Lock()
	t.eventFn = fn
	t.eventMu.Unlock()
}

// Devices lists the devices the table holds, most recently added first
// (the order `dmsetup deps` prints).
func (t *Table) Devices() []*DMDev {
	t.devMu.Lock()
	defer t.devMu.Unlock()
	out := make([]*DMDev, len(t.devs))
	for i, dd := range t.devs {
		out[i] = dd.d
	}
	return out
}

// GetDevice is dm_get_device(): open the device named by path ("M:m" or a
// path) for the table. Each table holds a device once, with the union of
// the modes asked for; each mapped device opens a (device, mode) once for
// all its tables, which is what the device's open count shows. Errors:
// EOVERFLOW (M:m out of range), ENODEV (path resolves to nothing), ENXIO
// (no such device), EBUSY (held exclusively by a non-DM user). A table may
// name its own device (6.1 has no check): it then holds the device open.
func (t *Table) GetDevice(path string, mode FMode) (*DMDev, error) {
	k := t.md.k
	dev, err := k.devtFromPath(path)
	if err != nil {
		return nil, err
	}
	t.devMu.Lock()
	defer t.devMu.Unlock()
	for _, dd := range t.devs {
		if dd.d.Bdev.Dev() != dev {
			continue
		}
		if dd.d.Mode != dd.d.Mode|mode {
			// upgrade_mode()
			nd, err := t.md.getTableDevice(dev, dd.d.Mode|mode)
			if err != nil {
				return nil, err
			}
			old := dd.d
			dd.d = nd
			t.md.putTableDevice(old)
		}
		dd.count++
		return dd.d, nil
	}
	d, err := t.md.getTableDevice(dev, mode)
	if err != nil {
		return nil, err
	}
	t.devs = append([]*tableDev{{d: d, count: 1}}, t.devs...)
	return d, nil
}

// PutDevice is dm_put_device().
func (t *Table) PutDevice(d *DMDev) {
	t.devMu.Lock()
	defer t.devMu.Unlock()
	for i, dd := range t.devs {
		if dd.d == d || (d != nil && dd.d.Bdev.Dev() == d.Bdev.Dev()) {
			dd.count--
			if dd.count == 0 {
				t.md.putTableDevice(dd.d)
				t.devs = append(t.devs[:i:i], t.devs[i+1:]...)
			}
			return
		}
	}
	name := "?"
	if d != nil {
		name = d.Name
	}
	t.md.k.Log.DMErr("table", "%s: device %s not in table devices list", t.md.DeviceName(), name)
}

// getTableDevice is dm_get_table_device().
func (md *MappedDevice) getTableDevice(dev DevT, mode FMode) (*DMDev, error) {
	md.mu.Lock()
	for _, td := range md.tableDevs {
		if td.d.Bdev.Dev() == dev && td.d.Mode == mode {
			td.count++
			md.mu.Unlock()
			return td.d, nil
		}
	}
	md.mu.Unlock()
	gd, err := md.k.blkdevGet(dev, dmClaim)
	if err != nil {
		return nil, err
	}
	td := &mdTableDev{d: &DMDev{Bdev: gd.bdev, Mode: mode, Name: dev.String()}, gd: gd, count: 1}
	md.mu.Lock()
	md.tableDevs = append(md.tableDevs, td)
	md.mu.Unlock()
	return td.d, nil
}

// putTableDevice is dm_put_table_device().
func (md *MappedDevice) putTableDevice(d *DMDev) {
	md.mu.Lock()
	var td *mdTableDev
	for i, x := range md.tableDevs {
		if x.d == d {
			x.count--
			if x.count == 0 {
				td = x
				md.tableDevs = append(md.tableDevs[:i:i], md.tableDevs[i+1:]...)
			}
			break
		}
	}
	md.mu.Unlock()
	if td != nil {
		md.k.blkdevPut(td.gd, dmClaim)
	}
}

// newTable is dm_table_create().
func newTable(md *MappedDevice, mode FMode) *Table {
	return &Table{md: md, mode: mode}
}

// addTarget is dm_table_add_target(): checks in the kernel's order, then
// the constructor. Failures are logged as the kernel logs them.
func (t *Table) addTarget(typeName string, start, length uint64, params string) error {
	k := t.md.k
	name := t.md.DeviceName()
	if t.singleton {
		k.Log.DMErr("table", "%s: target type %s must appear alone in table", name, t.targets[0].Type.Name)
		return linuxerr.EINVAL
	}
	if length == 0 {
		k.Log.DMErr("table", "%s: zero-length target", name)
		return linuxerr.EINVAL
	}
	if start+length < start || start+length > (1<<63-1)>>9 {
		k.Log.DMErr("table", "%s: too large device", name)
		return linuxerr.EINVAL
	}
	tt := k.getTargetType(typeName)
	if tt == nil {
		k.Log.DMErr("table", "%s: %s: unknown target type", name, typeName)
		return linuxerr.EINVAL
	}
	ti := &DMTarget{Table: t, Type: tt, Begin: start, Len: length}
	var err error = linuxerr.EINVAL
	bad := func() error {
		e := linuxerr.ToErrno(err)
		k.Log.DMErr("table", "%s: %s: %s (-%s)", name, typeName, ti.Error, e.Name())
		return err
	}
	if tt.Features&Singleton != 0 {
		if len(t.targets) > 0 {
			ti.Error = "singleton target type must appear alone in table"
			return bad()
		}
		t.singleton = true
	}
	if tt.Features&AlwaysWriteable != 0 && t.mode&FModeWrite == 0 {
		ti.Error = "target type may not be included in a read-only table"
		return bad()
	}
	if t.immutable != nil {
		if t.immutable != tt {
			ti.Error = "immutable target type cannot be mixed with other target types"
			return bad()
		}
	} else if tt.Features&Immutable != 0 {
		if len(t.targets) > 0 {
			ti.Error = "immutable target type cannot be mixed with other target types"
			return bad()
		}
		t.immutable = tt
	}
	ti.Error = "Unknown error"
	// adjoin()
	if len(t.targets) == 0 {
		if start != 0 {
			ti.Error = "Gap in table"
			return bad()
		}
	} else if prev := t.targets[len(t.targets)-1]; start != prev.Begin+prev.Len {
		ti.Error = "Gap in table"
		return bad()
	}
	if i := strings.IndexByte(params, 0); i >= 0 {
		params = params[:i]
	}
	argv := table.SplitArgs(params)
	impl, cerr := tt.Ctr(ti, argv)
	if cerr != nil {
		err = cerr
		return bad()
	}
	if impl == nil {
		err = linuxerr.EINVAL
		return bad()
	}
	ti.Impl = impl
	ti.endIO, _ = impl.(EndIOer)
	t.targets = append(t.targets, ti)
	if ti.NumDiscardBios == 0 && ti.DiscardsSupported {
		k.Log.DMWarn("table", "%s: %s: ignoring discards_supported because num_discard_bios is zero.", name, typeName)
	}
	return nil
}

// hasWildcard is dm_table_get_wildcard_target() != nil.
func (t *Table) hasWildcard() bool {
	for _, ti := range t.targets {
		if ti.Type.Features&Wildcard != 0 {
			return true
		}
	}
	return false
}

// destroy is dm_table_destroy(): destructors, then any device a
// destructor did not put back.
func (t *Table) destroy() {
	if t == nil {
		return
	}
	t.setEventFn(nil)
	for _, ti := range t.targets {
		if d, ok := ti.Impl.(Dtr); ok {
			d.Dtr()
		}
	}
	t.devMu.Lock()
	devs := t.devs
	t.devs = nil
	t.devMu.Unlock()
	for _, dd := range devs {
		t.md.k.Log.DMWarn("table", "%s: dm_table_destroy: dm_put_device call missing for %s", t.md.DeviceName(), dd.d.Name)
		t.md.putTableDevice(dd.d)
	}
}

// iterate calls fn for every device of every target that reports them.
func (t *Table) anyDevice(fn func(d *DMDev) bool) bool {
	found := false
	for _, ti := range t.targets {
		it, ok := ti.Impl.(DeviceIterator)
		if !ok {
			continue
		}
		_ = it.IterateDevices(func(d *DMDev, _, _ uint64) error {
			if fn(d) {
				found = true
				return errStopIteration
			}
			return nil
		})
		if found {
			return true
		}
	}
	return false
}

type stopIteration struct{}

func (stopIteration) Error() string { return "stop" }

var errStopIteration error = stopIteration{}

// hasNoDataDevices is dm_table_has_no_data_devices(): every target reports
// its devices and none has any.
func (t *Table) hasNoDataDevices() bool {
	for _, ti := range t.targets {
		it, ok := ti.Impl.(DeviceIterator)
		if !ok {
			return false
		}
		n := 0
		_ = it.IterateDevices(func(*DMDev, uint64, uint64) error { n++; return nil })
		if n > 0 {
			return false
		}
	}
	return true
}

// supportsDiscards is dm_table_supports_discards().
func (t *Table) supportsDiscards() bool {
	for _, ti := range t.targets {
		if ti.NumDiscardBios == 0 {
			return false
		}
		if ti.DiscardsSupported {
			continue
		}
		it, ok := ti.Impl.(DeviceIterator)
		if !ok {
			return false
		}
		incapable := false
		_ = it.IterateDevices(func(d *DMDev, _, _ uint64) error {
			if !d.Bdev.Limits().DiscardSupported() {
				incapable = true
				return errStopIteration
			}
			return nil
		})
		if incapable {
			return false
		}
	}
	return true
}

// supportsFlush is dm_table_supports_flush(): some target that takes
// flushes says it needs them or has a device with the queue flag.
func (t *Table) supportsFlush(flag func(QueueLimits) bool) bool {
	for _, ti := range t.targets {
		if ti.NumFlushBios == 0 {
			continue
		}
		if ti.FlushSupported {
			return true
		}
		it, ok := ti.Impl.(DeviceIterator)
		if !ok {
			continue
		}
		yes := false
		_ = it.IterateDevices(func(d *DMDev, _, _ uint64) error {
			if flag(d.Bdev.Limits()) {
				yes = true
				return errStopIteration
			}
			return nil
		})
		if yes {
			return true
		}
	}
	return false
}

// setDeviceLimits is dm_set_device_limits() over every device of a
// target: stack each device's limits into tl, warning about a device whose
// alignment does not fit the others'.
func (t *Table) setDeviceLimits(ti *DMTarget, tl *QueueLimits) {
	it, ok := ti.Impl.(DeviceIterator)
	if !ok {
		return
	}
	_ = it.IterateDevices(func(d *DMDev, start, _ uint64) error {
		b := d.Bdev.Limits()
		if !blkStackLimits(tl, b, start) {
			t.md.k.Log.DMWarn("table", "%s: adding target device %s caused an alignment inconsistency: "+
				"physical_block_size=%d, logical_block_size=%d, alignment_offset=%d, start=%d",
				t.md.DeviceName(), d.Bdev.Name(), b.PhysicalBlockSize, b.LogicalBlockSize,
				b.AlignmentOffset, start<<9)
		}
		return nil
	})
}

// calculateLimits is dm_calculate_queue_limits(): stack every target's
// devices' limits, apply its I/O hints, check its device areas
// (device_area_is_invalid), fold the target into the table's limits, then
// check the alignment of target boundaries.
func (t *Table) calculateLimits() (QueueLimits, error) {
	limits := StackingLimits()
	for _, ti := range t.targets {
		tl := StackingLimits()
		h, hasHints := ti.Impl.(IOHinter)
		if it, ok := ti.Impl.(DeviceIterator); ok {
			t.setDeviceLimits(ti, &tl)
			if hasHints {
				h.IOHints(&tl)
			}
			if err := it.IterateDevices(func(d *DMDev, start, length uint64) error {
				if t.deviceAreaIsInvalid(d, start, length, tl) {
					return linuxerr.EINVAL
				}
				return nil
			}); err != nil {
				return limits, linuxerr.EINVAL
			}
		} else if hasHints {
			h.IOHints(&tl)
		}
		// combine_limits:
		if !blkStackLimits(&limits, tl, 0) {
			t.md.k.Log.DMWarn("table", "%s: adding target device (start sect %d len %d) caused an alignment inconsistency",
				t.md.DeviceName(), ti.Begin, ti.Len)
		}
	}
	return limits, t.validateLogicalBlockAlignment(limits)
}

// deviceAreaIsInvalid is device_area_is_invalid().
func (t *Table) deviceAreaIsInvalid(d *DMDev, start, length uint64, lim QueueLimits) bool {
	log := t.md.k.Log
	name := t.md.DeviceName()
	devSize := d.Bdev.Size()
	if devSize == 0 {
		return false
	}
	if start >= devSize || start+length > devSize {
		log.DMErr("table", "%s: %s too small for target: start=%d, len=%d, dev_size=%d",
			name, d.Bdev.Name(), start, length, devSize)
		return true
	}
	lbs := uint64(lim.LogicalBlockSize >> 9)
	if lbs <= 1 {
		return false
	}
	if start&(lbs-1) != 0 {
		log.DMErr("table", "%s: start=%d not aligned to h/w logical block size %d of %s",
			name, start, lim.LogicalBlockSize, d.Bdev.Name())
		return true
	}
	if length&(lbs-1) != 0 {
		log.DMErr("table", "%s: len=%d not aligned to h/w logical block size %d of %s",
			name, length, lim.LogicalBlockSize, d.Bdev.Name())
		return true
	}
	return false
}

// validateLogicalBlockAlignment is
// validate_hardware_logical_block_alignment(): a bio aligned to the
// device's logical block size, split at target boundaries, must give
// pieces aligned to each target's own logical block size. Each target's
// devices are stacked again (dm_set_device_limits, warnings and all).
func (t *Table) validateLogicalBlockAlignment(lim QueueLimits) error {
	devLBS := uint64(lim.LogicalBlockSize >> 9)
	var next, remaining uint64
	var i int
	var ti *DMTarget
	for i = 0; i < len(t.targets); i++ {
		ti = t.targets[i]
		tl := StackingLimits()
		t.setDeviceLimits(ti, &tl)
		if remaining < ti.Len && remaining&(uint64(tl.LogicalBlockSize>>9)-1) != 0 {
			break
		}
		next = (next + ti.Len) & (devLBS - 1)
		if next != 0 {
			remaining = devLBS - next
		} else {
			remaining = 0
		}
	}
	if remaining != 0 && ti != nil {
		t.md.k.Log.DMErr("table", "%s: table line %d (start sect %d len %d) not aligned to h/w logical block size %d",
			t.md.DeviceName(), i, ti.Begin, ti.Len, lim.LogicalBlockSize)
		return linuxerr.EINVAL
	}
	return nil
}

// presuspendTargets, presuspendUndoTargets and postsuspendTargets are
// dm_table_presuspend_targets() and friends; a nil table has no targets.
func (t *Table) presuspendTargets() {
	if t == nil {
		return
	}
	for _, ti := range t.targets {
		if h, ok := ti.Impl.(PreSuspender); ok {
			h.PreSuspend()
		}
	}
}

func (t *Table) presuspendUndoTargets() {
	if t == nil {
		return
	}
	for _, ti := range t.targets {
		if h, ok := ti.Impl.(PreSuspendUndoer); ok {
			h.PreSuspendUndo()
		}
	}
}

func (t *Table) postsuspendTargets() {
	if t == nil {
		return
	}
	for _, ti := range t.targets {
		if h, ok := ti.Impl.(PostSuspender); ok {
			h.PostSuspend()
		}
	}
}

// resumeTargets is dm_table_resume_targets(): every preresume first (the
// first failure is logged and returned), then every resume hook.
func (t *Table) resumeTargets() error {
	for _, ti := range t.targets {
		h, ok := ti.Impl.(PreResumer)
		if !ok {
			continue
		}
		if err := h.PreResume(); err != nil {
			t.md.k.Log.DMErr("table", "%s: %s: preresume failed, error = -%d", t.md.DeviceName(), ti.Type.Name, int(linuxerr.ToErrno(err)))
			return err
		}
	}
	for _, ti := range t.targets {
		if h, ok := ti.Impl.(Resumer); ok {
			h.Resume()
		}
	}
	return nil
}
