// The reporting verbs: status, table, info, deps and ls (dmsetup.c's
// _status, _info, _deps, _ls).

package dmsetup

import (
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/userland"
)

func (d *cmdCtx) ls(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if (d.switches.given(optTarget) && d.target != "") || (d.switches.given(optExec) && d.execCmd != "") {
		return d.statusCmd("ls", 0, nil, nil, false)
	}
	if d.switches.given(optTree) {
		return d.tree()
	}
	return d.processAll(false, func(ne *dmsim.NameEntry) bool {
		if s, ok := d.devName(ne.Dev); ok {
			d.printf("%s\t(%s)\n", ne.Name, s)
		} else {
			d.printf("%s\t(%d:%d)\n", ne.Name, ne.Dev.Major, ne.Dev.Minor)
		}
		return true
	})
}

// devName is dm_device_get_name for -o blkdevname / devname.
func (d *cmdCtx) devName(dev dmsim.DevT) (string, bool) {
	switch d.devNameType {
	case dnBlk:
		if b, err := d.k.BdevByDevT(dev); err == nil && b != nil {
			return b.Name(), true
		}
	case dnMap:
		for _, e := range d.listDevices() {
			if e.Dev == dev {
				return e.Name, true
			}
		}
		if b, err := d.k.BdevByDevT(dev); err == nil && b != nil {
			return b.Name(), true
		}
	}
	return "", false
}

func (d *cmdCtx) listDevices() []dmsim.NameEntry {
	api := d.k.Ioctl()
	if api == nil {
		return nil
	}
	return api.ListDevices()
}

func (d *cmdCtx) status(argc int, argv []string, ne *dmsim.NameEntry, multiple bool) bool {
	return d.statusCmd(d.cmdName, argc, argv, ne, multiple)
}

// deviceArg is how _status, _info and _deps pick their device: the entry
// they are called with for each device, else the first argument; all is
// set when there is neither (and no --uuid or --major), meaning every
// device.
func (d *cmdCtx) deviceArg(argc int, argv []string, ne *dmsim.NameEntry) (name string, haveName, all bool) {
	switch {
	case ne != nil:
		return ne.Name, true, false
	case argc > 0:
		return argv[0], true, false
	}
	return "", false, !d.switches.given(optUUID) && !d.switches.given(optMajor)
}

// statusCmd is _status, shared by status, table and ls --target/--exec.
func (d *cmdCtx) statusCmd(cmdName string, argc int, argv []string, ne *dmsim.NameEntry, multiple bool) bool {
	name, _, all := d.deviceArg(argc, argv, ne)
	if all {
		return d.processAll(false, func(e *dmsim.NameEntry) bool { return d.statusCmd(cmdName, 0, nil, e, true) })
	}
	typ := tStatus
	if cmdName == "table" {
		typ = tTable
	}
	lsOnly := cmdName == "ls"
	t := d.newTask(typ)
	if !d.setTaskDevice(t, name, name != "" || ne != nil, false) {
		return false
	}
	d.applyCommon(t)
	t.noFlush = d.switches.given(optNoFlush)
	if !t.run() {
		return false
	}
	if !t.exists {
		d.errorf("Device does not exist.")
		return false
	}
	if name == "" {
		name = t.info.Name
	}
	verbose := d.switches.given(optVerbose)
	execing := d.switches.given(optExec) && d.execCmd != ""
	matched := false
	targets := t.status
	if len(targets) == 0 {
		targets = []dmsim.TargetStatus{{}} // no table: one pass with no target
	}
	for i, s := range targets {
		hasTarget := len(t.status) > 0
		if d.switches.given(optTarget) && (!hasTarget || s.Type != d.target) {
			continue
		}
		if lsOnly {
			if !execing || verbose {
				d.printf("%s\t(%d, %d)\n", name, t.info.Dev.Major, t.info.Dev.Minor)
			}
			matched = true
			break
		}
		if !execing || verbose {
			concise := d.switches.given(optConcise) && typ == tTable
			if !concise {
				if !matched && verbose {
					d.displayInfo(t)
				}
				if multiple && !verbose {
					d.printf("%s: ", name)
				}
			} else if !matched {
				// --concise: name,uuid,minor,flags then ",start length type params" per target
				if d.conciseOutput {
					d.printf(";")
				}
				d.conciseOutput = true
				rw := "rw"
				if t.info.ReadOnly {
					rw = "ro"
				}
				d.printf("%s,%s,%d,%s", conciseQuote(name), conciseQuote(t.info.UUID), t.info.Dev.Minor, rw)
			}
			if hasTarget {
				if concise {
					d.printf(",%d %d %s %s", s.Start, s.Length, s.Type, conciseQuote(s.Params))
				} else {
					d.printf("%d %d %s %s", s.Start, s.Length, s.Type, s.Params)
				}
			}
			if !concise {
				d.printf("\n")
			}
		}
		matched = true
		_ = i
	}
	if multiple && verbose && matched && !lsOnly && (!d.switches.given(optConcise) || d.switches[optVerbose] > 1) {
		d.printf("\n")
	}
	if matched && execing {
		if !d.execCommand(name) {
			return false
		}
	}
	return true
}

