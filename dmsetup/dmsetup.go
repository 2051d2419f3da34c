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
	"sync/atomic"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/sim"
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
		out[i] = "--" + o.Name
	}
	sort.Strings(out)
	return out
}

// Main runs dmsetup as a command of the simulation.
func Main(p *userland.Proc) int {
	if h := replacement.Load(); h != nil {
		if st, ok := (*h)(p); ok {
			return st
		}
	}
	if p.Kernel == nil {
		return Run(p, nil, nil)
	}
	return Run(p, p.Kernel, p.Kernel.Clock)
}

// replacement is Replace's function.
var replacement atomic.Pointer[func(p *userland.Proc) (int, bool)]

// Replace makes every dmsetup command of this program call f first; when f
// answers ok, its status is the command's and dmsim's dmsetup does not run.
// nil restores dmsim's dmsetup. The bridge's differential test runs the
// real dmsetup this way, wherever a script calls dmsetup (the shell,
// timeout, xargs).
func Replace(f func(p *userland.Proc) (status int, ok bool)) {
	if f == nil {
		replacement.Store(nil)
		return
	}
	replacement.Store(&f)
}

// cmdCtx is one dmsetup invocation.
type cmdCtx struct {
	p      *userland.Proc
	k      Kernel
	clock  *sim.Clock
	killed bool

	switches switches
	strArg   map[optID]string // the arguments of the string-valued options
	intArg   map[optID]int    // the arguments of the numeric options, as atoi reads them
	uuid     string
	table    string
	hasTbl   bool
	target   string
	execCmd  string

	readAheadFlagMin bool
	devNameType      int // 0 devno, 1 blkdevname, 2 devname
	report           *report
	cmdName          string
	conciseOutput    bool // table --concise printed a device
	treeOpts         *treeOpts
}

// switches is dmsetup's _switches[]: how many times each option was given.
type switches [numOptions]int

// given reports whether option id was on the command line.
func (s *switches) given(id optID) bool { return s[id] > 0 }

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

// command is one entry of dmsetup's command table (struct command in
// dmsetup.c).
type command struct {
	name       string
	minArgs    int
	maxArgs    int // or unlimited
	repeatable repeat
	fn         func(d *cmdCtx, argc int, argv []string, name *dmsim.NameEntry, multiple bool) bool
}

// unlimited is a command's maxArgs when any number of arguments is allowed.
const unlimited = -1

// repeat says whether a command runs once per device argument (dmsetup.c's
// repeatable_cmd).
type repeat int

const (
	runOnce         repeat = iota // one run, whatever the arguments
	perDevice                     // once per device argument
	perDeviceSelect               // once per device argument, and --select may choose them
)

var commands []command

func init() {
	commands = []command{
		{name: "help", maxArgs: 0, fn: (*cmdCtx).help},
		{name: "create", maxArgs: 2, fn: (*cmdCtx).create},
		{name: "remove", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).remove},
		{name: "remove_all", maxArgs: 0, fn: (*cmdCtx).removeAll},
		{name: "suspend", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).suspend},
		{name: "resume", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).resume},
		{name: "load", maxArgs: 2, fn: (*cmdCtx).load},
		{name: "clear", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).clear},
		{name: "reload", maxArgs: 2, fn: (*cmdCtx).load},
		{name: "wipe_table", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).errorDevice},
		{name: "rename", minArgs: 1, maxArgs: 2, fn: (*cmdCtx).rename},
		{name: "measure", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).unsupported},
		{name: "message", minArgs: 2, maxArgs: unlimited, fn: (*cmdCtx).message},
		{name: "ls", maxArgs: 0, fn: (*cmdCtx).ls},
		{name: "info", maxArgs: unlimited, repeatable: perDevice, fn: (*cmdCtx).info},
		{name: "deps", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).deps},
		{name: "stats", minArgs: 1, maxArgs: unlimited, repeatable: perDevice, fn: (*cmdCtx).unsupported},
		{name: "status", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).status},
		{name: "table", maxArgs: unlimited, repeatable: perDeviceSelect, fn: (*cmdCtx).status},
		{name: "wait", maxArgs: 2, fn: (*cmdCtx).wait},
		{name: "mknodes", maxArgs: unlimited, repeatable: perDevice, fn: (*cmdCtx).mknodes},
		{name: "mangle", maxArgs: unlimited, repeatable: perDevice, fn: (*cmdCtx).mangle},
		{name: "udevcreatecookie", maxArgs: 0, fn: (*cmdCtx).unsupported},
		{name: "udevreleasecookie", maxArgs: 1, fn: (*cmdCtx).unsupported},
		{name: "udevflags", minArgs: 1, maxArgs: 1, fn: (*cmdCtx).unsupported},
		{name: "udevcomplete", minArgs: 1, maxArgs: 1, fn: (*cmdCtx).unsupported},
		{name: "udevcomplete_all", maxArgs: 1, fn: (*cmdCtx).unsupported},
		{name: "udevcookies", maxArgs: 0, fn: (*cmdCtx).unsupported},
		{name: "target-version", minArgs: 1, maxArgs: unlimited, repeatable: perDevice, fn: (*cmdCtx).targetVersion},
		{name: "targets", maxArgs: 0, fn: (*cmdCtx).targets},
		{name: "version", maxArgs: 0, fn: (*cmdCtx).version},
		{name: "setgeometry", minArgs: 5, maxArgs: 5, fn: (*cmdCtx).unsupported},
		{name: "splitname", minArgs: 1, maxArgs: 2, fn: (*cmdCtx).splitname},
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

