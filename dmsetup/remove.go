// The verbs that remove, rename or (re)make device nodes: remove, remove_all,
// rename, mknodes (dmsetup.c's _remove, _remove_all, _rename, _mknodes).

package dmsetup

import "github.com/dmsim/dmsim/dmsim"

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
