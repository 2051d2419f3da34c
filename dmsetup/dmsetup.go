// Package dmsetup is dmsetup 1.02.185 (lvm2 2.03.16) on top of dmsim's
// ioctl interface: the same command line, output, error messages and exit
// statuses, and libdevmapper's handling of /dev/mapper nodes as it works
// without udev (DM_DISABLE_UDEV=1).
package dmsetup

import (
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/table"
	"github.com/dmsim/dmsim/userland"
)

//go:embed text/usage.txt
var usageText string

//go:embed text/fields.txt
var fieldsText string

func init() {
	userland.Register(&userland.Command{
		Name:    "dmsetup",
		Run:     Main,
		Summary: "device-mapper control (dmsetup 1.02.185)",
		Options: append(CommandNames(), OptionNames()...),
	})
}

// CommandNames lists dmsetup's verbs.
func CommandNames() []string {
	out := make([]string, len(commands))
	for i, c := range commands {
		out[i] = c.name
	}
	return out
}

// OptionNames lists dmsetup's long options ("--table", ...).
func OptionNames() []string {
	out := make([]string, len(longOptions))
	for i, o := range longOptions {
		out[i] = "--" + o.name
	}
	sort.Strings(out)
	return out
}

// Main runs dmsetup as a command of the simulation.
func Main(p *userland.Proc) int {
	if p.Kernel == nil {
		return Run(p, nil, nil)
	}
	return Run(p, p.Kernel, p.Kernel.Clock)
}

// cmdCtx is one dmsetup invocation.
type cmdCtx struct {
	p      *userland.Proc
	m      Machine
	clock  *sim.Clock
	killed bool

	sw      map[int]int
	strArg  map[int]string
	intArg  map[int]int
	uuid    string
	table   string
	hasTbl  bool
	target  string
	execCmd string

	readAheadFlagMin bool
	devNameType      int // 0 devno, 1 blkdevname, 2 devname
	report           *report
	cmdName          string
	conciseOutput    bool // table --concise printed a device
}

const (
	dnDevno = iota
	dnBlk
	dnMap
)

func (d *cmdCtx) errorf(format string, args ...any) {
	fmt.Fprintf(d.p.Stderr, format+"\n", args...)
}

func (d *cmdCtx) printf(format string, args ...any) {
	fmt.Fprintf(d.p.Stdout, format, args...)
}

// sleep waits in virtual time; dmsetup holds its clock token throughout
// its run, which the wait gives up.
func (d *cmdCtx) sleep(t time.Duration) error {
	if d.clock == nil {
		return nil
	}
	return d.clock.Sleep(d.p.Ctx, t)
}

// command is one entry of dmsetup's command table.
type command struct {
	name       string
	help       string
	minArgs    int
	maxArgs    int // -1: unlimited
	repeatable int // 0 no, 1 yes, 2 yes and -S works
	fn         func(d *cmdCtx, argc int, argv []string, name *dmsim.NameEntry, multiple bool) bool
}

var commands []command

