package dmsetup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// Kernel is what dmsetup needs from the kernel: the device-mapper ioctls
// and the /dev and /sys services libdevmapper uses. *dmsim.Kernel has them.
type Kernel interface {
	Ioctl() dmsim.IoctlAPI
	Mknod(path string, dev dmsim.DevT) error
	Unlink(path string) error
	DevNodes(dir string) map[string]dmsim.DevT
	// DevStat is stat(2) (follow) or lstat(2) of a path under /dev;
	// resolved is where the lookup ended.
	DevStat(p string, follow bool) (e dmsim.DevEntry, resolved string, err error)
	// DevReadDir lists a /dev directory in getdents(2)'s order.
	DevReadDir(dir string) ([]string, error)
	Rename(oldp, newp string) error
	LookupBdev(path string) (dmsim.BlockDevice, error)
	BdevByDevT(d dmsim.DevT) (dmsim.BlockDevice, error)
	SysfsRead(path string) (string, error)
}

// Library facts of libdevmapper 1.02.185.
const (
	libraryVersion = "1.02.185 (2022-05-18)"
	dmDir          = "/dev/mapper"
	dmNameLen      = 128 // DM_NAME_LEN
	dmUUIDLen      = 129 // DM_UUID_LEN
	ioctlRetries   = 25  // DM_IOCTL_RETRIES
	retryDelay     = 200 * time.Millisecond
)

type taskType int

const (
	tCreate taskType = iota
	tReload
	tRemove
	tRemoveAll
	tSuspend
	tResume
	tInfo
	tDeps
	tRename
	tVersion
	tStatus
	tTable
	tWaitEvent
	tList
	tClear
	tMknodes
	tListVersions
	tTargetMsg
	tTargetVersion
)

// ioctlName is _cmd_data_v4[].name, as error messages print it.
var ioctlName = map[taskType]string{
	tCreate: "create", tReload: "reload", tRemove: "remove", tRemoveAll: "remove_all",
	tSuspend: "suspend", tResume: "resume", tInfo: "info", tDeps: "deps", tRename: "rename",
	tVersion: "version", tStatus: "status", tTable: "table", tWaitEvent: "waitevent",
	tList: "names", tClear: "clear", tMknodes: "mknodes", tListVersions: "versions",
	tTargetMsg: "message", tTargetVersion: "target-version",
}

// task is a struct dm_task: one ioctl (or a composite like create with a
// table) and its answer.
type task struct {
	d   *cmdCtx
	typ taskType

	name         string
	uuid         string
	major, minor int // -1: not set
	targets      []dmsim.TargetSpec
	readOnly     bool
	noFlush      bool
	skipLockfs   bool
	inactive     bool
	deferred     bool
	retryRemove  bool
	newName      string
	newUUID      bool
	message      string
	sector       uint64
	eventNr      uint32
	addNodeOnCre bool

	// answer
	info     dmsim.DMInfo
	exists   bool
	status   []dmsim.TargetStatus
	deps     []dmsim.DevT
	names    []dmsim.NameEntry
	versions []dmsim.TargetVersion
	response string
	errno    linuxerr.Errno
}

func (d *cmdCtx) newTask(t taskType) *task {
	return &task{d: d, typ: t, major: -1, minor: -1}
}

// setName is dm_task_set_name: a name with a '/' is a path to an existing
// device, resolved to its device-mapper name.
func (t *task) setName(name string) bool {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return t.setNameFromPath(name, name[i+1:])
	}
	if len(name) >= dmNameLen {
		t.d.errorf("Name \"%s\" too long.", name)
		return false
	}
	m, ok := t.d.mangleForKernel(name, "name", "Failed to mangle device name \"%s\".")
	if !ok {
		return false
	}
	t.name = m
	return true
}

