package sim

import (
	"context"
	"testing"
	"time"
)

func TestFollowWallClock(t *testing.T) {
	for _, deadlines := range [][]time.Duration{
		{time.Second},
		{0, 3 * time.Millisecond, 250 * time.Millisecond, 60 * time.Second},
		{5 * time.Second, 5 * time.Second, 5*time.Second + time.Nanosecond},
	} {
		c := NewClock()
		wall := NewInstantWall(time.Unix(1000, 0))
		start := wall.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type firing struct{ virtual, wall time.Duration }
		var fired []firing
		for i, d := range deadlines {
			c.AfterFunc(d, func() {
				fired = append(fired, firing{c.now, wall.Now().Sub(start)})
				if i == len(deadlines)-1 {
					cancel()
				}
			})
		}
		if err := c.FollowWallClock(ctx, wall); err != context.Canceled {
			t.Fatalf("%v: FollowWallClock returned %v", deadlines, err)
		}
		if len(fired) != len(deadlines) {
			t.Fatalf("%v: %d timers fired", deadlines, len(fired))
		}
		for i, f := range fired {
			d := deadlines[i]
			// A timer fires at its virtual deadline, once the wall clock has
			// reached it, and no later than the wall clock's next step.
			if f.virtual != d || f.wall < d || f.wall > d+maxWallStep {
				t.Errorf("%v: timer %d fired at virtual %v, wall %v", deadlines, i, f.virtual, f.wall)
			}
		}
	}
}

// TestFollowWallClockNewTimer: a timer added while the clock follows the
// wall fires on time, even if it is earlier than every other.
func TestFollowWallClockNewTimer(t *testing.T) {
	c := NewClock()
	wall := NewInstantWall(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var at time.Duration
	c.AfterFunc(time.Hour, func() { t.Error("the hour timer fired") })
	c.AfterFunc(10*time.Millisecond, func() {
		c.AfterFunc(time.Millisecond, func() { at = c.now; cancel() })
	})
	c.FollowWallClock(ctx, wall)
	if at != 11*time.Millisecond {
		t.Errorf("the new timer fired at %v, want 11ms", at)
	}
}
