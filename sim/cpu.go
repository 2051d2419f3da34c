package sim

import (
	"context"
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
