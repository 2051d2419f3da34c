package sim

import (
	"context"
	"time"
)

// Progress is a snapshot of what the simulation has done, for a watchdog
// that tells a busy simulation from a stuck one.
type Progress struct {
	// Now is the virtual time.
	Now time.Duration
	// Events counts the timers that fired other than CPU charges' and
	// daemons' (a sleep ended, a timeout expired, a target's timer ran),
	// plus the calls into the kernel (Token.Do).
	Events uint64
	// Pending: a timer that counts in Events is pending, so CPU charges
	// that move time forward (Token.Charge) bring it nearer.
	Pending bool
}

// Progress returns the clock's progress so far.
func (c *Clock) Progress() Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := Progress{Now: c.now, Events: c.progress + c.kcalls.Load()}
	for _, t := range c.timers {
		if t.kind == timerNormal {
			p.Pending = true
			break
		}
	}
	return p
}

// stallWatch decides from successive Progress samples, taken at wall-clock
// times, how long the simulation has made no progress: no event counted in
// Progress.Events, and virtual time either stood still or moved (by CPU
// charges) with no timer ahead to move it towards. A process that only
// burns CPU, with nothing it could ever wait for (`while true; do :; done`),
// is stalled although time passes; one running under `timeout` is not
// until the timeout is due.
type stallWatch struct {
	last  Progress
	since time.Time // wall time of the last progress
	seen  bool
}

// observe records a sample and returns for how long, in wall time, nothing
// has progressed.
func (s *stallWatch) observe(p Progress, now time.Time) time.Duration {
	progressed := !s.seen || p.Events != s.last.Events || (p.Now != s.last.Now && s.last.Pending)
	s.last, s.seen = p, true
	if progressed {
		s.since = now
		return 0
	}
	return now.Sub(s.since)
}

// WatchStall watches the clock in wall time until ctx ends and calls
// stalled, once, as soon as it has made no progress (see Progress) for
// limit of wall time. The simulation itself never looks at the wall
// clock: this is a guard against a line that would never end, for the
// program running the simulation. It returns when ctx ends or once it
// has called stalled.
func (c *Clock) WatchStall(ctx context.Context, wall Wall, limit time.Duration, stalled func()) {
	if limit <= 0 {
		return
	}
	step := max(limit/10, time.Millisecond)
	var s stallWatch
	s.observe(c.Progress(), wall.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-wall.After(step):
		}
		if ctx.Err() != nil {
			return
		}
		if s.observe(c.Progress(), wall.Now()) >= limit {
			stalled()
			return
		}
	}
}