func init() {
	commands = []command{
		{"help", "", 0, 0, 0, (*cmdCtx).help},
		{"create", "", 0, 2, 0, (*cmdCtx).create},
		{"remove", "", 0, -1, 2, (*cmdCtx).remove},
		{"remove_all", "", 0, 0, 0, (*cmdCtx).removeAll},
		{"suspend", "", 0, -1, 2, (*cmdCtx).suspend},
		{"resume", "", 0, -1, 2, (*cmdCtx).resume},
		{"load", "", 0, 2, 0, (*cmdCtx).load},
		{"clear", "", 0, -1, 2, (*cmdCtx).clear},
		{"reload", "", 0, 2, 0, (*cmdCtx).load},
		{"wipe_table", "", 0, -1, 2, (*cmdCtx).errorDevice},
		{"rename", "", 1, 2, 0, (*cmdCtx).rename},
		{"measure", "", 0, -1, 2, (*cmdCtx).unsupported},
		{"message", "", 2, -1, 0, (*cmdCtx).message},
		{"ls", "", 0, 0, 0, (*cmdCtx).ls},
		{"info", "", 0, -1, 1, (*cmdCtx).info},
		{"deps", "", 0, -1, 2, (*cmdCtx).deps},
		{"stats", "", 1, -1, 1, (*cmdCtx).unsupported},
		{"status", "", 0, -1, 2, (*cmdCtx).status},
		{"table", "", 0, -1, 2, (*cmdCtx).status},
		{"wait", "", 0, 2, 0, (*cmdCtx).wait},
		{"mknodes", "", 0, -1, 1, (*cmdCtx).mknodes},
		{"mangle", "", 0, -1, 1, (*cmdCtx).unsupported},
		{"udevcreatecookie", "", 0, 0, 0, (*cmdCtx).unsupported},
		{"udevreleasecookie", "", 0, 1, 0, (*cmdCtx).unsupported},
		{"udevflags", "", 1, 1, 0, (*cmdCtx).unsupported},
		{"udevcomplete", "", 1, 1, 0, (*cmdCtx).unsupported},
		{"udevcomplete_all", "", 0, 1, 0, (*cmdCtx).unsupported},
		{"udevcookies", "", 0, 0, 0, (*cmdCtx).unsupported},
		{"target-version", "", 1, -1, 1, (*cmdCtx).targetVersion},
		{"targets", "", 0, 0, 0, (*cmdCtx).targets},
		{"version", "", 0, 0, 0, (*cmdCtx).version},
		{"setgeometry", "", 5, 5, 0, (*cmdCtx).unsupported},
		{"splitname", "", 1, 2, 0, (*cmdCtx).unsupported},
	}
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// catoi is C's atoi.
func catoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
		if v > 1<<40 {
			break
		}
	}
	if neg {
		v = -v
	}
	return int(int32(v))
}

// Run runs dmsetup with argv p.Args on machine m (nil: no device-mapper
// driver). clock may be nil outside the simulation.
func Run(p *userland.Proc, m Machine, clock *sim.Clock) int {
	d := &cmdCtx{p: p, m: m, clock: clock, sw: map[int]int{}, strArg: map[int]string{}, intArg: map[int]int{}}
	if m == nil {
		return d.noDriver()
	}
	// dmsetup runs as a process holding its clock token (every call into
	// the kernel must come from an actor); it gives it up while it reads
	// standard input and while an --exec command runs.
	if !p.Token().Held() && clock != nil {
		clock.Enter()
		defer clock.Exit()
	}
	return d.main()
}

// noDriver is what dmsetup prints when /dev/mapper/control cannot be opened.
func (d *cmdCtx) noDriver() int {
	d.errorf("/dev/mapper/control: open failed: No such device")
	d.errorf("Failure to communicate with kernel device-mapper driver.")
	d.errorf("Check that device-mapper is available in the kernel.")
	d.errorf("Incompatible libdevmapper %s and kernel driver (unknown version).", libraryVersion)
	d.errorf("Command failed.")
	return 1
}

func (d *cmdCtx) usage() { io.WriteString(d.p.Stderr, usageText) }

func (d *cmdCtx) main() int {
	argv, ok := d.processSwitches()
	if !ok {
		d.errorf("Couldn't process command line.")
		return 1
	}
	var cmd *command
	switch {
	case d.sw[optHelp] > 0:
		cmd = findCommand("help")
	case d.sw[optVersion] > 0:
		cmd = findCommand("version")
	default:
		if len(argv) == 0 {
			d.usage()
			return 1
		}
		cmd = findCommand(argv[0])
		argv = argv[1:]
		if cmd == nil {
			d.errorf("Unknown command.")
			d.usage()
			return 1
		}
		if len(argv) < cmd.minArgs || (cmd.maxArgs >= 0 && len(argv) > cmd.maxArgs) {
			d.errorf("Incorrect number of arguments.")
			d.usage()
			return 1
		}
		if !d.processOptions() {
			d.errorf("Couldn't process command line.")
			return 1
		}
		if d.sw[optSelect] > 0 {
			d.errorf("dmsim: dmsetup: --select is not supported")
			return 1
		}
		if d.sw[optColumns] > 0 {
			rep, ok := d.newReport(cmd)
			if !ok {
				return 1
			}
			d.report = rep
		}
	}
	d.cmdName = cmd.name
	multiple := cmd.repeatable != 0 && len(argv) != 1 &&
		(len(argv) > 0 || (d.sw[optUUID] == 0 && d.sw[optMajor] == 0))
	ret := 0
	argc := len(argv)
	for i := 0; ; i++ {
		if !cmd.fn(d, argc, argv[i:], nil, multiple) {
			if !d.killed {
				d.errorf("Command failed.")
			}
			ret = 1
			break
		}
		if d.killed {
			break
		}
		if cmd.repeatable == 0 || argc <= 1 {
			break
		}
		argc--
	}
	if d.conciseOutput {
		d.printf("\n")
	}
	if d.report != nil {
		d.report.output(d.p.Stdout)
	}
	if d.killed {
		return d.p.KilledStatus()
	}
	if cmd.name == "help" || d.sw[optHelp] > 0 || d.sw[optVersion] > 0 {
		return 0
	}
	return ret
}

