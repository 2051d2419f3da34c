package sim

import (
	"context"
	"sync"
	"time"
)

// Wall is the host's clock, as FollowWallClock reads it.
type Wall interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

// HostWall is the host's real clock.
type HostWall struct{}

func (HostWall) Now() time.Time                         { return time.Now() }
func (HostWall) After(d time.Duration) <-chan time.Time { return time.After(d) }

// InstantWall is a wall clock that moves only when it is waited on: After(d)
// moves it by d at once. Tests drive FollowWallClock and WatchStall with it,
// and never wait in real time.
type InstantWall struct {
	mu  sync.Mutex
	now time.Time
}

// NewInstantWall returns an InstantWall reading start.
func NewInstantWall(start time.Time) *InstantWall { return &InstantWall{now: start} }

func (w *InstantWall) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *InstantWall) After(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- w.now
	return ch
}

// maxWallStep bounds how far virtual time lags the wall clock between
// timers, and how long FollowWallClock waits in real time before it looks
// at the timers again.
const maxWallStep = 20 * time.Millisecond

// FollowWallClock makes virtual time follow the wall clock, for a daemon
// that serves real programs (they sleep and retry in real time, so the
// pool's 1 s commit and its 60 s no_space_timeout must be real seconds). It
// runs as an actor until ctx ends: when a timer is due on the wall clock, or
// virtual time lags the wall clock by maxWallStep, it sleeps in virtual time
// up to the wall clock's time (timers that are due fire on the way);
// otherwise it holds its token, which keeps the clock from jumping ahead,
// and waits in real time for the next timer's deadline, a new timer or
// maxWallStep. Virtual time therefore never runs ahead of the wall clock,
// lags it by less than maxWallStep, and a timer fires as soon as its
// deadline has passed on the wall clock and every other actor waits.
//
// CPU charges (Token.Charge) take no virtual time on such a clock: the work
// they stand for takes its time on the wall clock already.
func (c *Clock) FollowWallClock(ctx context.Context, wall Wall) error {
	c.wallTimed.Store(true)
	c.Enter()
	defer c.Exit()
	start, base := wall.Now(), c.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		target := base + wall.Now().Sub(start)
		now := c.Now()
		next, pending := c.nextDeadline()
		// Sleep in virtual time when a timer is due, or to keep the clock
		// within maxWallStep of the wall; otherwise wait in real time, so
		// an idle daemon costs a few wake-ups a second.
		if (pending && next <= target) || target-now >= maxWallStep {
			if err := c.Sleep(ctx, max(target-now, 0)); err != nil {
				return err
			}
			continue
		}
		step := maxWallStep - (target - now)
		if pending {
			step = min(step, next-target)
		}
		select {
		case <-ctx.Done():
		case <-wall.After(step):
		case <-c.added:
		}
	}
}

// nextDeadline is the virtual time of the earliest pending timer.
func (c *Clock) nextDeadline() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	return c.timers[0].when, true
}