// mangleForKernel is what _dm_task_set_name and dm_task_set_newname do to a
// name before it reaches the kernel: in auto mode a name holding "\x5cx" is
// refused (check_multiple_mangled_string_allowed), and unless the mode is
// none, characters udev does not allow become \xNN (mangle_string).
func (d *cmdCtx) mangleForKernel(s, what, failMsg string) (string, bool) {
	mode := d.manglingMode()
	if mode == "auto" && strings.Contains(s, `\x5cx`) {
		d.errorf("The %s \"%s\" seems to be mangled more than once. This is not allowed in auto mode.", what, s)
		return "", false
	}
	if mode == "none" {
		return s, true
	}
	m, ok := d.mangled(s, what, dmNameLen)
	if !ok {
		d.errorf(failMsg, s)
		return "", false
	}
	return m, true
}

// unmangleAnswer is _dm_ioctl_unmangle_names and _uuids: the names and
// uuid the kernel returns are shown unmangled unless the mode is none; a
// name holding characters udev does not allow fails the ioctl (each such
// name of a list is reported).
func (t *task) unmangleAnswer() bool {
	d := t.d
	if d.manglingMode() == "none" {
		return true
	}
	ok := true
	un := func(s, what string) string {
		if s == "" {
			return s
		}
		if d.manglingMode() == "auto" && strings.Contains(s, `\x5cx`) {
			d.errorf("The %s \"%s\" seems to be mangled more than once. This is not allowed in auto mode.", what, s)
			ok = false
			return s
		}
		u, good := d.unmangled(s, what)
		if !good {
			ok = false
			return s
		}
		return u
	}
	t.info.Name = un(t.info.Name, "name")
	t.info.UUID = un(t.info.UUID, "UUID")
	for i := range t.names {
		t.names[i].Name = un(t.names[i].Name, "name")
	}
	return ok
}

func (t *task) setNameFromPath(p, base string) bool {
	d := t.d
	if t.typ == tCreate {
		d.errorf("Name \"%s\" invalid. It contains \"/\".", p)
		return false
	}
	var final string
	dev, ok := d.statDev(p)
	if ok {
		if dev2, ok2 := d.statDev(dmDir + "/" + base); ok2 && dev2 == dev {
			final = base
		}
	} else {
		if len(p) < 3 || p[0] == '/' || strings.Count(p, "/") != 1 {
			d.errorf("Device %s not found", p)
			return false
		}
		if dev, ok = d.statDev(path.Clean(dmDir + "/../" + p)); !ok {
			d.errorf("Device %s not found", p)
			return false
		}
	}
	if final == "" {
		for n, nd := range d.mapperNodes() {
			if nd == dev {
				if final == "" || n < final {
					final = n
				}
			}
		}
		if final == "" {
			d.errorf("Device %s not found", base)
			return false
		}
	}
	t.name = final
	return true
}

// setUUID is dm_task_set_uuid(): unless the mangling mode is none, the uuid
// must fit DM_UUID_LEN in its mangled form.
func (t *task) setUUID(uuid string) bool {
	if t.d.manglingMode() != "none" {
		m, ok := t.d.mangled(uuid, "UUID", dmUUIDLen)
		if !ok {
			t.d.errorf("Failed to mangle device uuid \"%s\".", uuid)
			return false
		}
		uuid = m
	}
	t.uuid = uuid
	return true
}

func (t *task) setNewName(n string) bool {
	switch {
	case strings.Contains(n, "/"):
		t.d.errorf("Name \"%s\" invalid. It contains \"/\".", n)
		return false
	case len(n) >= dmNameLen:
		t.d.errorf("Name \"%s\" too long", n)
		return false
	case n == "":
		t.d.errorf("Non empty new name is required.")
		return false
	}
	m, ok := t.d.mangleForKernel(n, "new name", "Failed to mangle new device name \"%s\".")
	if !ok {
		return false
	}
	t.newName = m
	return true
}

func (t *task) ref() dmsim.DevRef {
	r := dmsim.DevRef{UUID: t.uuid}
	if t.major > 0 {
		r.Dev = dmsim.DevT{Major: uint32(t.major), Minor: uint32(max(t.minor, 0))}
		return r
	}
	if t.uuid == "" {
		r.Name = t.name
	}
	return r
}

func (t *task) flags() dmsim.IoctlFlags {
	return dmsim.IoctlFlags{ReadOnly: t.readOnly, NoFlush: t.noFlush, SkipLockfs: t.skipLockfs,
		Inactive: t.inactive, Deferred: t.deferred}
}

