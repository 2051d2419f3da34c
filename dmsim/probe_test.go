package dmsim_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// The "probe" target records what the core does to it. Its arguments are
// key=value words:
//
//	dev=PATH     dm_get_device(PATH) and report it from IterateDevices
//	off=N        offset on dev (default 0)
//	maxio=N      ti.MaxIOLen
//	flush=N      ti.NumFlushBios
//	discard=N    ti.NumDiscardBios (ds=1 sets DiscardsSupported)
//	hold=1       hold every read/write (complete later with release)
//	kill=1       DM_MAPIO_KILL everything
//	requeue=1    DM_MAPIO_REQUEUE everything
//	preresume=E  PreResume fails with errno E
//	ioopt=N      IOHints sets io_opt (bytes)
//	event=1      raise a table event from the constructor
//	fail=E       the constructor fails with errno E and ti.Error "probe failure"
//	name=S       recorder key (default the device's name)
//	remap=1      remap to dev (with dev=) instead of completing
//	pbd=1        per-bio data (ti.PerBioData): records "pbd new" when one
//	             is made, "pbd missing" when a clone comes without its own,
//	             "pbd shared" when it is another in-flight clone's; without
//	             pbd=1, "private set" when a clone's Private is not nil
//
// Without remap, reads and writes complete at once (reads give 0xAB).
type probe struct {
	ti        *dmsim.DMTarget
	rec       *recorder
	dev       *dmsim.DMDev
	off       uint64
	hold      bool
	kill      bool
	requeue   bool
	remap     bool
	preresume linuxerr.Errno
	ioopt     uint32
	pbd       bool
}

// probePBD is the probe's per-bio data: inFlight while a clone holds it.
type probePBD struct {
	owner    *probe
	inFlight bool
}

type recorder struct {
	mu     sync.Mutex
	events []string
	held   []*dmsim.Bio
}

var (
	recMu     sync.Mutex
	recorders = map[string]*recorder{}
)

func rec(name string) *recorder {
	recMu.Lock()
	defer recMu.Unlock()
	r := recorders[name]
	if r == nil {
		r = &recorder{}
		recorders[name] = r
	}
	return r
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// take returns and clears the recorded events.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// release completes every held bio with err.
func (r *recorder) release(err error) int {
	r.mu.Lock()
	h := r.held
	r.held = nil
	r.mu.Unlock()
	for _, b := range h {
		b.Endio(err)
	}
	return len(h)
}

func (r *recorder) nheld() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

var probeType = &dmsim.TargetType{Name: "probe", Version: [3]uint32{0, 1, 0}, Ctr: probeCtr}

// Types with the core-enforced features, for the table rules.
var (
	singleType = &dmsim.TargetType{Name: "psingle", Version: [3]uint32{1, 0, 0}, Features: dmsim.Singleton, Ctr: probeCtr}
	immutType  = &dmsim.TargetType{Name: "pimmut", Version: [3]uint32{1, 0, 0}, Features: dmsim.Immutable, Ctr: probeCtr}
	immut2Type = &dmsim.TargetType{Name: "pimmut2", Version: [3]uint32{1, 0, 0}, Features: dmsim.Immutable, Ctr: probeCtr}
	writeType  = &dmsim.TargetType{Name: "pwrite", Version: [3]uint32{1, 0, 0}, Features: dmsim.AlwaysWriteable, Ctr: probeCtr}
)

func init() {
	dmsim.RegisterModule(&dmsim.Module{
		Name:    "dm_probe",
		Aliases: []string{"dm-probe"},
		Targets: []*dmsim.TargetType{probeType, singleType, immutType, immut2Type, writeType},
		Params: []*dmsim.ModuleParam{
			{Name: "knob", Default: "7", Parse: func(s string) (string, error) {
				v, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || v < 0 {
					return "", linuxerr.EINVAL
				}
				return strconv.Itoa(v), nil
			}},
			{Name: "fixed", Default: "x", ReadOnly: true},
		},
	})
}

func probeCtr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	p := &probe{ti: ti}
	name := ti.Table.MD().Name()
	for _, a := range argv {
		k, v, _ := strings.Cut(a, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "name":
			name = v
		case "dev":
			d, err := ti.GetDevice(v, ti.Table.Mode())
			if err != nil {
				ti.Error = "probe device"
				return nil, err
			}
			p.dev = d
		case "off":
			p.off = n
		case "maxio":
			if err := ti.SetMaxIOLen(n); err != nil {
				return nil, err
			}
		case "flush":
			ti.NumFlushBios = uint(n)
		case "discard":
			ti.NumDiscardBios = uint(n)
		case "ds":
			ti.DiscardsSupported = n != 0
		case "fs":
			ti.FlushSupported = n != 0
		case "hold":
			p.hold = true
		case "kill":
			p.kill = true
		case "requeue":
			p.requeue = true
		case "remap":
			p.remap = true
		case "pbd":
			p.pbd = true
			ti.PerBioData = func() any {
				p.rec.add("pbd new")
				return &probePBD{owner: p}
			}
		case "preresume":
			p.preresume = linuxerr.Errno(n)
		case "ioopt":
			p.ioopt = uint32(n)
		case "event":
			ti.Event()
		case "fail":
			ti.Error = "probe failure"
			return nil, linuxerr.Errno(n)
		}
	}
	p.rec = rec(name)
	p.rec.add("ctr %d+%d", ti.Begin, ti.Len)
	return p, nil
}

