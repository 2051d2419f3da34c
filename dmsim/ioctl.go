package dmsim

import (
	"context"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/table"
)

// DM ioctl interface version (DM_VERSION_MAJOR/MINOR/PATCHLEVEL of 6.1).
var ioctlVersion = [3]uint32{4, 47, 0}

const (
	dmNameLen    = 128 // DM_NAME_LEN
	dmUUIDLen    = 129 // DM_UUID_LEN
	dmMaxTargets = 1048576
)

// ioctlAPI is /dev/mapper/control: the ioctl calls of dm-ioctl.c.
type ioctlAPI struct {
	k   *Kernel
	ctx context.Context
}

var _ IoctlAPI = ioctlAPI{}

// Ioctl returns the device-mapper control interface (/dev/mapper/control).
func (k *Kernel) Ioctl() IoctlAPI { return ioctlAPI{k: k, ctx: context.Background()} }

// IoctlContext is Ioctl whose waits (suspend waiting for I/O, dev_wait,
// waits for locks) end when ctx does, as a signal interrupts the real
// ioctl (EINTR): busybox `timeout` runs dmsetup under such a context.
func (k *Kernel) IoctlContext(ctx context.Context) IoctlAPI { return ioctlAPI{k: k, ctx: ctx} }

func (a ioctlAPI) dm() *dmState { return a.k.dm }

func (a ioctlAPI) Version() [3]uint32 { return ioctlVersion }

// ListVersions is list_versions(): registered target types, newest first.
func (a ioctlAPI) ListVersions() []TargetVersion {
	var out []TargetVersion
	for _, t := range a.k.TargetTypes() {
		out = append(out, TargetVersion{Name: t.Name, Version: t.Version})
	}
	return out
}

// ListDevices is list_devices(): every device in name order.
func (a ioctlAPI) ListDevices() []NameEntry {
	var out []NameEntry
	for _, hc := range a.dm().sortedCells() {
		out = append(out, NameEntry{Name: hc.name, Dev: hc.md.dev, EventNr: hc.md.EventNr()})
	}
	return out
}

// truncName is what the fixed-size name/uuid fields of struct dm_ioctl
// keep (the kernel terminates them at their last byte).
func truncName(s string, n int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > n-1 {
		s = s[:n-1]
	}
	return s
}

func normRef(ref DevRef) DevRef {
	ref.Name = truncName(ref.Name, dmNameLen)
	ref.UUID = truncName(ref.UUID, dmUUIDLen)
	return ref
}

// validateRef is validate_params() for commands that address a device.
func (a ioctlAPI) validateRef(ref DevRef) error {
	if ref.UUID != "" && ref.Name != "" {
		a.k.Log.DMErr("ioctl", "only supply one of name or uuid, cmd(%d)", 0)
		return linuxerr.EINVAL
	}
	return nil
}

// lockedCell is find_device_interface() behind validate_params(): the
// cell ref names, returned with hashMu held (the caller unlocks); ENXIO,
// unlocked, when there is none.
func (a ioctlAPI) lockedCell(ref DevRef) (*hashCell, error) {
	ref = normRef(ref)
	if err := a.validateRef(ref); err != nil {
		return nil, err
	}
	s := a.dm()
	s.hashMu.Lock()
	hc := s.findCellLocked(ref)
	if hc == nil {
		s.hashMu.Unlock()
		return nil, linuxerr.ENXIO
	}
	return hc, nil
}

// device is find_device(): the mapped device ref names (ENXIO if none).
func (a ioctlAPI) device(ref DevRef) (*MappedDevice, error) {
	hc, err := a.lockedCell(ref)
	if err != nil {
		return nil, err
	}
	md := hc.md
	a.dm().hashMu.Unlock()
	return md, nil
}

// checkName is check_name().
func (a ioctlAPI) checkName(name string) error {
	if strings.Contains(name, "/") {
		a.k.Log.DMErr("ioctl", "invalid device name")
		return linuxerr.EINVAL
	}
	return nil
}

