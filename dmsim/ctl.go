package dmsim

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// The byte interface of /dev/mapper/control: ctl_ioctl() of dm-ioctl.c on
// struct dm_ioctl buffers (linux/dm-ioctl.h 4.47.0), as a program linked
// with libdevmapper passes them to ioctl(2). CtlIoctl decodes the buffer,
// calls the IoctlAPI and writes the results back in the kernel's layout,
// so the real dmsetup and lvm2 can run on dmsim (package frontend's bridge).

// DM ioctl command numbers (_IOC_NR of DM_*).
const (
	DMVersionCmd = iota
	DMRemoveAllCmd
	DMListDevicesCmd
	DMDevCreateCmd
	DMDevRemoveCmd
	DMDevRenameCmd
	DMDevSuspendCmd
	DMDevStatusCmd
	DMDevWaitCmd
	DMTableLoadCmd
	DMTableClearCmd
	DMTableDepsCmd
	DMTableStatusCmd
	DMListVersionsCmd
	DMTargetMsgCmd
	DMDevSetGeometryCmd
	DMDevArmPollCmd
	DMGetTargetVersionCmd
)

// DMIoctlType is DM_IOCTL, the _IOC_TYPE of every device-mapper ioctl.
const DMIoctlType = 0xfd

// struct dm_ioctl flags.
const (
	DMReadonlyFlag           = 1 << 0
	DMSuspendFlag            = 1 << 1
	DMPersistentDevFlag      = 1 << 3
	DMStatusTableFlag        = 1 << 4
	DMActivePresentFlag      = 1 << 5
	DMInactivePresentFlag    = 1 << 6
	DMBufferFullFlag         = 1 << 8
	DMSkipBdgetFlag          = 1 << 9
	DMSkipLockfsFlag         = 1 << 10
	DMNoflushFlag            = 1 << 11
	DMQueryInactiveTableFlag = 1 << 12
	DMUeventGeneratedFlag    = 1 << 13
	DMUUIDFlag               = 1 << 14
	DMSecureDataFlag         = 1 << 15
	DMDataOutFlag            = 1 << 16
	DMDeferredRemove         = 1 << 17
	DMInternalSuspendFlag    = 1 << 18
	DMIMAMeasurementFlag     = 1 << 19
)

// Layout of struct dm_ioctl.
const (
	offVersion     = 0
	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offOpenCount   = 24
	offFlags       = 28
	offEventNr     = 32
	offDev         = 40
	offName        = 48
	offUUID        = offName + dmNameLen
	// DMIoctlHeader is offsetof(struct dm_ioctl, data): the smallest
	// data_size the kernel accepts.
	DMIoctlHeader = offUUID + dmUUIDLen
	// DMIoctlSize is sizeof(struct dm_ioctl), where results start.
	DMIoctlSize = 312
	// targetSpecSize is sizeof(struct dm_target_spec).
	targetSpecSize = 40
	// DMMaxParamsSize bounds data_size (DM_MAX_TARGETS * DM_MAX_TARGET_PARAMS).
	DMMaxParamsSize = dmMaxTargets * 1024
)

// ioctl flags of lookup_ioctl().
const (
	ioctlNoParams = 1 << iota
	ioctlGlobalEvent
)

var ctlIoctlFlags = [...]int{
	DMRemoveAllCmd:        ioctlNoParams | ioctlGlobalEvent,
	DMDevCreateCmd:        ioctlNoParams | ioctlGlobalEvent,
	DMDevRemoveCmd:        ioctlNoParams | ioctlGlobalEvent,
	DMDevRenameCmd:        ioctlGlobalEvent,
	DMDevSuspendCmd:       ioctlNoParams,
	DMDevStatusCmd:        ioctlNoParams,
	DMTableClearCmd:       ioctlNoParams,
	DMDevArmPollCmd:       ioctlNoParams,
	DMGetTargetVersionCmd: 0,
}