// execCommand is _exec_command: make the node, then run the --exec command
// with the device path appended.
func (d *cmdCtx) execCommand(name string) bool {
	mk := d.newTask(tMknodes)
	mk.name = name
	if !mk.run() {
		return false
	}
	args := strings.Fields(d.execCmd)
	if len(args) == 0 {
		return false
	}
	args = append(args, dmDir+"/"+name)
	userland.Run(d.p, args)
	return true
}

func (d *cmdCtx) info(argc int, argv []string, ne *dmsim.NameEntry, multiple bool) bool {
	name, haveName, all := d.deviceArg(argc, argv, ne)
	if all {
		return d.processAll(false, func(e *dmsim.NameEntry) bool { return d.info(0, nil, e, true) })
	}
	t := d.newTask(tInfo)
	if !d.setTaskDevice(t, name, haveName, false) {
		return false
	}
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	return d.displayInfo(t)
}

// displayInfo is _display_info.
func (d *cmdCtx) displayInfo(t *task) bool {
	if !t.exists {
		d.errorf("Device does not exist.")
		return false
	}
	if d.report == nil {
		d.displayInfoLong(t)
		return true
	}
	return d.displayInfoCols(t)
}

// displayInfoLong is _display_info_long.
func (d *cmdCtx) displayInfoLong(t *task) {
	i := t.info
	state := "ACTIVE"
	if i.Suspended {
		state = "SUSPENDED"
	}
	if i.ReadOnly {
		state += " (READ-ONLY)"
	}
	if i.DeferredRemove {
		state += " (DEFERRED REMOVE)"
	}
	d.printf("Name:              %s\n", i.Name)
	d.printf("State:             %s\n", state)
	if ra, ok := d.readAhead(i.Name, i.Dev); ok {
		d.printf("Read Ahead:        %d\n", ra)
	}
	switch {
	case !i.LivePresent && !i.InactivePresent:
		d.printf("Tables present:    None\n")
	case i.LivePresent && i.InactivePresent:
		d.printf("Tables present:    LIVE & INACTIVE\n")
	case i.LivePresent:
		d.printf("Tables present:    LIVE\n")
	default:
		d.printf("Tables present:    INACTIVE\n")
	}
	d.printf("Open count:        %d\n", i.OpenCount)
	d.printf("Event number:      %d\n", i.EventNr)
	d.printf("Major, minor:      %d, %d\n", i.Dev.Major, i.Dev.Minor)
	d.printf("Number of targets: %d\n", i.TargetCount)
	if i.UUID != "" {
		d.printf("UUID: %s\n", i.UUID)
	}
	d.printf("\n")
}

func (d *cmdCtx) deps(argc int, argv []string, ne *dmsim.NameEntry, multiple bool) bool {
	name, haveName, all := d.deviceArg(argc, argv, ne)
	if all {
		return d.processAll(false, func(e *dmsim.NameEntry) bool { return d.deps(0, nil, e, true) })
	}
	t := d.newTask(tDeps)
	if !d.setTaskDevice(t, name, haveName, false) {
		return false
	}
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	verbose := d.switches.given(optVerbose)
	if verbose {
		d.displayInfo(t)
	}
	if multiple && !verbose {
		d.printf("%s: ", name)
	}
	d.printf("%d dependencies\t:", len(t.deps))
	for _, dev := range t.deps {
		if s, ok := d.devName(dev); ok {
			d.printf(" (%s)", s)
		} else {
			d.printf(" (%d, %d)", dev.Major, dev.Minor)
		}
	}
	d.printf("\n")
	if multiple && verbose {
		d.printf("\n")
	}
	return true
}

// conciseQuote backslash-quotes the characters special in the concise
// format: comma, semicolon and backslash.
func conciseQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(",;\\", s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
