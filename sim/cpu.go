package sim

import (
	"context"
	"math"
	"time"
)

// CPUQuantum is the least CPU time a process pays for at once. Charges add
// up on the process's token and are paid, all together, by a sleep in
// virtual time once they reach a quantum, so a busy process costs one
// timer per quantum rather than one per system call (the scheduler, too,
// looks at a running task only at its tick: scheduler_tick()).
const CPUQuantum = time.Millisecond

// Charge bills d of CPU work (a system call, bytes copied, a shell
// statement) to the process holding t. A process that never waits would
// otherwise hold the clock forever: no timer could fire, not even the one
// of the `timeout` it runs under. Once the charges reach CPUQuantum the
// process sleeps that long in virtual time as a clock actor: other actors
// run first, time passes only once they all wait, and the timers due
// meanwhile fire. The sleep ends early, with ctx's error, when ctx ends (the
// process is killed); what it had left to pay is dropped. Charges below a
// quantum that a process never completes are dropped with it, so
// short commands cost no time at all.
//
// On a clock that follows the wall clock (FollowWallClock) the work took
// its time on the wall clock already: the process sleeps for no time once
// a quantum, so that the timers due by then fire. Charge does nothing
// unless t is held, and must be called only by the goroutine of the
// process that holds t.
func (t *Token) Charge(ctx context.Context, d time.Duration) error {
	if !t.Held() || d <= 0 {
		return nil
	}
	if f := t.c.cpuScale.Load(); f != 0 {
		d = time.Duration(float64(d) * math.Float64frombits(f))
	}
	t.c.cpuCharged.Add(int64(d))
	t.cpu += d
	if t.cpu < CPUQuantum {
		return nil
	}
	d, t.cpu = t.cpu, 0
	if ctx == nil {
		ctx = context.Background()
	}
	if t.c.wallTimed.Load() {
		// the work took its time on the wall clock: let the timers due
		// by now fire
		return t.c.sleep(ctx, 0, timerCPU)
	}
	t.c.mu.Lock()
	t.c.cpuTime += d
	t.c.mu.Unlock()
	return t.c.sleep(ctx, d, timerCPU)
}

// CPUTime is the virtual time busy processes have paid for their CPU work
// (Token.Charge) since boot, including sleeps a kill cut short.
func (c *Clock) CPUTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cpuTime
}

// Unpaid returns the charges not paid for yet (less than CPUQuantum): a
// process that moves data in pieces of its own choosing (a pipe reader
// gets what happens to be in the pipe) can stop a piece exactly where the
// next payment falls due, so that it pays at the same point of its work
// however the pieces fell.
func (t *Token) Unpaid() time.Duration {
	if t == nil {
		return 0
	}
	return t.cpu
}

// CPUCharged is the CPU time processes have charged since boot (Token.
// Charge, scaled), including the charges below a quantum that were never
// paid: the work done, where CPUTime is the time it took.
func (c *Clock) CPUCharged() time.Duration { return time.Duration(c.cpuCharged.Load()) }

// SetCPUScale multiplies the CPU charges processes make from now on by f
// (1 by default; f must be positive and finite): a replay at a recording's
// pace (package script, Options.CommandCPUScale) stretches a command's CPU
// work to the time it took the recording's guest.
func (c *Clock) SetCPUScale(f float64) {
	if !(f > 0) || math.IsInf(f, 0) {
		f = 1
	}
	c.cpuScale.Store(math.Float64bits(f))
}