// status is __dev_status().
func (a ioctlAPI) status(md *MappedDevice, inactive bool) DMInfo {
	a.dm().hashMu.Lock()
	var inact *Table
	name, uuid := md.name, md.uuid
	if md.hc != nil {
		inact = md.hc.newMap
		name, uuid = md.hc.name, md.hc.uuid
	}
	a.dm().hashMu.Unlock()
	host := a.k.hostOpeners(md.dev)
	md.mu.Lock()
	info := DMInfo{
		Name:            name,
		UUID:            uuid,
		Dev:             md.dev,
		OpenCount:       md.openCount + host,
		EventNr:         md.eventNr,
		Suspended:       md.suspended,
		InternalSuspend: md.suspendedInternally,
		DeferredRemove:  md.deferredRemove,
		InactivePresent: inact != nil,
	}
	if md.live != nil {
		info.LivePresent = true
		if !inactive {
			info.ReadOnly = md.ro
			info.TargetCount = len(md.live.targets)
		}
	}
	md.mu.Unlock()
	if inactive && inact != nil {
		info.ReadOnly = inact.mode&FModeWrite == 0
		info.TargetCount = len(inact.targets)
	}
	return info
}

// DevCreate is dev_create().
func (a ioctlAPI) DevCreate(name, uuid string, flags IoctlFlags) (DMInfo, error) {
	name, uuid = truncName(name, dmNameLen), truncName(uuid, dmUUIDLen)
	if name == "" {
		a.k.Log.DMErr("ioctl", "name not supplied when creating device")
		return DMInfo{}, linuxerr.EINVAL
	}
	if err := a.checkName(name); err != nil {
		return DMInfo{}, err
	}
	md, err := a.dm().create(flags.Persistent, flags.Minor)
	if err != nil {
		return DMInfo{}, err
	}
	if err := a.dm().insert(name, uuid, md); err != nil {
		a.dm().destroy(md)
		return DMInfo{}, err
	}
	a.dm().issueGlobalEvent()
	return a.status(md, false), nil
}

// DevRemove is dev_remove(): EBUSY while open (with Deferred: mark for
// removal at last close and succeed).
func (a ioctlAPI) DevRemove(ref DevRef, flags IoctlFlags) (DMInfo, error) {
	hc, err := a.lockedCell(ref)
	if err != nil {
		return DMInfo{}, err
	}
	s := a.dm()
	md := hc.md
	if err := md.lockForDeletion(flags.Deferred, false); err != nil {
		s.hashMu.Unlock()
		if err == linuxerr.EBUSY && flags.Deferred {
			return a.status(md, false), nil
		}
		return DMInfo{}, err
	}
	info := DMInfo{Name: hc.name, UUID: hc.uuid, Dev: md.dev, InactivePresent: hc.newMap != nil}
	t := s.hashRemoveLocked(hc)
	s.hashMu.Unlock()
	if t != nil {
		md.syncTable()
		t.destroy()
	}
	s.destroy(md)
	s.issueGlobalEvent()
	return info, nil
}

// RemoveAll is remove_all().
func (a ioctlAPI) RemoveAll(flags IoctlFlags) error {
	a.dm().removeAll(true, flags.Deferred, false)
	a.dm().issueGlobalEvent()
	return nil
}

// DevRename is dev_rename() / dm_hash_rename(): a new name, or with
// setUUID a UUID for a device that has none. A rename raises an event.
func (a ioctlAPI) DevRename(ref DevRef, newName string, setUUID bool) (DMInfo, error) {
	ref = normRef(ref)
	if err := a.validateRef(ref); err != nil {
		return DMInfo{}, err
	}
	limit := dmNameLen
	if setUUID {
		limit = dmUUIDLen
	}
	if i := strings.IndexByte(newName, 0); i >= 0 {
		newName = newName[:i]
	}
	if newName == "" || len(newName) > limit-1 {
		a.k.Log.DMErr("ioctl", "Invalid new mapped device name or uuid string supplied.")
		return DMInfo{}, linuxerr.EINVAL
	}
	if !setUUID {
		if err := a.checkName(newName); err != nil {
			return DMInfo{}, err
		}
	}
	s := a.dm()
	s.hashMu.Lock()
	var taken *hashCell
	if setUUID {
		taken = s.byUUID[newName]
	} else {
		taken = s.byName[newName]
	}
	what := "name"
	if setUUID {
		what = "uuid"
	}
	if taken != nil {
		s.hashMu.Unlock()
		a.k.Log.DMErr("ioctl", "Unable to change %s on mapped device %s to one that already exists: %s", what, ref.Name, newName)
		return DMInfo{}, linuxerr.EBUSY
	}
	var hc *hashCell
	if ref.Name != "" {
		hc = s.byName[ref.Name]
	} else {
		hc = s.findCellLocked(ref)
	}
	if hc == nil {
		s.hashMu.Unlock()
		pfx := ""
		if setUUID {
			pfx = "uuid "
		}
		a.k.Log.DMErr("ioctl", "Unable to rename non-existent device, %s to %s%s", ref.Name, pfx, newName)
		return DMInfo{}, linuxerr.ENXIO
	}
	if setUUID && hc.uuid != "" {
		s.hashMu.Unlock()
		a.k.Log.DMErr("ioctl", "Unable to change uuid of mapped device %s to %s because uuid is already set to %s", ref.Name, newName, hc.uuid)
		return DMInfo{}, linuxerr.EINVAL
	}
	md := hc.md
	if setUUID {
		hc.uuid = newName
		s.byUUID[newName] = hc
	} else {
		delete(s.byName, hc.name)
		hc.name = newName
		s.byName[newName] = hc
	}
	md.mu.Lock()
	md.name, md.uuid = hc.name, hc.uuid
	live := md.live
	md.mu.Unlock()
	if live != nil {
		live.Event()
	}
	s.hashMu.Unlock()
	s.issueGlobalEvent()
	return a.status(md, false), nil
}