// processSwitches is _process_switches: options are parsed with permutation,
// their values checked, and the operands returned.
func (d *cmdCtx) processSwitches() ([]string, bool) {
	opts, operands, ok := getoptLong("dmsetup", d.p.Args[1:], shortOptions, longOptions, d.p.Stderr)
	if !ok {
		return nil, false
	}
	for _, o := range opts {
		id := o.id
		if id == optBigColumn {
			id = optColumns
		}
		d.sw[id]++
		switch id {
		case optAlias, optAreaSize, optUserData, optBounds, optFollow, optLength, optRegions,
			optOptions, optProgramID, optSeparator, optUnits, optSort, optSelect, optStart:
			d.strArg[id] = o.arg
		case optAreas, optMajor, optMinor, optRegionID, optGID, optGroupID, optUID:
			d.intArg[id] = catoi(o.arg)
		case optUUID:
			d.uuid = o.arg
		case optCount:
			d.intArg[id] = catoi(o.arg)
			if d.intArg[id] < 0 {
				d.errorf("Count must be zero or greater.")
				return nil, false
			}
		case optUdevCookie:
			v, err := strconv.ParseUint(o.arg, 0, 64)
			if err != nil || v == 0 || v > 0xffffffff {
				d.errorf("Incorrect cookie value.")
			}
		case optMode:
			v, err := strconv.ParseInt(o.arg, 8, 64)
			if err != nil || v == 0 {
				d.errorf("Invalid argument for --mode: %s. %s", o.arg, modeErr(o.arg, err))
				return nil, false
			}
			d.intArg[id] = int(v)
		case optExec:
			d.execCmd = o.arg
		case optTarget:
			d.target = o.arg
		case optInterval:
			d.intArg[id] = catoi(o.arg)
			if d.intArg[id] <= 0 {
				d.errorf("Interval must be a positive integer.")
				return nil, false
			}
		case optMangleName:
			switch strings.ToLower(o.arg) {
			case "none", "auto", "hex":
			default:
				d.errorf("Unknown name mangling mode.")
				return nil, false
			}
		case optReadAhead:
			switch strings.ToLower(o.arg) {
			case "auto", "none":
			default:
				if strings.HasPrefix(strings.TrimLeft(o.arg, " \t\n\v\f\r"), "+") {
					d.readAheadFlagMin = true
				}
				d.intArg[id] = catoi(o.arg)
				if d.intArg[id] < -1 {
					d.errorf("Negative read ahead value (%d) is not understood.", d.intArg[id])
					return nil, false
				}
			}
		case optTable:
			d.table, d.hasTbl = o.arg, true
		}
	}
	if (d.sw[optMajor] > 0) != (d.sw[optMinor] > 0) {
		d.errorf("Please specify both major number and minor number.")
		return nil, false
	}
	if d.sw[optTable] > 0 && d.sw[optNotable] > 0 {
		d.errorf("--table and --notable are incompatible.")
		return nil, false
	}
	if d.sw[optAddNodeOnResume] > 0 && d.sw[optAddNodeOnCreate] > 0 {
		d.errorf("--addnodeonresume and --addnodeoncreate are incompatible.")
		return nil, false
	}
	return operands, true
}

// modeErr is the strerror part of the --mode message (empty unless strtol
// set errno).
func modeErr(arg string, err error) string {
	var ne *strconv.NumError
	if err != nil && asNumErr(err, &ne) && ne.Err == strconv.ErrRange {
		return "Numerical result out of range"
	}
	return ""
}