// HugeDecodeDev is huge_decode_dev(): a dev_t of struct dm_ioctl.
func HugeDecodeDev(v uint64) DevT {
	return DevT{Major: uint32(v&0xfff00) >> 8, Minor: uint32(v&0xff) | uint32(v>>12)&0xfff00}
}

// HugeEncodeDev is huge_encode_dev().
func HugeEncodeDev(d DevT) uint64 { return hugeEncode(d) }

// dmParam is the kernel's copy of the caller's buffer.
type dmParam struct {
	b []byte // data_size bytes (the header only for IOCTL_FLAGS_NO_PARAMS)
}

func (p dmParam) u32(off int) uint32       { return binary.LittleEndian.Uint32(p.b[off:]) }
func (p dmParam) setU32(off int, v uint32) { binary.LittleEndian.PutUint32(p.b[off:], v) }
func (p dmParam) flags() uint32            { return p.u32(offFlags) }
func (p dmParam) setFlags(v uint32)        { p.setU32(offFlags, v) }
func (p dmParam) orFlags(v uint32)         { p.setFlags(p.flags() | v) }
func (p dmParam) clearFlags(v uint32)      { p.setFlags(p.flags() &^ v) }
func (p dmParam) dev() uint64              { return binary.LittleEndian.Uint64(p.b[offDev:]) }
func (p dmParam) name() string             { return cstring(p.b[offName : offName+dmNameLen]) }
func (p dmParam) uuid() string             { return cstring(p.b[offUUID : offUUID+dmUUIDLen]) }
func (p dmParam) setDataSize(n int)        { p.setU32(offDataSize, uint32(n)) }

