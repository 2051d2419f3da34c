// Package delay is the delay target of Linux 6.1 as Debian's 6.1.0-56
// kernel has it (drivers/md/dm-delay.c, version 1.3.0, with "dm-delay: fix
// a race between delay_presuspend and delay_bio"), module dm_delay:
//
//	<start> <len> delay <dev> <offset> <delay ms> \
//	    [<write dev> <write offset> <write delay ms> \
//	     [<flush dev> <flush offset> <flush delay ms>]]
//
// Reads, writes (discards included) and flushes are sent to their class's
// device, each held for its class's delay in jiffies of the virtual clock
// before being submitted. With 3 arguments all classes share them; with 6,
// flushes follow the write class. Held bios are released by a timer (with
// the timer wheel's rounding) that queues kdelayd work, whatever the delay:
// the module has no flush kthread (its imports: timers and a workqueue,
// no kthread functions), so "dm delay: for short delays, use kthread
// instead of timers and wq" is not in this kernel.
package delay

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/table"
)

// Type is the delay target type.
var Type = &dmsim.TargetType{
	Name:    "delay",
	Version: [3]uint32{1, 3, 0},
	Ctr:     ctr,
}

func init() {
	dmsim.RegisterModule(&dmsim.Module{
		Name:    "dm_delay",
		Aliases: []string{"dm-delay"},
		Targets: []*dmsim.TargetType{Type},
	})
}

// Timer wheel geometry for HZ=250 (kernel/time/timer.c: LVL_DEPTH 9).
const (
	lvlClkShift     = 3
	lvlDepth        = 9
	wheelCutoff     = 63 << ((lvlDepth - 1) * lvlClkShift) // WHEEL_TIMEOUT_CUTOFF = LVL_START(9)
	wheelTimeoutMax = wheelCutoff - 1<<((lvlDepth-1)*lvlClkShift)
)

// wheelExpiry is calc_wheel_index(): the jiffy at which a timer armed at
// clk for expires really runs. Each wheel level rounds the expiry up past
// a multiple of its granularity (1, 8, 64, ... jiffies) so that a timer
// never fires early; timeouts beyond the wheel's reach are cut to its
// capacity. It also reports whether the cut applied.
func wheelExpiry(expires, clk uint64) (at uint64, capped bool) {
	delta := expires - clk
	if int64(delta) < 0 {
		return clk, false
	}
	for lvl := 0; lvl < lvlDepth-1; lvl++ {
		if delta < 63<<(lvl*lvlClkShift) {
			s := uint(lvl * lvlClkShift)
			return ((expires >> s) + 1) << s, false
		}
	}
	if delta >= wheelCutoff {
		expires, capped = clk+wheelTimeoutMax, true
	}
	s := uint((lvlDepth - 1) * lvlClkShift)
	return ((expires >> s) + 1) << s, capped
}

// class is struct delay_class.
type class struct {
	dev   *dmsim.DMDev
	start uint64
	delay uint32 // milliseconds
	ops   uint32 // bios held now
}

// delayed is struct dm_delay_info: a held bio.
type delayed struct {
	bio     *dmsim.Bio
	class   *class
	expires uint64
}

type delayC struct {
	ti    *dmsim.DMTarget
	clock *sim.Clock
	argc  int
	read  class
	write class
	flush class
	wq    *sim.Workqueue // kdelayd

	mu       sync.Mutex // delayed_bios_lock
	list     []*delayed
	mayDelay bool
	timer    *sim.Timer // pending wake-up
	timerExp uint64     // the expiry the timer was armed for (timer->expires)
	dead     bool
}

func fail(ti *dmsim.DMTarget, text string, err error) error {
	ti.Error = text
	return err
}

// classCtr is delay_class_ctr(): offset, delay, then the device lookup.
func classCtr(ti *dmsim.DMTarget, c *class, argv []string) error {
	var ok bool
	if c.start, ok = table.ScanULL(argv[1]); !ok {
		return fail(ti, "Invalid device sector", linuxerr.EINVAL)
	}
	if c.delay, ok = table.ScanUint(argv[2]); !ok {
		return fail(ti, "Invalid delay", linuxerr.EINVAL)
	}
	dev, err := ti.GetDevice(argv[0], ti.Table.Mode())
	if err != nil {
		return fail(ti, "Device lookup failed", err)
	}
	c.dev = dev
	return nil
}

// ctr is delay_ctr(): 3, 6 or 9 arguments; the read class first, then the
// write class (the read arguments again for 3), then the flush class (the
// write arguments for 3 or 6).
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	argc := len(argv)
	if argc != 3 && argc != 6 && argc != 9 {
		return nil, fail(ti, "Requires exactly 3, 6 or 9 arguments", linuxerr.EINVAL)
	}
	k := ti.Kernel()
	dc := &delayC{ti: ti, clock: k.Clock, argc: argc, mayDelay: true}
	writeArgs, flushArgs := argv, argv
	if argc >= 6 {
		writeArgs, flushArgs = argv[3:6], argv[3:6]
	}
	if argc == 9 {
		flushArgs = argv[6:9]
	}
	for _, step := range []struct {
		c    *class
		args []string
	}{{&dc.read, argv}, {&dc.write, writeArgs}, {&dc.flush, flushArgs}} {
		if err := classCtr(ti, step.c, step.args); err != nil {
			dc.putDevices() // delay_dtr() on the error path
			return nil, err
		}
	}
	dc.wq = k.Clock.NewWorkqueue()
	ti.NumFlushBios = 1
	ti.NumDiscardBios = 1
	return dc, nil
}