func asNumErr(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError)
	if ok {
		*target = ne
	}
	return ok
}

// processOptions is _process_options: -o for ls/deps (devno, blkdevname,
// devname); columns and --tree handle -o themselves.
func (d *cmdCtx) processOptions() bool {
	if d.sw[optTree] > 0 || d.sw[optColumns] > 0 || d.sw[optOptions] == 0 {
		return true
	}
	opts := d.strArg[optOptions]
	d.devNameType = dnDevno
	for s := opts; s != ""; {
		item, rest, more := strings.Cut(s, ",")
		switch {
		case strings.HasPrefix("devno", item):
			d.devNameType = dnDevno
		case strings.HasPrefix("blkdevname", item):
			d.devNameType = dnBlk
		case strings.HasPrefix("devname", item):
			d.devNameType = dnMap
		default:
			d.errorf("Option not recognised: %s.", s)
			return false
		}
		if !more {
			break
		}
		s = rest
	}
	return true
}

// setTaskDevice is _set_task_device.
func (d *cmdCtx) setTaskDevice(t *task, name string, haveName, optional bool) bool {
	switch {
	case haveName:
		return t.setName(name)
	case d.sw[optUUID] > 0:
		return t.setUUID(d.uuid)
	case d.sw[optMajor] > 0 && d.sw[optMinor] > 0:
		t.major, t.minor = d.intArg[optMajor], d.intArg[optMinor]
		return true
	case !optional:
		d.errorf("No device specified.")
		return false
	}
	return true
}

func (d *cmdCtx) applyCommon(t *task) {
	t.inactive = d.sw[optInactive] > 0
}

// ---- commands ----

func (d *cmdCtx) help(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	d.usage()
	if d.sw[optColumns] > 0 {
		io.WriteString(d.p.Stderr, fieldsText)
	}
	return true
}

func (d *cmdCtx) unsupported(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	d.errorf("dmsim: this dmsetup command is not supported")
	return false
}

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
	if d.sw[optConcise] > 0 {
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
	if d.sw[optUUID] > 0 && !t.setUUID(d.uuid) {
		return false
	}
	if d.sw[optNotable] == 0 {
		specs, ok := d.readTable(file, haveFile)
		if !ok {
			return false
		}
		t.targets = specs
	}
	t.readOnly = d.sw[optReadOnly] > 0
	t.inactive = d.sw[optInactive] > 0
	t.addNodeOnCre = d.sw[optAddNodeOnCreate] > 0
	if d.sw[optMajor] > 0 || d.sw[optMinor] > 0 {
		d.errorf("dmsim: dmsetup create: --major/--minor are not supported")
		return false
	}
	if !t.run() {
		return false
	}
	if d.sw[optVerbose] > 0 {
		return d.displayInfo(t)
	}
	return true
}

func (d *cmdCtx) load(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if d.sw[optNotable] > 0 {
		d.errorf("--notable only available when creating new device.")
		return false
	}
	name, haveName := "", false
	if d.sw[optUUID] == 0 && d.sw[optMajor] == 0 {
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
	t.readOnly = d.sw[optReadOnly] > 0
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	if d.sw[optVerbose] > 0 {
		return d.displayInfo(t)
	}
	return true
}

// simple is _simple: one ioctl on one device.
func (d *cmdCtx) simple(typ taskType, name string, haveName bool, eventNr uint32, display bool) (*task, bool) {
	t := d.newTask(typ)
	if !d.setTaskDevice(t, name, haveName, false) {
		return t, false
	}
	t.eventNr = eventNr
	t.noFlush = d.sw[optNoFlush] > 0
	t.skipLockfs = d.sw[optNoLockfs] > 0
	d.applyCommon(t)
	t.addNodeOnCre = d.sw[optAddNodeOnCreate] > 0
	if typ == tRemove {
		t.retryRemove = d.sw[optRetry] > 0
	}
	if typ == tRemove || typ == tRemoveAll {
		t.deferred = d.sw[optDeferred] > 0
	}
	ok := t.run()
	if ok && display && d.sw[optVerbose] > 0 {
		ok = d.displayInfo(t)
	}
	return t, ok
}

func firstArg(argc int, argv []string) (string, bool) {
	if argc > 0 {
		return argv[0], true
	}
	return "", false
}

func (d *cmdCtx) suspend(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tSuspend, n, ok, 0, true)
	return r
}