// DevSuspend is do_suspend(): already suspended is a no-op.
func (a ioctlAPI) DevSuspend(ref DevRef, flags IoctlFlags) (DMInfo, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, err
	}
	if !md.Suspended() {
		if err := md.suspend(a.ctx, flags.NoFlush, !flags.SkipLockfs); err != nil {
			return DMInfo{}, err
		}
	}
	return a.status(md, false), nil
}

// DevResume is do_resume(): swap in the inactive table, if any (suspending
// first if needed; the swap validates the table and on failure the table
// is discarded and the device stays suspended), then resume if suspended
// (a failing preresume leaves the device suspended, with the new table
// live).
func (a ioctlAPI) DevResume(ref DevRef, flags IoctlFlags) (DMInfo, error) {
	hc, err := a.lockedCell(ref)
	if err != nil {
		return DMInfo{}, err
	}
	s := a.dm()
	md := hc.md
	newMap := hc.newMap
	hc.newMap = nil
	s.hashMu.Unlock()

	var old *Table
	if newMap != nil {
		if !md.Suspended() {
			// The kernel ignores a failure here: the swap then fails.
			_ = md.suspend(a.ctx, flags.NoFlush, !flags.SkipLockfs)
		}
		old, err = md.swapTable(a.ctx, newMap)
		if err != nil {
			md.syncTable()
			newMap.destroy()
			return DMInfo{}, err
		}
		md.mu.Lock()
		md.ro = newMap.mode&FModeWrite == 0
		md.mu.Unlock()
	}
	if md.Suspended() {
		err = md.resume(a.ctx)
	}
	if old != nil {
		old.destroy()
	}
	if err != nil {
		return DMInfo{}, err
	}
	return a.status(md, false), nil
}

// DevStatus is dev_status() (dmsetup info).
func (a ioctlAPI) DevStatus(ref DevRef, flags IoctlFlags) (DMInfo, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, err
	}
	return a.status(md, flags.Inactive), nil
}

// DevWait is dev_wait(): wait until the event counter differs from
// eventNr (at once if it already does), then report the status lines.
func (a ioctlAPI) DevWait(ctx context.Context, ref DevRef, eventNr uint32, flags IoctlFlags) (DMInfo, []TargetStatus, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, nil, err
	}
	if ctx == nil {
		ctx = a.ctx
	}
	if err := md.waitEvent(ctx, eventNr); err != nil {
		return DMInfo{}, nil, linuxerr.EINTR
	}
	info := a.status(md, flags.Inactive)
	st := a.retrieveStatus(md, StatusInfo, flags)
	return info, st, nil
}

// tableFor is dm_get_live_or_inactive_table(); the caller calls
// md.putLiveTable() after.
func (a ioctlAPI) tableFor(md *MappedDevice, inactive bool) *Table {
	t := md.getLiveTable()
	if !inactive {
		return t
	}
	a.dm().hashMu.Lock()
	defer a.dm().hashMu.Unlock()
	if md.hc == nil {
		a.k.Log.DMErr("ioctl", "device has been removed from the dev hash table.")
		return nil
	}
	return md.hc.newMap
}