func (p *probe) Map(bio *dmsim.Bio) dmsim.MapResult {
	p.rec.add("map %s %d+%d nr=%d", bio.Op, bio.Sector, bio.Size(), bio.TargetBioNr)
	if p.pbd {
		d, ok := bio.Private.(*probePBD)
		switch {
		case !ok || d.owner != p:
			p.rec.add("pbd missing")
		case d.inFlight:
			p.rec.add("pbd shared")
		default:
			d.inFlight = true
		}
	} else if bio.Private != nil {
		p.rec.add("private set")
	}
	switch {
	case p.kill:
		return dmsim.MapKill
	case p.requeue:
		return dmsim.MapRequeue
	case p.hold && (bio.Op == dmsim.OpRead || bio.Op == dmsim.OpWrite):
		p.rec.mu.Lock()
		p.rec.held = append(p.rec.held, bio)
		p.rec.mu.Unlock()
		return dmsim.MapSubmitted
	case p.remap && p.dev != nil:
		bio.Dev = p.dev.Bdev
		if bio.Size() != 0 {
			bio.Sector = bio.Sector - p.ti.Begin + p.off
		}
		return dmsim.MapRemapped
	}
	if bio.Op == dmsim.OpRead {
		for i := range bio.Data {
			bio.Data[i] = 0xAB
		}
	}
	bio.Endio(nil)
	return dmsim.MapSubmitted
}

func (p *probe) Dtr() { p.rec.add("dtr"); p.putDev() }
func (p *probe) putDev() {
	if p.dev != nil {
		p.ti.PutDevice(p.dev)
	}
}
func (p *probe) PreSuspend()     { p.rec.add("presuspend noflush=%v", p.ti.NoflushSuspending()) }
func (p *probe) PostSuspend()    { p.rec.add("postsuspend post=%v", p.ti.PostSuspending()) }
func (p *probe) PreSuspendUndo() { p.rec.add("presuspend_undo") }
func (p *probe) PreResume() error {
	p.rec.add("preresume")
	if p.preresume != 0 {
		return p.preresume
	}
	return nil
}
func (p *probe) Resume() { p.rec.add("resume") }

func (p *probe) Status(typ dmsim.StatusType, flags dmsim.StatusFlags) string {
	if typ == dmsim.StatusTable {
		return "table"
	}
	return fmt.Sprintf("info noflush=%v", flags&dmsim.StatusNoFlush != 0)
}

func (p *probe) Message(argv []string) (string, error) {
	p.rec.add("message %q", argv)
	switch argv[0] {
	case "echo":
		return strings.Join(argv[1:], " "), nil
	case "fail":
		return "", linuxerr.ENOSPC
	case "event":
		p.ti.Event()
	}
	return "", nil
}

func (p *probe) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	if p.dev == nil {
		return nil
	}
	return fn(p.dev, p.off, p.ti.Len)
}

func (p *probe) IOHints(l *dmsim.QueueLimits) {
	if p.ioopt != 0 {
		l.IOOpt = p.ioopt
	}
}

func (p *probe) EndIO(bio *dmsim.Bio, err error) (error, bool) {
	p.rec.add("endio %s %v", bio.Op, err)
	if d, ok := bio.Private.(*probePBD); ok && p.pbd {
		d.inFlight = false
	}
	return err, false
}
