// The verbs that load tables: create, load/reload, clear and wipe_table
// (dmsetup.c's _create, _load, _clear, _error_device).

package dmsetup

import (
	"io"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/table"
)

// readTable is _parse_file: --table text, a table file, or stdin; each line
// becomes a target (libdm checks the type name's length as it adds it, and
// doubles backslashes in the parameters when it marshals them).
func (d *cmdCtx) readTable(file string, haveFile bool) ([]dmsim.TargetSpec, bool) {
	var lines []table.Line
	var err error
	switch {
	case d.hasTbl:
		lines, err = table.ParseTableArg(d.table)
	case haveFile:
		f, oerr := d.p.Open(file)
		var b []byte
		if oerr == nil {
			b, _ = io.ReadAll(f)
			f.Close()
		}
		if oerr != nil {
			d.errorf("Couldn't open '%s' for reading.", file)
			return nil, false
		}
		lines, err = table.ParseLines(string(b), file)
	default:
		var b []byte
		d.p.Token().Blocking(func() { b, _ = io.ReadAll(d.p.Stdin) })
		lines, err = table.ParseLines(string(b), "on stdin")
	}
	if err != nil {
		d.errorf("%s", err.Error())
		return nil, false
	}
	specs := make([]dmsim.TargetSpec, 0, len(lines))
	for _, l := range lines {
		if err := table.CheckTypeName(l.Type); err != nil {
			d.errorf("%s", err.Error())
			return nil, false
		}
		specs = append(specs, dmsim.TargetSpec{Start: l.Start, Length: l.Length, Type: l.Type,
			Params: table.EscapeParams(l.Params)})
	}
	return specs, true
}

func (d *cmdCtx) create(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if d.switches.given(optConcise) {
		d.errorf("dmsim: dmsetup create --concise is not supported")
		return false
	}
	if argc == 0 {
		d.errorf("Please provide a name for the new device.")
		return false
	}
	name := argv[0]
	file, haveFile := "", argc == 2
	if haveFile {
		file = argv[1]
	}
	t := d.newTask(tCreate)
	if !t.setName(name) {
		return false
	}
	if d.switches.given(optUUID) && !t.setUUID(d.uuid) {
		return false
	}
	if !d.switches.given(optNotable) {
		specs, ok := d.readTable(file, haveFile)
		if !ok {
			return false
		}
		t.targets = specs
	}
	t.readOnly = d.switches.given(optReadOnly)
	t.inactive = d.switches.given(optInactive)
	t.addNodeOnCre = d.switches.given(optAddNodeOnCreate)
	if d.switches.given(optMajor) || d.switches.given(optMinor) {
		d.errorf("dmsim: dmsetup create: --major/--minor are not supported")
		return false
	}
	if !t.run() {
		return false
	}
	if d.switches.given(optVerbose) {
		return d.displayInfo(t)
	}
	return true
}

func (d *cmdCtx) load(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if d.switches.given(optNotable) {
		d.errorf("--notable only available when creating new device.")
		return false
	}
	name, haveName := "", false
	if !d.switches.given(optUUID) && !d.switches.given(optMajor) {
		if argc == 0 {
			d.errorf("Please specify device.")
			return false
		}
		name, haveName = argv[0], true
		argc--
		argv = argv[1:]
	} else if argc > 1 {
		d.errorf("Too many command line arguments.")
		return false
	}
	file, haveFile := "", argc == 1
	if haveFile {
		file = argv[0]
	}
	t := d.newTask(tReload)
	if !d.setTaskDevice(t, name, haveName, false) {
		return false
	}
	specs, ok := d.readTable(file, haveFile)
	if !ok {
		return false
	}
	t.targets = specs
	t.readOnly = d.switches.given(optReadOnly)
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	if d.switches.given(optVerbose) {
		return d.displayInfo(t)
	}
	return true
}

func (d *cmdCtx) clear(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tClear, n, ok, 0, true)
	return r
}

// deviceSize is _get_device_size: the sum of the live table's lengths.
func (d *cmdCtx) deviceSize(name string) uint64 {
	t := d.newTask(tTable)
	if !d.setTaskDevice(t, name, true, false) {
		return 0
	}
	d.applyCommon(t)
	if !t.run() || !t.exists {
		return 0
	}
	var size uint64
	for _, s := range t.status {
		size += s.Length
	}
	return size
}

// errorDevice is _error_device (wipe_table, remove --force): load an error
// table of the device's size and resume it.
func (d *cmdCtx) errorDevice(argc int, argv []string, ne *dmsim.NameEntry, _ bool) bool {
	name := ""
	if ne != nil {
		name = ne.Name
	} else if argc > 0 {
		name = argv[0]
	}
	if name == "" {
		d.errorf("No device specified.")
		return false
	}
	size := d.deviceSize(name)
	t := d.newTask(tReload)
	if !d.setTaskDevice(t, name, true, false) {
		return false
	}
	t.targets = []dmsim.TargetSpec{{Start: 0, Length: size, Type: "error", Params: ""}}
	t.readOnly = d.switches.given(optReadOnly)
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	if d.switches.given(optForce) {
		d.switches[optNoLockfs], d.switches[optNoFlush] = 1, 1
	}
	if _, ok := d.simple(tResume, name, true, 0, false); !ok {
		d.simple(tClear, name, true, 0, false)
		return false
	}
	return true
}

// ReadsStdin says whether dmsetup with these arguments (argv without
// argv[0]) reads its table from standard input: create, load and reload
// without --table, --notable or a table file. The bridge's test feeds the
// real dmsetup its input only then, as reading it costs the process its
// clock token.
func ReadsStdin(args []string) bool {
	opts, operands, ok := getopt.Parse("dmsetup", args, shortOptions, longOptions, io.Discard)
	if !ok || len(operands) == 0 {
		return false
	}
	for _, o := range opts {
		if id := optID(o.Val); id == optTable || id == optNotable {
			return false
		}
	}
	switch operands[0] {
	case "create", "load", "reload":
		return len(operands) <= 2
	}
	return false
}