// retrieveStatus is retrieve_status().
func (a ioctlAPI) retrieveStatus(md *MappedDevice, typ StatusType, flags IoctlFlags) []TargetStatus {
	t := a.tableFor(md, flags.Inactive)
	defer md.putLiveTable()
	if t == nil {
		return nil
	}
	var sf StatusFlags
	if flags.NoFlush {
		sf |= StatusNoFlush
	}
	out := make([]TargetStatus, 0, len(t.targets))
	for _, ti := range t.targets {
		st := TargetStatus{Start: ti.Begin, Length: ti.Len, Type: ti.Type.Name}
		if s, ok := ti.Impl.(Statuser); ok {
			st.Params = s.Status(typ, sf)
		}
		out = append(out, st)
	}
	return out
}

// TableLoad is table_load(): build and validate the table (constructors
// run now) and stage it as the inactive table. The first table a device
// ever loads also sets up its queue: device areas are checked now and the
// disk (/dev/dm-N) appears.
func (a ioctlAPI) TableLoad(ref DevRef, specs []TargetSpec, flags IoctlFlags) (DMInfo, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, err
	}
	if len(specs) > dmMaxTargets {
		return DMInfo{}, linuxerr.EOVERFLOW
	}
	mode := FModeRead | FModeWrite
	if flags.ReadOnly {
		mode = FModeRead
	}
	t := newTable(md, mode)
	if err := md.typeLock.Lock(a.ctx); err != nil {
		return DMInfo{}, linuxerr.EINTR
	}
	fail := func(err error) (DMInfo, error) {
		md.typeLock.Unlock()
		t.destroy()
		return DMInfo{}, err
	}
	// populate_table()
	if len(specs) == 0 {
		a.k.Log.DMErr("ioctl", "populate_table: no targets specified")
		return fail(linuxerr.EINVAL)
	}
	for _, sp := range specs {
		if sp.Bad {
			a.k.Log.DMErr("ioctl", "unable to find target")
			return fail(linuxerr.EINVAL)
		}
		typ := sp.Type
		if i := strings.IndexByte(typ, 0); i >= 0 {
			typ = typ[:i]
		}
		if err := t.addTarget(typ, sp.Start, sp.Length, sp.Params); err != nil {
			a.k.Log.DMErr("ioctl", "error adding target to table")
			return fail(err)
		}
	}
	md.mu.Lock()
	immut := md.immut
	hasQueue := md.hasQueue
	md.mu.Unlock()
	if immut != nil && immut != t.immutable && !t.hasWildcard() {
		a.k.Log.DMErr("ioctl", "can't replace immutable target type %s", immut.Name)
		return fail(linuxerr.EINVAL)
	}
	if !hasQueue {
		if err := md.setupQueue(t); err != nil {
			a.k.Log.DMErr("ioctl", "unable to set up device queue for new table.")
			return fail(err)
		}
	}
	md.typeLock.Unlock()

	s := a.dm()
	s.hashMu.Lock()
	md.mu.Lock()
	hc := md.hc
	md.mu.Unlock()
	if hc == nil {
		s.hashMu.Unlock()
		a.k.Log.DMErr("ioctl", "device has been removed from the dev hash table.")
		t.destroy()
		return DMInfo{}, linuxerr.ENXIO
	}
	old := hc.newMap
	hc.newMap = t
	s.hashMu.Unlock()
	info := a.status(md, flags.Inactive)
	if old != nil {
		md.syncTable()
		old.destroy()
	}
	return info, nil
}

// TableClear is table_clear(): drop the inactive table, if any.
func (a ioctlAPI) TableClear(ref DevRef) (DMInfo, error) {
	hc, err := a.lockedCell(ref)
	if err != nil {
		return DMInfo{}, err
	}
	s := a.dm()
	old := hc.newMap
	hc.newMap = nil
	md := hc.md
	s.hashMu.Unlock()
	info := a.status(md, false)
	if old != nil {
		md.syncTable()
		old.destroy()
	}
	return info, nil
}

// TableDeps is table_deps(): the devices the table holds, most recently
// added first.
func (a ioctlAPI) TableDeps(ref DevRef, flags IoctlFlags) (DMInfo, []DevT, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, nil, err
	}
	info := a.status(md, flags.Inactive)
	t := a.tableFor(md, flags.Inactive)
	defer md.putLiveTable()
	if t == nil {
		return info, nil, nil
	}
	var deps []DevT
	for _, d := range t.Devices() {
		deps = append(deps, d.Bdev.Dev())
	}
	return info, deps, nil
}

// TableStatus is table_status(): each target's status (StatusInfo) or
// table (StatusTable) line, of the live table or, with Inactive, the
// inactive one; none if there is no such table.
func (a ioctlAPI) TableStatus(ref DevRef, typ StatusType, flags IoctlFlags) (DMInfo, []TargetStatus, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, nil, err
	}
	info := a.status(md, flags.Inactive)
	return info, a.retrieveStatus(md, typ, flags), nil
}