func (d *cmdCtx) resume(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tResume, n, ok, 0, true)
	return r
}

func (d *cmdCtx) clear(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tClear, n, ok, 0, true)
	return r
}

func (d *cmdCtx) wait(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	name, haveName := "", false
	if d.sw[optUUID] == 0 && d.sw[optMajor] == 0 {
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
	t.readOnly = d.sw[optReadOnly] > 0
	d.applyCommon(t)
	if !t.run() {
		return false
	}
	if d.sw[optForce] > 0 {
		d.sw[optNoLockfs], d.sw[optNoFlush] = 1, 1
	}
	if _, ok := d.simple(tResume, name, true, 0, false); !ok {
		d.simple(tClear, name, true, 0, false)
		return false
	}
	return true
}

func (d *cmdCtx) remove(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if d.sw[optForce] > 0 && argc > 0 {
		d.errorDevice(argc, argv, nil, false)
	}
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tRemove, n, ok, 0, false)
	return r
}

func (d *cmdCtx) removeAll(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	_, r1 := d.simple(tRemoveAll, "", true, 0, false)
	r := r1 || d.mknodesAll()
	if d.sw[optForce] == 0 {
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
	if r2 || d.mknodesAll() {
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
	if d.sw[optSetUUID] > 0 {
		if len(target) >= dmUUIDLen {
			d.errorf("New uuid %s too long", target)
			return false
		}
		t.newUUID, t.newName = true, target
	} else if !t.setNewName(target) {
		return false
	}
	d.applyCommon(t)
	return t.run()
}

func (d *cmdCtx) message(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	t := d.newTask(tTargetMsg)
	if d.sw[optUUID] > 0 || d.sw[optMajor] > 0 {
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

// processAll is _process_all: fn for every device, in the kernel's order.
func (d *cmdCtx) processAll(silent bool, fn func(*dmsim.NameEntry) bool) bool {
	t := d.newTask(tList)
	if !t.run() {
		return false
	}
	if len(t.names) == 0 {
		if !silent {
			d.printf("No devices found\n")
		}
		return true
	}
	r := true
	for i := range t.names {
		if !fn(&t.names[i]) {
			r = false
		}
	}
	return r
}

func (d *cmdCtx) ls(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	if (d.sw[optTarget] > 0 && d.target != "") || (d.sw[optExec] > 0 && d.execCmd != "") {
		return d.statusCmd("ls", 0, nil, nil, false)
	}
	if d.sw[optTree] > 0 {
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
		if b, err := d.m.BdevByDevT(dev); err == nil && b != nil {
			return b.Name(), true
		}
	case dnMap:
		for _, e := range d.listDevices() {
			if e.Dev == dev {
				return e.Name, true
			}
		}
		if b, err := d.m.BdevByDevT(dev); err == nil && b != nil {
			return b.Name(), true
		}
	}
	return "", false
}

func (d *cmdCtx) listDevices() []dmsim.NameEntry {
	api := d.m.Ioctl()
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
	return "", false, d.sw[optUUID] == 0 && d.sw[optMajor] == 0
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
	t.noFlush = d.sw[optNoFlush] > 0
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
	verbose := d.sw[optVerbose] > 0
	execing := d.sw[optExec] > 0 && d.execCmd != ""
	matched := false
	targets := t.status
	if len(targets) == 0 {
		targets = []dmsim.TargetStatus{{}} // no table: one pass with no target
	}
	for i, s := range targets {
		hasTarget := len(t.status) > 0
		if d.sw[optTarget] > 0 && (!hasTarget || s.Type != d.target) {
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
			concise := d.sw[optConcise] > 0 && typ == tTable
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
	if multiple && verbose && matched && !lsOnly && (d.sw[optConcise] == 0 || d.sw[optVerbose] > 1) {
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
	api := d.m.Ioctl()
	if api == nil {
		return false
	}
	v := api.Version()
	d.printf("Driver version:    %d.%d.%d\n", v[0], v[1], v[2])
	d.report = nil
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
	return d.report.addRow(d, t)
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
	verbose := d.sw[optVerbose] > 0
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

func sortStrings(s []string) { sort.Strings(s) }

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