// ioctlFailed prints libdm's _do_dm_ioctl error line.
func (t *task) ioctlFailed(err error) {
	devpart := ""
	if t.major > 0 {
		devpart = fmt.Sprintf("(%d:%d)", t.major, max(t.minor, 0))
	}
	t.d.errorf("device-mapper: %s ioctl on %s %s%s failed: %s", ioctlName[t.typ], t.name, t.uuid,
		devpart, linuxerr.Strerror(err))
}

// run is dm_task_run.
func (t *task) run() bool {
	if t.typ == tCreate && len(t.targets) > 0 {
		return t.createAndLoad()
	}
	if t.typ == tMknodes && t.name == "" && t.uuid == "" && t.major <= 0 {
		return t.d.mknodesAll()
	}
	d := t.d
	var err error
	for try := 0; ; try++ {
		err = t.ioctl()
		if err == nil || !t.retryRemove || t.typ != tRemove || linuxerr.ToErrno(err) != linuxerr.EBUSY || try+1 >= ioctlRetries {
			break
		}
		// libdm logs every failed attempt before it retries
		t.ioctlFailed(err)
		if d.sleep(retryDelay) != nil {
			break
		}
	}
	if err != nil {
		if d.killed {
			return false
		}
		t.errno = linuxerr.ToErrno(err)
		if t.errno == linuxerr.ENXIO && (t.typ == tInfo || t.typ == tMknodes || t.typ == tStatus) {
			t.exists = false
			return t.nodeOps()
		}
		t.ioctlFailed(err)
		return false
	}
	t.exists = true
	ok := t.nodeOps()
	return t.unmangleAnswer() && ok
}

// ioctl performs the kernel call as a clock actor.
func (t *task) ioctl() error {
	d := t.d
	api := d.k.Ioctl()
	if api == nil {
		return linuxerr.ENODEV
	}
	var err error
	switch t.typ {
	case tCreate:
		t.info, err = api.DevCreate(t.name, t.uuid, t.flags())
	case tReload:
		t.info, err = api.TableLoad(t.ref(), t.targets, t.flags())
	case tRemove:
		t.info, err = api.DevRemove(t.ref(), t.flags())
	case tRemoveAll:
		err = api.RemoveAll(t.flags())
	case tSuspend:
		t.info, err = api.DevSuspend(t.ref(), t.flags())
	case tResume:
		t.info, err = api.DevResume(t.ref(), t.flags())
	case tInfo, tMknodes:
		t.info, err = api.DevStatus(t.ref(), t.flags())
	case tDeps:
		t.info, t.deps, err = api.TableDeps(t.ref(), t.flags())
	case tRename:
		target := t.newName
		if t.newUUID {
			target = t.uuidArg()
		}
		t.info, err = api.DevRename(t.ref(), target, t.newUUID)
	case tStatus:
		t.info, t.status, err = api.TableStatus(t.ref(), dmsim.StatusInfo, t.flags())
	case tTable:
		t.info, t.status, err = api.TableStatus(t.ref(), dmsim.StatusTable, t.flags())
	case tWaitEvent:
		t.info, t.status, err = api.DevWait(d.p.Ctx, t.ref(), t.eventNr, t.flags())
		if err != nil && d.p.Killed() {
			err = nil // killed while waiting: the process is gone
			d.killed = true
		}
	case tList:
		t.names = api.ListDevices()
	case tClear:
		t.info, err = api.TableClear(t.ref())
	case tListVersions:
		t.versions = api.ListVersions()
	case tTargetMsg:
		t.info, t.response, err = api.TargetMessage(t.ref(), t.sector, t.message)
	case tTargetVersion:
		err = linuxerr.EINVAL
		for _, v := range api.ListVersions() {
			if v.Name == t.name {
				t.versions = []dmsim.TargetVersion{v}
				err = nil
			}
		}
	case tVersion:
	}
	if err != nil && (d.p.Killed() || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// a signal interrupted a wait in the kernel: the process dies
		d.killed = true
	}
	return err
}