// TargetMessage is target_message(): the message is split as target
// arguments are; "@"-prefixed messages are for the core; others go to the
// live table's target at sector (EINVAL, "The device has no table.", if
// there is none).
func (a ioctlAPI) TargetMessage(ref DevRef, sector uint64, msg string) (DMInfo, string, error) {
	info, result, _, err := a.targetMessage(ref, sector, msg)
	return info, result, err
}

// targetMessage is TargetMessage that also says whether the message
// produced output (a message's return value of 1: DM_DATA_OUT_FLAG), which
// an empty result may be.
func (a ioctlAPI) targetMessage(ref DevRef, sector uint64, msg string) (DMInfo, string, bool, error) {
	md, err := a.device(ref)
	if err != nil {
		return DMInfo{}, "", false, err
	}
	if i := strings.IndexByte(msg, 0); i >= 0 {
		msg = msg[:i]
	}
	argv := table.SplitArgs(msg)
	if len(argv) == 0 {
		a.k.Log.DMErr("ioctl", "Empty message received.")
		return DMInfo{}, "", false, linuxerr.EINVAL
	}
	if strings.HasPrefix(argv[0], "@") {
		// message_for_md()
		if table.Strcasecmp(argv[0], "@cancel_deferred_remove") {
			if len(argv) != 1 {
				a.k.Log.DMErr("ioctl", "Invalid arguments for @cancel_deferred_remove")
				return DMInfo{}, "", false, linuxerr.EINVAL
			}
			if err := md.cancelDeferredRemove(); err != nil {
				return DMInfo{}, "", false, err
			}
			return a.status(md, false), "", false, nil
		}
		if out, handled, err := statsMessage(argv); handled {
			if err != nil {
				return DMInfo{}, "", false, err
			}
			return a.status(md, false), out, true, nil
		}
		a.k.Log.DMErr("ioctl", "Unsupported message sent to DM core: %s", argv[0])
		return DMInfo{}, "", false, linuxerr.EINVAL
	}
	t := md.getLiveTable()
	var result string
	if t == nil {
		// 6.1.y (as recorded): a device with no live table refuses messages.
		a.k.Log.DMErr("ioctl", "The device has no table.")
		err = linuxerr.EINVAL
	} else {
		if md.Deleting() {
			err = linuxerr.ENXIO
		} else if ti := t.FindTarget(sector); ti == nil {
			a.k.Log.DMErr("ioctl", "Target message sector outside device.")
			err = linuxerr.EINVAL
		} else if m, ok := ti.Impl.(Messager); ok {
			result, err = m.Message(argv)
		} else {
			a.k.Log.DMErr("ioctl", "Target type does not support messages")
			err = linuxerr.EINVAL
		}
	}
	md.putLiveTable()
	if err != nil {
		return DMInfo{}, "", false, err
	}
	return a.status(md, false), result, result != "", nil
}

// statsMessage is dm_stats_message() for a device with no statistics
// regions (dmsim keeps none: @stats_create is not supported): the list is
// empty and every region id is unknown. handled is false for messages it
// does not know.
func statsMessage(argv []string) (out string, handled bool, err error) {
	// an id as sscanf("%d%c") == 1 && id >= 0 reads it
	validID := func(s string) bool {
		n, err := strconv.ParseInt(strings.TrimLeft(s, " \t\n"), 10, 32)
		return err == nil && n >= 0
	}
	switch strings.ToLower(argv[0]) {
	case "@stats_list":
		// message_stats_list(): an optional program id
		if len(argv) > 2 {
			return "", true, linuxerr.EINVAL
		}
		return "", true, nil
	case "@stats_delete", "@stats_clear":
		if len(argv) != 2 || !validID(argv[1]) {
			return "", true, linuxerr.EINVAL
		}
		return "", true, linuxerr.ENOENT
	case "@stats_print", "@stats_print_clear":
		if len(argv) != 2 && len(argv) != 4 || !validID(argv[1]) {
			return "", true, linuxerr.EINVAL
		}
		return "", true, linuxerr.ENOENT
	case "@stats_set_aux":
		if len(argv) != 3 || !validID(argv[1]) {
			return "", true, linuxerr.EINVAL
		}
		return "", true, linuxerr.ENOENT
	}
	return "", false, nil
}
