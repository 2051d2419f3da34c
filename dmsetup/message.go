// message, wait, targets, target-version, version, and the verbs dmsim does
// not support (measure, stats, mangle, the udev ones, setgeometry).

package dmsetup

import (
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

func (d *cmdCtx) unsupported(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	d.errorf("dmsim: this dmsetup command is not supported")
	return false
}

func (d *cmdCtx) wait(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	name, haveName := "", false
	if !d.switches.given(optUUID) && !d.switches.given(optMajor) {
		if argc == 0 {
			d.errorf("No device specified.")
			return false
		}
		name, haveName = argv[0], true
		argc--
		argv = argv[1:]
	}
	var ev uint32
	if argc > 0 {
		ev = uint32(catoi(argv[argc-1]))
	}
	_, r := d.simple(tWaitEvent, name, haveName, ev, true)
	return r
}

func (d *cmdCtx) message(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	t := d.newTask(tTargetMsg)
	if d.switches.given(optUUID) || d.switches.given(optMajor) {
		if !d.setTaskDevice(t, "", false, false) {
			return false
		}
	} else {
		if !d.setTaskDevice(t, argv[0], true, false) {
			return false
		}
		argc--
		argv = argv[1:]
	}
	// strtoull(argv[0], &end, 10): white space and a sign may lead; no
	// digits, trailing garbage or overflow is an invalid sector.
	sector, rest, ok := scanULL(argv[0])
	if !ok || rest != "" || ullOverflows(argv[0]) {
		d.errorf("Invalid sector.")
		return false
	}
	t.sector = sector
	argc--
	argv = argv[1:]
	if argc <= 0 {
		d.errorf("No message supplied.")
	}
	t.message = strings.Join(argv[:max(argc, 0)], " ")
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	if t.response != "" {
		if strings.HasSuffix(t.response, "\n") {
			d.printf("%s", t.response)
		} else {
			d.printf("%s\n", t.response)
		}
	}
	return true
}

func (d *cmdCtx) targets(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	t := d.newTask(tListVersions)
	if !t.run() {
		return false
	}
	for _, v := range t.versions {
		d.printf("%-16s v%d.%d.%d\n", v.Name, v.Version[0], v.Version[1], v.Version[2])
	}
	return true
}

func (d *cmdCtx) targetVersion(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	t := d.newTask(tTargetVersion)
	t.name = argv[0]
	if !t.run() {
		return false
	}
	v := t.versions[0]
	d.printf("%-16s v%d.%d.%d\n", v.Name, v.Version[0], v.Version[1], v.Version[2])
	return true
}

func (d *cmdCtx) version(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	d.printf("Library version:   %s\n", libraryVersion)
	api := d.k.Ioctl()
	if api == nil {
		return false
	}
	v := api.Version()
	d.printf("Driver version:    %d.%d.%d\n", v[0], v[1], v[2])
	d.report = nil
	return true
}