// setStr is strlcpy() into a fixed field.
func setStr(field []byte, s string) {
	if len(s) > len(field)-1 {
		s = s[:len(field)-1]
	}
	copy(field, s)
	field[len(s)] = 0
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// ref is the device struct dm_ioctl addresses (__find_device_hash_cell():
// uuid, else name, else dev).
func (p dmParam) ref() DevRef {
	return DevRef{Name: p.name(), UUID: p.uuid(), Dev: HugeDecodeDev(p.dev())}
}

func (p dmParam) ioctlFlags() IoctlFlags {
	f := p.flags()
	return IoctlFlags{
		ReadOnly:   f&DMReadonlyFlag != 0,
		NoFlush:    f&DMNoflushFlag != 0,
		SkipLockfs: f&DMSkipLockfsFlag != 0,
		Inactive:   f&DMQueryInactiveTableFlag != 0,
		Deferred:   f&DMDeferredRemove != 0,
		Persistent: f&DMPersistentDevFlag != 0,
		Minor:      HugeDecodeDev(p.dev()).Minor,
	}
}

// devStatus is __dev_status() on the header, from the API's answer.
func (p dmParam) devStatus(info DMInfo) {
	p.clearFlags(DMSuspendFlag | DMReadonlyFlag | DMActivePresentFlag | DMInternalSuspendFlag)
	if info.Suspended {
		p.orFlags(DMSuspendFlag)
	}
	if info.InternalSuspend {
		p.orFlags(DMInternalSuspendFlag)
	}
	if info.DeferredRemove {
		p.orFlags(DMDeferredRemove)
	}
	binary.LittleEndian.PutUint64(p.b[offDev:], hugeEncode(info.Dev))
	p.setU32(offOpenCount, uint32(int32(info.OpenCount)))
	p.setU32(offEventNr, info.EventNr)
	p.setU32(offTargetCount, uint32(info.TargetCount))
	if info.LivePresent {
		p.orFlags(DMActivePresentFlag)
	}
	if info.ReadOnly {
		p.orFlags(DMReadonlyFlag)
	}
}

// found is what __find_device_hash_cell() writes into the header: the
// cell's name and uuid, and whether it has an inactive table.
func (p dmParam) found(info DMInfo) {
	setStr(p.b[offName:offName+dmNameLen], info.Name)
	setStr(p.b[offUUID:offUUID+dmUUIDLen], info.UUID)
	if info.InactivePresent {
		p.orFlags(DMInactivePresentFlag)
	} else {
		p.clearFlags(DMInactivePresentFlag)
	}
}

// answer is a found device's header: find_device()'s name and uuid, then
// __dev_status(); err passes through.
func (p dmParam) answer(info DMInfo, err error) error {
	if err != nil {
		return err
	}
	p.found(info)
	p.devStatus(info)
	return nil
}

// resultBuffer is get_result_buffer(): data_start becomes the aligned end
// of the header; the room from there to the end of the caller's buffer.
func (p dmParam) resultBuffer() []byte {
	p.setU32(offDataStart, DMIoctlSize)
	if len(p.b) > DMIoctlSize {
		return p.b[DMIoctlSize:]
	}
	return nil
}

func alignVal(n int) int { return (n + 7) &^ 7 }

// CtlIoctl is ctl_ioctl(): command is the ioctl request number and buf the
// caller's buffer (at least data_size bytes of it). It returns the bytes
// the kernel copies back to the start of the caller's buffer (which may be
// fewer than it passed, or none) and the error the ioctl fails with. ctx
// interrupts waits (EINTR), as a signal does.
func (k *Kernel) CtlIoctl(ctx context.Context, command uint32, buf []byte) ([]byte, error) {
	if (command>>8)&0xff != DMIoctlType {
		return nil, linuxerr.ENOTTY
	}
	cmd := int(command & 0xff)
	// check_version(): the kernel's version is always copied out.
	if len(buf) < offDataSize {
		return nil, linuxerr.EFAULT
	}
	ver := [3]uint32{binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint32(buf[4:]), binary.LittleEndian.Uint32(buf[8:])}
	out := make([]byte, 12)
	for i, v := range ioctlVersion {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	if ver[0] != ioctlVersion[0] || ver[1] > ioctlVersion[1] {
		k.Log.DMErr("ioctl", "ioctl interface mismatch: kernel(%d.%d.%d), user(%d.%d.%d), cmd(%d)",
			ioctlVersion[0], ioctlVersion[1], ioctlVersion[2], ver[0], ver[1], ver[2], cmd)
		return out, linuxerr.EINVAL
	}
	if cmd == DMVersionCmd {
		return out, nil
	}
	if cmd >= len(ctlIoctlFlags) || cmd == DMVersionCmd {
		k.Log.DMErr("ioctl", "dm_ctl_ioctl: unknown command 0x%x", command)
		return out, linuxerr.ENOTTY
	}
	iflags := ctlIoctlFlags[cmd]
	// copy_params()
	if len(buf) < DMIoctlHeader {
		return out, linuxerr.EFAULT
	}
	dataSize := int(binary.LittleEndian.Uint32(buf[offDataSize:]))
	if dataSize < DMIoctlHeader || dataSize > DMMaxParamsSize {
		k.Log.DMErr("ioctl", "Invalid data size in the ioctl structure: %d", uint32(dataSize))
		return out, linuxerr.EINVAL
	}
	secure := binary.LittleEndian.Uint32(buf[offFlags:])&DMSecureDataFlag != 0
	var p dmParam
	if iflags&ioctlNoParams != 0 {
		p.b = append([]byte(nil), buf[:DMIoctlHeader]...)
		p.setDataSize(DMIoctlHeader)
	} else {
		if len(buf) < dataSize {
			return out, linuxerr.EFAULT
		}
		p.b = append([]byte(nil), buf[:dataSize]...)
	}
	copy(p.b, out)
	if secure {
		// The caller's buffer is wiped before the call (version too).
		out = make([]byte, dataSize)
	}
	if err := k.validateParams(cmd, p); err != nil {
		return out, err
	}
	p.setDataSize(DMIoctlHeader)
	a := ioctlAPI{k: k, ctx: ctx}
	err := a.ctlCall(cmd, p)
	if p.flags()&DMBufferFullFlag != 0 && iflags&ioctlNoParams != 0 {
		k.Log.DMErr("ioctl", "ioctl %d tried to output some data but has IOCTL_FLAGS_NO_PARAMS set", cmd)
	}
	if err != nil {
		return out, err
	}
	if iflags&ioctlGlobalEvent != 0 {
		k.dm.issueGlobalEvent()
	}
	n := int(p.u32(offDataSize))
	if n > len(p.b) {
		return out, linuxerr.EFAULT
	}
	if n > len(out) {
		return p.b[:n], nil
	}
	copy(out, p.b[:n])
	return out, nil
}

// validateParams is validate_params().
func (k *Kernel) validateParams(cmd int, p dmParam) error {
	p.clearFlags(DMBufferFullFlag | DMUeventGeneratedFlag | DMSecureDataFlag | DMDataOutFlag)
	switch cmd {
	case DMRemoveAllCmd, DMListDevicesCmd, DMListVersionsCmd:
		return nil
	case DMDevCreateCmd:
		if p.b[offName] == 0 {
			k.Log.DMErr("ioctl", "name not supplied when creating device")
			return linuxerr.EINVAL
		}
	default:
		if p.b[offUUID] != 0 && p.b[offName] != 0 {
			k.Log.DMErr("ioctl", "only supply one of name or uuid, cmd(%d)", cmd)
			return linuxerr.EINVAL
		}
	}
	p.b[offName+dmNameLen-1] = 0
	p.b[offUUID+dmUUIDLen-1] = 0
	return nil
}

// ctlCall runs one command on the kernel's copy of the buffer.
func (a ioctlAPI) ctlCall(cmd int, p dmParam) error {
	ref := p.ref() // before found() writes the cell's name and uuid in
	switch cmd {
	case DMRemoveAllCmd:
		a.dm().removeAll(true, p.flags()&DMDeferredRemove != 0, false)
		p.setDataSize(0)
		return nil
	case DMListDevicesCmd:
		a.ctlListDevices(p)
		return nil
	case DMDevCreateCmd:
		info, err := a.DevCreate(p.name(), p.uuid(), p.ioctlFlags())
		if err != nil {
			return err
		}
		p.clearFlags(DMInactivePresentFlag)
		p.devStatus(info)
		return nil
	case DMDevRemoveCmd:
		info, err := a.DevRemove(p.ref(), p.ioctlFlags())
		if err != nil {
			return err
		}
		p.found(info)
		if p.flags()&DMDeferredRemove != 0 {
			if _, err := a.device(DevRef{Name: info.Name}); err == nil {
				// dev_remove(): still open, marked for deferred removal
				return nil
			}
		}
		p.clearFlags(DMDeferredRemove)
		p.orFlags(DMUeventGeneratedFlag)
		return nil
	case DMDevRenameCmd:
		return a.ctlRename(p)
	case DMDevSuspendCmd:
		if p.flags()&DMSuspendFlag != 0 {
			info, err := a.DevSuspend(p.ref(), p.ioctlFlags())
			if err != nil {
				return err
			}
			p.found(info)
			p.devStatus(info)
			return nil
		}
		wasSuspended := false
		if md, err := a.device(p.ref()); err == nil {
			wasSuspended = md.Suspended() || a.hasInactive(md)
		}
		info, err := a.DevResume(p.ref(), p.ioctlFlags())
		if err != nil {
			return err
		}
		p.found(info)
		p.clearFlags(DMInactivePresentFlag)
		if wasSuspended {
			p.orFlags(DMUeventGeneratedFlag)
		}
		p.devStatus(info)
		return nil
	case DMDevStatusCmd:
		info, err := a.DevStatus(p.ref(), p.ioctlFlags())
		if err := p.answer(info, err); err != nil {
			return err
		}
		return nil
	case DMDevWaitCmd:
		info, st, err := a.DevWait(a.ctx, p.ref(), p.u32(offEventNr), p.ioctlFlags())
		if err := p.answer(info, err); err != nil {
			return err
		}
		if st != nil {
			p.retrieveStatus(st)
		}
		return nil
	case DMTableLoadCmd:
		info, err := a.TableLoad(p.ref(), p.targetSpecs(), p.ioctlFlags())
		if err != nil {
			return err
		}
		p.found(info)
		p.orFlags(DMInactivePresentFlag)
		p.devStatus(info)
		return nil
	case DMTableClearCmd:
		info, err := a.TableClear(p.ref())
		if err != nil {
			return err
		}
		p.found(info)
		p.clearFlags(DMInactivePresentFlag)
		p.devStatus(info)
		return nil
	case DMTableDepsCmd:
		info, deps, err := a.TableDeps(p.ref(), p.ioctlFlags())
		if err := p.answer(info, err); err != nil {
			return err
		}
		if deps != nil || a.hasTable(ref, p.ioctlFlags().Inactive) {
			p.retrieveDeps(deps)
		}
		return nil
	case DMTableStatusCmd:
		typ := StatusInfo
		if p.flags()&DMStatusTableFlag != 0 {
			typ = StatusTable
		}
		info, st, err := a.TableStatus(p.ref(), typ, p.ioctlFlags())
		if err := p.answer(info, err); err != nil {
			return err
		}
		if st != nil {
			p.retrieveStatus(st)
		}
		return nil
	case DMListVersionsCmd:
		a.ctlListVersions(p, "", false)
		return nil
	case DMGetTargetVersionCmd:
		return a.ctlListVersions(p, p.name(), true)
	case DMTargetMsgCmd:
		return a.ctlMessage(p)
	case DMDevSetGeometryCmd:
		return a.ctlSetGeometry(p)
	case DMDevArmPollCmd:
		return nil
	}
	return linuxerr.ENOTTY
}

// hasInactive says whether md has an inactive table.
func (a ioctlAPI) hasInactive(md *MappedDevice) bool {
	a.dm().hashMu.Lock()
	defer a.dm().hashMu.Unlock()
	return md.hc != nil && md.hc.newMap != nil
}

// hasTable says whether the device has the table a status-like call reads
// (an empty live table still gets its target_count and data_start set).
func (a ioctlAPI) hasTable(ref DevRef, inactive bool) bool {
	md, err := a.device(ref)
	if err != nil {
		return false
	}
	if inactive {
		return a.hasInactive(md)
	}
	t := md.getLiveTable()
	md.putLiveTable()
	return t != nil
}

// ctlRename is dev_rename(): the new name (or uuid) is the string at
// data_start.
func (a ioctlAPI) ctlRename(p dmParam) error {
	start := int(p.u32(offDataStart))
	uuid := p.flags()&DMUUIDFlag != 0
	limit := dmNameLen - 1
	if uuid {
		limit = dmUUIDLen - 1
	}
	var s string
	ok := start >= DMIoctlHeader && start < len(p.b)
	if ok {
		i := bytes.IndexByte(p.b[start:], 0)
		ok = i > 0 && i <= limit
		if ok {
			s = string(p.b[start : start+i])
		}
	}
	if !ok {
		a.k.Log.DMErr("ioctl", "Invalid new mapped device name or uuid string supplied.")
		return linuxerr.EINVAL
	}
	// dm_hash_rename() looks the old device up by name only.
	info, err := a.DevRename(DevRef{Name: p.name()}, s, uuid)
	if err != nil {
		return err
	}
	p.orFlags(DMUeventGeneratedFlag)
	p.devStatus(info)
	return nil
}

// ctlListDevices is list_devices(): struct dm_name_list entries, each with
// its event number and (with DM_UUID_FLAG) its uuid, filtered by the name
// and uuid prefixes in the header.
func (a ioctlAPI) ctlListDevices(p dmParam) {
	pfxName, pfxUUID := p.name(), p.uuid()
	withUUID := p.flags()&DMUUIDFlag != 0
	type ent struct {
		NameEntry
		uuid string
	}
	var list []ent
	s := a.dm()
	s.hashMu.Lock()
	for _, hc := range s.sortedCellsLocked() {
		if !strings.HasPrefix(hc.name, pfxName) || !strings.HasPrefix(hc.uuid, pfxUUID) {
			continue
		}
		list = append(list, ent{NameEntry{Name: hc.name, Dev: hc.md.dev}, hc.uuid})
	}
	s.hashMu.Unlock()
	for i := range list {
		if md := s.mdByDevT(list[i].Dev); md != nil {
			list[i].EventNr = md.EventNr()
		}
	}
	needed := 0
	for _, e := range list {
		needed += alignVal(12+len(e.Name)+1) + 8
		if withUUID && e.uuid != "" {
			needed += alignVal(len(e.uuid) + 1)
		}
	}
	out := p.resultBuffer()
	if len(out) < needed || len(out) < 8 {
		p.orFlags(DMBufferFullFlag)
		return
	}
	p.setDataSize(DMIoctlSize + needed)
	binary.LittleEndian.PutUint64(out, 0)
	off, prev := 0, -1
	for _, e := range list {
		if prev >= 0 {
			binary.LittleEndian.PutUint32(out[prev+8:], uint32(off-prev))
		}
		binary.LittleEndian.PutUint64(out[off:], hugeEncode(e.Dev))
		binary.LittleEndian.PutUint32(out[off+8:], 0)
		n := copy(out[off+12:], e.Name)
		out[off+12+n] = 0
		prev = off
		ev := alignVal(off + 12 + n + 1)
		binary.LittleEndian.PutUint32(out[ev:], e.EventNr)
		var f uint32
		next := ev + 8
		if withUUID {
			if e.uuid != "" {
				f = 1 // DM_NAME_LIST_FLAG_HAS_UUID
				m := copy(out[next:], e.uuid)
				out[next+m] = 0
				next = alignVal(next + m + 1)
			} else {
				f = 2 // DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID
			}
		}
		binary.LittleEndian.PutUint32(out[ev+4:], f)
		off = next
	}
}

// ctlListVersions is __list_versions(): every target type (struct
// dm_target_versions), or the one named (EINVAL if there is none).
func (a ioctlAPI) ctlListVersions(p dmParam, name string, one bool) error {
	types := a.ListVersions()
	if one {
		tt := a.k.getTargetType(name)
		if tt == nil {
			return linuxerr.EINVAL
		}
		types = []TargetVersion{{Name: tt.Name, Version: tt.Version}}
	}
	needed := 0
	for _, t := range types {
		needed += 16 + len(t.Name) + 1 + 7
	}
	out := p.resultBuffer()
	if len(out) < needed {
		p.orFlags(DMBufferFullFlag)
		return nil
	}
	p.setDataSize(DMIoctlSize + needed)
	off, prev := 0, -1
	for _, t := range types {
		if off+12+len(t.Name)+1 > needed {
			p.orFlags(DMBufferFullFlag)
			break
		}
		if prev >= 0 {
			binary.LittleEndian.PutUint32(out[prev:], uint32(off-prev))
		}
		binary.LittleEndian.PutUint32(out[off:], 0)
		for i, v := range t.Version {
			binary.LittleEndian.PutUint32(out[off+4+4*i:], v)
		}
		n := copy(out[off+16:], t.Name)
		out[off+16+n] = 0
		prev = off
		off = alignVal(off + 16 + n + 1)
	}
	return nil
}

// retrieveStatus is retrieve_status(): struct dm_target_spec entries, each
// followed by its status or table string, cut where the buffer ends.
func (p dmParam) retrieveStatus(st []TargetStatus) {
	out := p.resultBuffer()
	used := 0
	off := 0
	for _, ts := range st {
		remaining := len(out) - off
		if remaining <= targetSpecSize {
			p.orFlags(DMBufferFullFlag)
			break
		}
		spec := out[off:]
		binary.LittleEndian.PutUint64(spec, ts.Start)
		binary.LittleEndian.PutUint64(spec[8:], ts.Length)
		binary.LittleEndian.PutUint32(spec[16:], 0)
		typ := ts.Type
		if len(typ) > 15 {
			typ = typ[:15]
		}
		// strncpy(15): pads with NULs, the 16th byte is left as it was
		n := copy(spec[24:39], typ)
		clear(spec[24+n : 39])
		off += targetSpecSize
		remaining = len(out) - off
		// DMEMIT stops at remaining-1 characters
		s := ts.Params
		if len(s) > remaining-1 {
			s = s[:remaining-1]
		}
		copy(out[off:], s)
		out[off+len(s)] = 0
		l := len(s) + 1
		if l == remaining {
			p.orFlags(DMBufferFullFlag)
			break
		}
		off += l
		used = DMIoctlSize + off
		off = alignVal(off)
		if off > len(out) {
			p.orFlags(DMBufferFullFlag)
			break
		}
		binary.LittleEndian.PutUint32(spec[20:], uint32(off))
	}
	if used != 0 {
		p.setDataSize(used)
	}
	p.setU32(offTargetCount, uint32(len(st)))
}

// retrieveDeps is retrieve_deps(): struct dm_target_deps.
func (p dmParam) retrieveDeps(deps []DevT) {
	out := p.resultBuffer()
	needed := 8 + 8*len(deps)
	if len(out) < needed {
		p.orFlags(DMBufferFullFlag)
		return
	}
	binary.LittleEndian.PutUint32(out, uint32(len(deps)))
	for i, d := range deps {
		binary.LittleEndian.PutUint64(out[8+8*i:], hugeEncode(d))
	}
	p.setDataSize(DMIoctlSize + needed)
}

// targetSpecs is populate_table()'s walk of the struct dm_target_spec
// list: target_count entries from data_start, each followed by its
// NUL-terminated parameters and linked by next. A malformed entry ends the
// list with a Bad spec (the kernel's "unable to find target").
func (p dmParam) targetSpecs() []TargetSpec {
	count := int(p.u32(offTargetCount))
	var specs []TargetSpec
	last, next := 0, int(p.u32(offDataStart))
	for i := 0; i < count; i++ {
		at := last + next
		params := at + targetSpecSize
		bad := next < targetSpecSize || at < 0 || params >= len(p.b)
		var end int
		if !bad {
			end = bytes.IndexByte(p.b[params:], 0)
			bad = end < 0
		}
		if bad {
			return append(specs, TargetSpec{Bad: true})
		}
		s := p.b[at:]
		// The type is read as a C string: it may run on past its 16 bytes.
		specs = append(specs, TargetSpec{
			Start:  binary.LittleEndian.Uint64(s),
			Length: binary.LittleEndian.Uint64(s[8:]),
			Type:   cstring(s[24:]),
			Params: string(p.b[params : params+end]),
		})
		last, next = at, int(binary.LittleEndian.Uint32(s[20:]))
	}
	return specs
}

// ctlMessage is target_message(): a struct dm_target_msg (sector and
// NUL-terminated text) at data_start; a target's answer goes back at
// data_start with DM_DATA_OUT_FLAG.
func (a ioctlAPI) ctlMessage(p dmParam) error {
	start := int(p.u32(offDataStart))
	maxlen := len(p.resultBuffer())
	if _, err := a.device(p.ref()); err != nil {
		return err
	}
	var msg string
	var sector uint64
	ok := start >= DMIoctlHeader && start+8 <= len(p.b)
	if ok {
		i := bytes.IndexByte(p.b[start+8:], 0)
		ok = i >= 0
		if ok {
			sector = binary.LittleEndian.Uint64(p.b[start:])
			msg = string(p.b[start+8 : start+8+i])
		}
	}
	if !ok {
		a.k.Log.DMErr("ioctl", "Invalid target message parameters.")
		return linuxerr.EINVAL
	}
	info, result, dataOut, err := a.targetMessage(p.ref(), sector, msg)
	if err != nil {
		return err
	}
	p.found(info)
	p.devStatus(info)
	if dataOut {
		p.orFlags(DMDataOutFlag)
		out := p.resultBuffer()
		if maxlen == 0 || len(result) >= maxlen-1 {
			p.orFlags(DMBufferFullFlag)
			return nil
		}
		copy(out, result)
		out[len(result)] = 0
		p.setDataSize(DMIoctlSize + len(result) + 1)
	}
	return nil
}

// ctlSetGeometry is dev_set_geometry(): "cylinders heads sectors start" at
// data_start. dmsim keeps no geometry (nothing reads it back), so a valid
// one is only checked against the device size (dm_set_geometry()).
func (a ioctlAPI) ctlSetGeometry(p dmParam) error {
	md, err := a.device(p.ref())
	if err != nil {
		return err
	}
	info, _ := a.DevStatus(p.ref(), IoctlFlags{})
	p.found(info)
	start := int(p.u32(offDataStart))
	var geo string
	ok := start >= DMIoctlHeader && start < len(p.b)
	if ok {
		i := bytes.IndexByte(p.b[start:], 0)
		ok = i >= 0
		if ok {
			geo = string(p.b[start : start+i])
		}
	}
	if !ok {
		a.k.Log.DMErr("ioctl", "Invalid geometry supplied.")
		return linuxerr.EINVAL
	}
	var v [4]uint64
	if !scanGeometry(geo, &v) {
		a.k.Log.DMErr("ioctl", "Unable to interpret geometry settings.")
		return linuxerr.EINVAL
	}
	if v[0] > 65535 || v[1] > 255 || v[2] > 255 {
		a.k.Log.DMErr("ioctl", "Geometry exceeds range limits.")
		return linuxerr.EINVAL
	}
	if v[3] > md.Size() {
		a.k.Log.DMErr("ioctl", "Start sector is beyond the geometry limits.")
		return linuxerr.EINVAL
	}
	p.setDataSize(0)
	return nil
}

// scanGeometry is the kernel's sscanf("%lu %lu %lu %lu%c") == 4: four
// numbers, each after optional white space, and nothing after the last.
func scanGeometry(s string, v *[4]uint64) bool {
	for i := range v {
		s = strings.TrimLeft(s, " \t\n\v\f\r")
		neg := false
		if s != "" && (s[0] == '+' || s[0] == '-') {
			neg = s[0] == '-'
			s = s[1:]
		}
		n := 0
		var x uint64
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			x = x*10 + uint64(s[n]-'0')
			n++
		}
		if n == 0 {
			return false
		}
		if neg {
			x = -x
		}
		v[i], s = x, s[n:]
	}
	return s == ""
}

// CtlCommandName names a command number for messages.
func CtlCommandName(cmd int) string {
	names := [...]string{"VERSION", "REMOVE_ALL", "LIST_DEVICES", "DEV_CREATE", "DEV_REMOVE", "DEV_RENAME",
		"DEV_SUSPEND", "DEV_STATUS", "DEV_WAIT", "TABLE_LOAD", "TABLE_CLEAR", "TABLE_DEPS", "TABLE_STATUS",
		"LIST_VERSIONS", "TARGET_MSG", "DEV_SET_GEOMETRY", "DEV_ARM_POLL", "GET_TARGET_VERSION"}
	if cmd >= 0 && cmd < len(names) {
		return names[cmd]
	}
	return fmt.Sprintf("cmd %d", cmd)
}

// DescribeDMIoctl prints a struct dm_ioctl header for traces.
func DescribeDMIoctl(b []byte) string {
	if len(b) < DMIoctlHeader {
		return fmt.Sprintf("(%d bytes)", len(b))
	}
	p := dmParam{b: b}
	return fmt.Sprintf("v%d.%d.%d size %d start %d targets %d open %d flags %#x event %d dev %v name %q uuid %q",
		p.u32(0), p.u32(4), p.u32(8), p.u32(offDataSize), p.u32(offDataStart), p.u32(offTargetCount),
		int32(p.u32(offOpenCount)), p.flags(), p.u32(offEventNr), HugeDecodeDev(p.dev()), p.name(), p.uuid())
}