// uuidArg holds the new UUID of `rename --setuuid` (kept in newName).
func (t *task) uuidArg() string { return t.newName }

// nodeOps does what libdm does to /dev/mapper after a successful ioctl when
// udev is not used (DM_DISABLE_UDEV=1).
func (t *task) nodeOps() bool {
	d := t.d
	switch t.typ {
	case tCreate:
		if t.addNodeOnCre && t.name != "" {
			d.addNode(t.name, t.info.Dev)
		}
	case tRemove:
		if t.name != "" {
			d.rmNode(t.name)
		}
	case tRename:
		if !t.newUUID && t.name != "" {
			d.renameNode(t.name, t.newName)
		}
	case tResume:
		if t.name != "" && !t.addNodeOnCre {
			d.addNode(t.name, t.info.Dev)
		}
	case tMknodes:
		if t.exists {
			d.addNode(t.info.Name, t.info.Dev)
		} else if t.name != "" {
			d.rmNode(t.name)
		}
	}
	return true
}

// createAndLoad is _create_and_load_v4: create, load the table addressed by
// the new device number, resume; on failure the device is removed again.
func (t *task) createAndLoad() bool {
	d := t.d
	create := d.newTask(tCreate)
	create.name, create.uuid = t.name, t.uuid
	create.addNodeOnCre = t.addNodeOnCre
	create.targets = nil
	if !create.run() {
		return false
	}
	reload := d.newTask(tReload)
	reload.name = t.name
	reload.targets = t.targets
	reload.readOnly = t.readOnly
	reload.major, reload.minor = int(create.info.Dev.Major), int(create.info.Dev.Minor)
	if reload.run() {
		resume := d.newTask(tResume)
		resume.name = t.name
		resume.addNodeOnCre = t.addNodeOnCre
		if resume.run() {
			t.info, t.exists = resume.info, true
			return true
		}
	}
	rm := d.newTask(tRemove)
	rm.name = t.name
	if !rm.run() {
		d.errorf("Failed to revert device creation.")
	}
	return false
}

// ---- /dev/mapper nodes ----

func (d *cmdCtx) mapperNodes() map[string]dmsim.DevT {
	out := map[string]dmsim.DevT{}
	for n, dev := range d.k.DevNodes(dmDir) {
		n = path.Base(n)
		if n != "control" {
			out[n] = dev
		}
	}
	return out
}

// statDev is stat(2)'s st_rdev for a device node.
func (d *cmdCtx) statDev(p string) (dmsim.DevT, bool) {
	p = path.Clean(p)
	if dev, ok := d.k.DevNodes(path.Dir(p))[path.Base(p)]; ok {
		return dev, true
	}
	if dev, ok := d.k.DevNodes(path.Dir(p))[p]; ok {
		return dev, true
	}
	if strings.HasPrefix(p, dmDir+"/") {
		return dmsim.DevT{}, false
	}
	b, err := d.k.LookupBdev(p)
	if err != nil || b == nil {
		return dmsim.DevT{}, false
	}
	return b.Dev(), true
}

// statNode is stat(2) (follow) or lstat(2) of a /dev/mapper path. A
// symlink that leads out of /dev finds nothing dmsim's kernel has.
func (d *cmdCtx) statNode(p string, follow bool) (dmsim.DevEntry, error) {
	e, resolved, err := d.k.DevStat(p, follow)
	if err == nil && resolved != "/dev" && !strings.HasPrefix(resolved, "/dev/") {
		err = linuxerr.ENOENT
	}
	return e, err
}

// addNode is _add_dev_node(): stat() (through a symlink) finds a block
// device: kept if it has the right number, else unlinked (a symlink to
// another device goes) and made anew; anything else in the way is an
// error and stays. mknod's EEXIST is ignored, so a dangling symlink is
// left and chown() through it fails.
func (d *cmdCtx) addNode(name string, dev dmsim.DevT) {
	p := dmDir + "/" + name
	if e, err := d.statNode(p, true); err == nil {
		if e.Kind != dmsim.DevBlk {
			d.errorf("A non-block device file at '%s' is already present", p)
			return
		}
		if e.Dev == dev {
			return
		}
		if err := d.k.Unlink(p); err != nil {
			d.errorf("Unable to unlink device node for '%s'", name)
			return
		}
	}
	if err := d.k.Mknod(p, dev); err != nil && linuxerr.ToErrno(err) != linuxerr.EEXIST {
		d.errorf("%s: mknod for %s failed: %s", p, name, linuxerr.Strerror(err))
		return
	}
	if _, err := d.statNode(p, true); err != nil {
		d.errorf("%s: chown failed: %s", p, linuxerr.Strerror(err))
	}
}