// Run runs dmsetup with argv p.Args on kernel k (nil: no device-mapper
// driver). clock may be nil outside the simulation.
func Run(p *userland.Proc, k Kernel, clock *sim.Clock) int {
	d := &cmdCtx{p: p, k: k, clock: clock, strArg: map[optID]string{}, intArg: map[optID]int{}}
	if k == nil {
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
	case d.switches.given(optHelp):
		cmd = findCommand("help")
	case d.switches.given(optVersion):
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
		if len(argv) < cmd.minArgs || (cmd.maxArgs != unlimited && len(argv) > cmd.maxArgs) {
			d.errorf("Incorrect number of arguments.")
			d.usage()
			return 1
		}
		if cmd.name == "splitname" {
			d.switches[optColumns]++
		}
		if !d.processOptions() {
			d.errorf("Couldn't process command line.")
			return 1
		}
		if d.switches.given(optSelect) {
			d.errorf("dmsim: dmsetup: --select is not supported")
			return 1
		}
		if d.switches.given(optColumns) {
			rep, ok := d.newReport(cmd)
			if !ok {
				return 1
			}
			d.report = rep
		}
	}
	d.cmdName = cmd.name
	multiple := cmd.repeatable != runOnce && len(argv) != 1 &&
		(len(argv) > 0 || (!d.switches.given(optUUID) && !d.switches.given(optMajor)))
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
		if cmd.repeatable == runOnce || argc <= 1 {
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
	if cmd.name == "help" || d.switches.given(optHelp) || d.switches.given(optVersion) {
		return 0
	}
	return ret
}

// optID identifies an option: the short option letter, or a code above 127
// for long-only options (as dmsetup's enum does).
type optID int

// Options with a short form.
const (
	optGID       optID = 'G'
	optMode      optID = 'M'
	optSort      optID = 'O'
	optSelect    optID = 'S'
	optUID       optID = 'U'
	optColumns   optID = 'c'
	optForce     optID = 'f'
	optHelp      optID = 'h'
	optMajor     optID = 'j'
	optMinor     optID = 'm'
	optNotable   optID = 'n'
	optOptions   optID = 'o'
	optReadOnly  optID = 'r'
	optUUID      optID = 'u'
	optVerbose   optID = 'v'
	optYes       optID = 'y'
	optBigColumn optID = 'C'
)

// Long-only options.
const (
	optAddNodeOnCreate optID = 128 + iota
	optAddNodeOnResume
	optAlias
	optAllDevices
	optAllPrograms
	optAllRegions
	optArea
	optAreas
	optAreaSize
	optBounds
	optChecks
	optClear
	optConcise
	optCount
	optDeferred
	optExec
	optFilemap
	optFollow
	optForeground
	optGroup
	optGroupID
	optHistogram
	optInactive
	optInterval
	optLength
	optMangleName
	optNamePrefixes
	optNoFlush
	optNoGroup
	optNoHeadings
	optNoLockfs
	optNoMonitor
	optNoOpenCount
	optNoSuffix
	optNoTimeSuffix
	optNoUdevRules
	optNoUdevSync
	optPrecise
	optProgramID
	optRaw
	optReadAhead
	optRegion
	optRegionID
	optRegions
	optRelative
	optRetry
	optRows
	optSegments
	optSeparator
	optSetUUID
	optShowKeys
	optStart
	optTable
	optTarget
	optTree
	optUdevCookie
	optUnbuffered
	optUnits
	optUnquoted
	optUserData
	optVerifyUdev
	optVersion

	numOptions // the size of a switches array
)

// longOptions is dmsetup 1.02.185's long option table, in its order (glibc
// lists ambiguous candidates in table order).
var longOptions = []getopt.Option{
	noArg("readonly", optReadOnly),
	reqArg("alias", optAlias),
	noArg("alldevices", optAllDevices),
	noArg("allprograms", optAllPrograms),
	noArg("allregions", optAllRegions),
	noArg("area", optArea),
	reqArg("areas", optAreas),
	reqArg("areasize", optAreaSize),
	reqArg("bounds", optBounds),
	noArg("checks", optChecks),
	noArg("clear", optClear),
	noArg("columns", optColumns),
	noArg("concise", optConcise),
	reqArg("count", optCount),
	noArg("deferred", optDeferred),
	reqArg("exec", optExec),
	noArg("filemap", optFilemap),
	reqArg("follow", optFollow),
	noArg("force", optForce),
	noArg("foreground", optForeground),
	reqArg("gid", optGID),
	noArg("group", optGroup),
	reqArg("groupid", optGroupID),
	noArg("help", optHelp),
	noArg("histogram", optHistogram),
	noArg("inactive", optInactive),
	reqArg("interval", optInterval),
	reqArg("length", optLength),
	reqArg("manglename", optMangleName),
	reqArg("major", optMajor),
	reqArg("minor", optMinor),
	reqArg("mode", optMode),
	noArg("nameprefixes", optNamePrefixes),
	noArg("nogroup", optNoGroup),
	noArg("noflush", optNoFlush),
	noArg("noheadings", optNoHeadings),
	noArg("nolockfs", optNoLockfs),
	noArg("noopencount", optNoOpenCount),
	noArg("nosuffix", optNoSuffix),
	noArg("notable", optNotable),
	noArg("notimesuffix", optNoTimeSuffix),
	reqArg("options", optOptions),
	noArg("precise", optPrecise),
	reqArg("programid", optProgramID),
	noArg("raw", optRaw),
	reqArg("readahead", optReadAhead),
	noArg("region", optRegion),
	reqArg("regions", optRegions),
	reqArg("regionid", optRegionID),
	noArg("relative", optRelative),
	noArg("retry", optRetry),
	noArg("rows", optRows),
	reqArg("select", optSelect),
	noArg("segments", optSegments),
	reqArg("separator", optSeparator),
	noArg("setuuid", optSetUUID),
	noArg("showkeys", optShowKeys),
	reqArg("sort", optSort),
	reqArg("start", optStart),
	reqArg("table", optTable),
	reqArg("target", optTarget),
	noArg("tree", optTree),
	reqArg("udevcookie", optUdevCookie),
	reqArg("uid", optUID),
	reqArg("units", optUnits),
	reqArg("uuid", optUUID),
	noArg("unbuffered", optUnbuffered),
	noArg("unquoted", optUnquoted),
	reqArg("userdata", optUserData),
	reqArg("verbose", optVerbose),
	noArg("verifyudev", optVerifyUdev),
	noArg("version", optVersion),
	noArg("yes", optYes),
	noArg("nomonitor", optNoMonitor),
	noArg("noudevrules", optNoUdevRules),
	noArg("noudevsync", optNoUdevSync),
	noArg("addnodeonresume", optAddNodeOnResume),
	noArg("addnodeoncreate", optAddNodeOnCreate),
}

func noArg(name string, id optID) getopt.Option {
	return getopt.Option{Name: name, HasArg: getopt.NoArgument, Val: int(id)}
}

func reqArg(name string, id optID) getopt.Option {
	return getopt.Option{Name: name, HasArg: getopt.RequiredArgument, Val: int(id)}
}

// shortOptions is dmsetup's optstring.
const shortOptions = "cCfG:hj:m:M:no:O:rS:u:U:vy"

// processSwitches is _process_switches: options are parsed with permutation,
// their values checked, and the operands returned.
func (d *cmdCtx) processSwitches() ([]string, bool) {
	opts, operands, ok := getopt.Parse("dmsetup", d.p.Args[1:], shortOptions, longOptions, d.p.Stderr)
	if !ok {
		return nil, false
	}
	for _, o := range opts {
		id := optID(o.Val)
		if id == optBigColumn {
			id = optColumns
		}
		d.switches[id]++
		switch id {
		case optAlias, optAreaSize, optUserData, optBounds, optFollow, optLength, optRegions,
			optOptions, optProgramID, optSeparator, optUnits, optSort, optSelect, optStart:
			d.strArg[id] = o.Arg
		case optAreas, optMajor, optMinor, optRegionID, optGID, optGroupID, optUID:
			d.intArg[id] = catoi(o.Arg)
		case optUUID:
			d.uuid = o.Arg
		case optCount:
			d.intArg[id] = catoi(o.Arg)
			if d.intArg[id] < 0 {
				d.errorf("Count must be zero or greater.")
				return nil, false
			}
		case optUdevCookie:
			v, err := strconv.ParseUint(o.Arg, 0, 64)
			if err != nil || v == 0 || v > 0xffffffff {
				d.errorf("Incorrect cookie value.")
			}
		case optMode:
			v, err := strconv.ParseInt(o.Arg, 8, 64)
			if err != nil || v == 0 {
				d.errorf("Invalid argument for --mode: %s. %s", o.Arg, modeErr(o.Arg, err))
				return nil, false
			}
			d.intArg[id] = int(v)
		case optExec:
			d.execCmd = o.Arg
		case optTarget:
			d.target = o.Arg
		case optInterval:
			d.intArg[id] = catoi(o.Arg)
			if d.intArg[id] <= 0 {
				d.errorf("Interval must be a positive integer.")
				return nil, false
			}
		case optMangleName:
			d.strArg[id] = o.Arg
			switch strings.ToLower(o.Arg) {
			case "none", "auto", "hex":
			default:
				d.errorf("Unknown name mangling mode.")
				return nil, false
			}
		case optReadAhead:
			switch strings.ToLower(o.Arg) {
			case "auto", "none":
			default:
				if strings.HasPrefix(strings.TrimLeft(o.Arg, " \t\n\v\f\r"), "+") {
					d.readAheadFlagMin = true
				}
				d.intArg[id] = catoi(o.Arg)
				if d.intArg[id] < -1 {
					d.errorf("Negative read ahead value (%d) is not understood.", d.intArg[id])
					return nil, false
				}
			}
		case optTable:
			d.table, d.hasTbl = o.Arg, true
		}
	}
	if (d.switches.given(optMajor)) != (d.switches.given(optMinor)) {
		d.errorf("Please specify both major number and minor number.")
		return nil, false
	}
	if d.switches.given(optTable) && d.switches.given(optNotable) {
		d.errorf("--table and --notable are incompatible.")
		return nil, false
	}
	if d.switches.given(optAddNodeOnResume) && d.switches.given(optAddNodeOnCreate) {
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
	if d.switches.given(optTree) {
		return d.processTreeOptions()
	}
	if d.switches.given(optColumns) || !d.switches.given(optOptions) {
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

// ---- what the verbs share ----

// setTaskDevice is _set_task_device.
func (d *cmdCtx) setTaskDevice(t *task, name string, haveName, optional bool) bool {
	switch {
	case haveName:
		return t.setName(name)
	case d.switches.given(optUUID):
		return t.setUUID(d.uuid)
	case d.switches.given(optMajor) && d.switches.given(optMinor):
		t.major, t.minor = d.intArg[optMajor], d.intArg[optMinor]
		return true
	case !optional:
		d.errorf("No device specified.")
		return false
	}
	return true
}

func (d *cmdCtx) applyCommon(t *task) {
	t.inactive = d.switches.given(optInactive)
}

func (d *cmdCtx) help(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	d.usage()
	if d.switches.given(optColumns) {
		io.WriteString(d.p.Stderr, fieldsText)
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
	t.noFlush = d.switches.given(optNoFlush)
	t.skipLockfs = d.switches.given(optNoLockfs)
	d.applyCommon(t)
	t.addNodeOnCre = d.switches.given(optAddNodeOnCreate)
	if typ == tRemove {
		t.retryRemove = d.switches.given(optRetry)
	}
	if typ == tRemove || typ == tRemoveAll {
		t.deferred = d.switches.given(optDeferred)
	}
	ok := t.run()
	if ok && display && d.switches.given(optVerbose) {
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
