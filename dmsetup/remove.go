// The verbs that remove, rename or (re)make device nodes: remove, remove_all,
// rename, mknodes (dmsetup.c's _remove, _remove_all, _rename, _mknodes).

package dmsetup

import (
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

func (d *cmdCtx) remove(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if d.switches.given(optForce) && argc > 0 {
		d.errorDevice(argc, argv, nil, false)
	}
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tRemove, n, ok, 0, false)
	return r
}

func (d *cmdCtx) removeAll(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	// _remove_all: "_simple(...) | dm_mknodes(NULL)", both run
	_, r1 := d.simple(tRemoveAll, "", true, 0, false)
	m1 := d.mknodesAll()
	r := r1 || m1
	if !d.switches.given(optForce) {
		return r
	}
	count := func() int {
		n := 0
		d.processAll(true, func(*dmsim.NameEntry) bool { n++; return true })
		return n
	}
	if count() == 0 {
		return r
	}
	if d.processAll(true, func(ne *dmsim.NameEntry) bool { return d.errorDevice(0, nil, ne, false) }) {
		r = true
	}
	_, r2 := d.simple(tRemoveAll, "", true, 0, false)
	if m2 := d.mknodesAll(); r2 || m2 {
		r = true
	}
	if n := count(); n > 0 {
		d.errorf("Unable to remove %d device(s).", n)
	}
	return r
}

func (d *cmdCtx) rename(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	name, haveName := "", argc == 2
	if haveName {
		name = argv[0]
	}
	t := d.newTask(tRename)
	if !d.setTaskDevice(t, name, haveName, false) {
		return false
	}
	target := argv[argc-1]
	if d.switches.given(optSetUUID) {
		if len(target) >= dmUUIDLen {
			d.errorf("Uuid \"%s\" too long", target) // dm_task_set_newuuid()
			return false
		}
		t.newUUID, t.newName = true, target
	} else if !t.setNewName(target) {
		return false
	}
	d.applyCommon(t)
	return t.run()
}

func (d *cmdCtx) mknodes(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if argc == 0 {
		return d.mknodesAll()
	}
	t := d.newTask(tMknodes)
	if !t.setName(argv[0]) {
		return false
	}
	return t.run()
}

// mangle is _mangle: rename a device whose name is not in the form the
// mangling mode (--manglename, default auto) wants. It runs with libdm's
// own mangling off, so names are listed and looked up as the kernel has
// them; a uuid in the wrong form cannot be changed.
func (d *cmdCtx) mangle(argc int, argv []string, ne *dmsim.NameEntry, _ bool) bool {
	var name string
	haveName := false
	switch {
	case ne != nil:
		name, haveName = ne.Name, true
	case argc == 0 && !d.switches.given(optUUID) && !d.switches.given(optMajor):
		return d.processAll(false, func(e *dmsim.NameEntry) bool { return d.mangle(0, nil, e, true) })
	case argc > 0:
		name, haveName = argv[0], true
	}
	t := d.newTask(tStatus)
	if !d.setTaskDevice(t, name, haveName, false) || !t.run() || !t.exists {
		return false
	}
	uuid := t.info.UUID
	target := "auto"
	if m, ok := d.strArg[optMangleName]; ok {
		target = strings.ToLower(m)
	}
	if target == "auto" {
		if strings.Contains(name, `\x5cx`) {
			d.errorf("The name \"%s\" seems to be mangled more than once. Manual intervention required to rename the device.", name)
			return false
		}
		if strings.Contains(uuid, `\x5cx`) {
			d.errorf("The UUID \"%s\" seems to be mangled more than once. Manual intervention required to correct the device UUID.", uuid)
			return false
		}
	}
	var newName, newUUID string
	var ok1, ok2 bool
	if target == "none" {
		newName, ok1 = d.unmangled(t.info.Name, "name")
		newUUID, ok2 = d.unmangled(uuid, "UUID")
	} else {
		newName, ok1 = d.mangled(t.info.Name, "name", dmNameLen)
		newUUID, ok2 = d.mangled(uuid, "UUID", dmUUIDLen)
	}
	if !ok1 || !ok2 {
		return false
	}
	if uuid != newUUID {
		d.errorf("%s: %s: UUID in incorrect form. ", name, uuid)
		d.errorf("Unable to change device UUID. The device must be deactivated first.")
		return false
	}
	if name == newName {
		if uuid != "" {
			d.printf("%s: %s: name and UUID already in correct form\n", name, uuid)
		} else {
			d.printf("%s: [no UUID]: name already in correct form\n", name)
		}
		return true
	}
	d.printf("%s: renaming to %s\n", name, newName)
	// _do_rename
	r := d.newTask(tRename)
	if !r.setName(name) || !r.setNewName(newName) {
		return false
	}
	d.applyCommon(r)
	return r.run()
}