// rmNode is _rm_dev_node(): whatever lstat() finds at the name goes (a
// symlink, not its target); a directory cannot be unlinked.
func (d *cmdCtx) rmNode(name string) {
	p := dmDir + "/" + name
	if _, err := d.statNode(p, false); err != nil {
		return
	}
	if err := d.k.Unlink(p); err != nil && linuxerr.ToErrno(err) != linuxerr.ENOENT {
		d.errorf("Unable to unlink device node for '%s'", name)
	}
}

// renameNode is _rename_dev_node(): lstat() of the new name, through a
// symlink with stat(); only a block device there is replaced. Then
// rename(2), whose ENOENT (no old node) is ignored.
func (d *cmdCtx) renameNode(oldName, newName string) {
	newp := dmDir + "/" + newName
	if e, err := d.statNode(newp, false); err == nil {
		if e.Kind == dmsim.DevLink {
			if e, err = d.statNode(newp, true); err != nil {
				d.errorf("%s: stat failed: %s", newp, linuxerr.Strerror(err))
				return
			}
		}
		if e.Kind != dmsim.DevBlk {
			d.errorf("A non-block device file at '%s' is already present", newp)
			return
		}
		if err := d.k.Unlink(newp); err != nil {
			if linuxerr.ToErrno(err) == linuxerr.EPERM {
				return
			}
			d.errorf("Unable to unlink device node for '%s'", newName)
			return
		}
	}
	if err := d.k.Rename(dmDir+"/"+oldName, newp); err != nil && linuxerr.ToErrno(err) != linuxerr.ENOENT {
		d.errorf("Unable to rename device node from '%s' to '%s'", oldName, newName)
	}
}

// mknodesAll is _mknodes_v4: fix every entry of /dev/mapper, in readdir
// order (control aside), then make one for every device.
func (d *cmdCtx) mknodesAll() bool {
	r := true
	names, _ := d.k.DevReadDir(dmDir)
	for _, n := range names {
		if n == "control" {
			continue
		}
		t := d.newTask(tMknodes)
		t.name = n
		if !t.run() {
			r = false
		}
	}
	list := d.newTask(tList)
	if !list.run() {
		return false
	}
	for _, e := range list.names {
		t := d.newTask(tMknodes)
		if !t.setName(e.Name) || !t.run() {
			r = false
		}
	}
	return r
}

// readAhead is dm_task_get_read_ahead: /sys/dev/block/M:m/bdi/read_ahead_kb
// × 2, else BLKRAGET on the node (which fails when there is none).
func (d *cmdCtx) readAhead(name string, dev dmsim.DevT) (uint32, bool) {
	if dev.Major != 0 {
		s, err := d.k.SysfsRead(fmt.Sprintf("/sys/dev/block/%d:%d/bdi/read_ahead_kb", dev.Major, dev.Minor))
		if err == nil {
			n, _ := strconv.Atoi(strings.TrimSpace(s))
			return uint32(n * 2), true
		}
	}
	if name == "" {
		d.errorf("Empty device name passed to BLKRAGET")
		return 0, false
	}
	p := dmDir + "/" + name
	if _, ok := d.mapperNodes()[name]; !ok {
		d.errorf("%s: open failed: %s", p, linuxerr.Strerror(linuxerr.ENOENT))
		return 0, false
	}
	if _, err := d.k.LookupBdev(p); err != nil {
		d.errorf("%s: open failed: %s", p, linuxerr.Strerror(err))
		return 0, false
	}
	d.errorf("%s: BLKRAGET failed: %s", name, linuxerr.Strerror(linuxerr.ENOTTY))
	return 0, false
}