func (dc *delayC) putDevices() {
	for _, c := range []*class{&dc.read, &dc.write, &dc.flush} {
		if c.dev != nil {
			dc.ti.PutDevice(c.dev)
		}
	}
}

// Dtr is delay_dtr(): the timer and the worker go, then the devices.
func (dc *delayC) Dtr() {
	dc.mu.Lock()
	dc.dead = true
	dc.stopTimerLocked()
	dc.mu.Unlock()
	dc.wq.Stop()
	dc.putDevices()
}

func (dc *delayC) stopTimerLocked() {
	if dc.timer != nil {
		dc.timer.Stop()
		dc.timer = nil
	}
}

// queueTimeoutLocked is queue_timeout(): (re-)arm the timer only if it is
// idle or the new expiry is earlier; it runs at the jiffy the timer wheel
// rounds the expiry to.
func (dc *delayC) queueTimeoutLocked(expires uint64) {
	if dc.dead || (dc.timer != nil && expires >= dc.timerExp) {
		return
	}
	dc.stopTimerLocked()
	at, capped := wheelExpiry(expires, dc.clock.Jiffies())
	d := time.Duration(at)*sim.Tick - dc.clock.Now()
	var t *sim.Timer
	fire := func() {
		dc.mu.Lock()
		if dc.timer == t {
			dc.timer = nil
		}
		dc.mu.Unlock()
		// handle_delayed_timer(): queue flush_expired_bios.
		dc.wq.Queue(func() { dc.flushDelayed(false) })
	}
	if capped {
		// An obscenely long delay (2^31ms and more are MAX_JIFFY_OFFSET):
		// the timer runs at the wheel's capacity and re-arms without ever
		// releasing the bio, so it must not keep a deadlock from being
		// seen.
		t = dc.clock.AfterFuncDaemon(d, fire)
	} else {
		t = dc.clock.AfterFunc(d, fire)
	}
	dc.timer = t
	dc.timerExp = expires
}

// flushDelayed is flush_delayed_bios(): take the expired bios (all of them
// when flushing for a suspend) off the list in order, re-arm for the
// earliest one left, and submit the taken ones.
func (dc *delayC) flushDelayed(all bool) {
	dc.mu.Lock()
	now := dc.clock.Jiffies()
	var out []*dmsim.Bio
	keep := dc.list[:0]
	var next uint64
	have := false
	for _, d := range dc.list {
		if all || now >= d.expires {
			out = append(out, d.bio)
			d.class.ops--
			continue
		}
		keep = append(keep, d)
		if !have || d.expires < next {
			next, have = d.expires, true
		}
	}
	clear(dc.list[len(keep):])
	dc.list = keep
	if have {
		dc.queueTimeoutLocked(next)
	}
	dc.mu.Unlock()
	for _, b := range out {
		b.Dev.Submit(b)
	}
}

// Map is delay_map() and delay_bio(): pick the class (a write with
// REQ_PREFLUSH is a flush; discards are writes), remap to its device, and
// hold the bio unless its delay is 0 or the device is suspending.
func (dc *delayC) Map(bio *dmsim.Bio) dmsim.MapResult {
	c := &dc.read
	if bio.Op != dmsim.OpRead {
		if bio.Op == dmsim.OpFlush || bio.Flags&dmsim.ReqPreflush != 0 {
			c = &dc.flush
		} else {
			c = &dc.write
		}
	}
	bio.Dev = c.dev.Bdev
	if bio.Size() != 0 {
		bio.Sector = c.start + (bio.Sector - dc.ti.Begin)
	}
	if c.delay == 0 {
		return dmsim.MapRemapped
	}
	expires := dc.clock.Jiffies() + sim.MsecsToJiffies(c.delay)
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if !dc.mayDelay {
		return dmsim.MapRemapped
	}
	c.ops++
	dc.list = append(dc.list, &delayed{bio: bio, class: c, expires: expires})
	dc.queueTimeoutLocked(expires)
	return dmsim.MapSubmitted
}

// PreSuspend is delay_presuspend(): stop delaying, drop the timer and
// submit every held bio now.
func (dc *delayC) PreSuspend() {
	dc.mu.Lock()
	dc.mayDelay = false
	dc.stopTimerLocked()
	dc.mu.Unlock()
	dc.flushDelayed(true)
}

// Resume is delay_resume().
func (dc *delayC) Resume() {
	dc.mu.Lock()
	dc.mayDelay = true
	dc.mu.Unlock()
}

func classStatus(c *class) string {
	return fmt.Sprintf("%s %d %d", c.dev.Name, c.start, c.delay)
}

// Status is delay_status(): INFO counts the bios held per class (reads,
// writes, flushes); TABLE gives the classes back as many as were given.
func (dc *delayC) Status(typ dmsim.StatusType, _ dmsim.StatusFlags) string {
	if typ == dmsim.StatusInfo {
		dc.mu.Lock()
		defer dc.mu.Unlock()
		return fmt.Sprintf("%d %d %d", dc.read.ops, dc.write.ops, dc.flush.ops)
	}
	parts := []string{classStatus(&dc.read)}
	if dc.argc >= 6 {
		parts = append(parts, classStatus(&dc.write))
	}
	if dc.argc >= 9 {
		parts = append(parts, classStatus(&dc.flush))
	}
	return strings.Join(parts, " ")
}

// IterateDevices is delay_iterate_devices(): every class, even when they
// share a device.
func (dc *delayC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	for _, c := range []*class{&dc.read, &dc.write, &dc.flush} {
		if err := fn(c.dev, c.start, dc.ti.Len); err != nil {
			return err
		}
	}
	return nil
}
