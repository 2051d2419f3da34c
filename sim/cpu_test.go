package sim

import (
	"context"
	"testing"
	"time"
)

// Charges add up on the token and are paid by a sleep once they reach a
// quantum; a token not held pays nothing; a kill ends the sleep at once.
func TestTokenCharge(t *testing.T) {
	for _, c := range []struct {
		name    string
		held    bool
		charges []time.Duration
		scale   float64       // Clock.SetCPUScale (0: not set)
		killAt  time.Duration // cancel the context then (0: never)
		now     time.Duration // virtual time after the charges
		paid    time.Duration // Clock.CPUTime
		unpaid  time.Duration
	}{
		{"below a quantum", true, []time.Duration{300 * time.Microsecond, 600 * time.Microsecond}, 0, 0, 0, 0, 900 * time.Microsecond},
		{"a quantum", true, []time.Duration{600 * time.Microsecond, 600 * time.Microsecond}, 0, 0, 1200 * time.Microsecond, 1200 * time.Microsecond, 0},
		{"batches", true, []time.Duration{700 * time.Microsecond, 700 * time.Microsecond, 700 * time.Microsecond, 700 * time.Microsecond},
			0, 0, 2800 * time.Microsecond, 2800 * time.Microsecond, 0},
		{"large", true, []time.Duration{5 * time.Second}, 0, 0, 5 * time.Second, 5 * time.Second, 0},
		{"killed", true, []time.Duration{5 * time.Second}, 0, 2 * time.Second, 2 * time.Second, 5 * time.Second, 0},
		{"not held", false, []time.Duration{5 * time.Second}, 0, 0, 0, 0, 0},
		{"scaled up", true, []time.Duration{300 * time.Microsecond, 600 * time.Microsecond}, 4, 0, 3600 * time.Microsecond, 3600 * time.Microsecond, 0},
		{"scaled down", true, []time.Duration{4 * time.Millisecond}, 0.25, 0, time.Millisecond, time.Millisecond, 0},
		{"bad scale is 1", true, []time.Duration{2 * time.Millisecond}, -3, 0, 2 * time.Millisecond, 2 * time.Millisecond, 0},
	} {
		clk := NewClock()
		if c.scale != 0 {
			clk.SetCPUScale(c.scale)
		}
		tok := NewToken(clk, nil)
		if c.held {
			tok.Acquire()
		}
		ctx, cancel := context.WithCancel(context.Background())
		if c.killAt > 0 {
			clk.AfterFunc(c.killAt, cancel)
		}
		for _, d := range c.charges {
			tok.Charge(ctx, d)
		}
		if got := clk.CPUCharged(); got != c.paid+c.unpaid && c.killAt == 0 {
			t.Errorf("%s: charged %v, want %v", c.name, got, c.paid+c.unpaid)
		}
		if got := clk.Now(); got != c.now || clk.CPUTime() != c.paid || tok.Unpaid() != c.unpaid {
			t.Errorf("%s: now %v, paid %v, unpaid %v; want %v, %v, %v", c.name, got, clk.CPUTime(), tok.Unpaid(), c.now, c.paid, c.unpaid)
		}
		tok.Release()
		cancel()
	}
}

// A busy process's charges let a timer fire (the timeout of a command that
// never waits), and other actors run before time moves.
func TestChargeLetsTimersFire(t *testing.T) {
	clk := NewClock()
	tok := NewToken(clk, nil)
	tok.Acquire()
	ctx, cancel := clk.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	for ctx.Err() == nil {
		tok.Charge(ctx, 3*time.Microsecond)
		n++
	}
	tok.Release()
	// the kill cut the last payment short: the work done is 5 s and less
	// than a payment (a quantum and a charge) more
	if work := time.Duration(n) * 3 * time.Microsecond; clk.Now() != 5*time.Second ||
		work < 5*time.Second || work >= 5*time.Second+CPUQuantum+3*time.Microsecond {
		t.Errorf("timeout at %v after %v of work", clk.Now(), work)
	}
}

// Progress counts fired timers other than CPU charges' and daemons', and
// kernel calls; Pending says whether such a timer waits.
func TestProgress(t *testing.T) {
	clk := NewClock()
	tok := NewToken(clk, nil)
	tok.Acquire()
	clk.AfterFuncDaemon(time.Millisecond, func() {})
	tok.Charge(context.Background(), 2*time.Millisecond) // the daemon timer and a CPU charge fire
	if p := clk.Progress(); p.Events != 0 || p.Pending || p.Now != 2*time.Millisecond {
		t.Errorf("after a charge: %+v", p)
	}
	clk.AfterFunc(time.Second, func() {})
	if p := clk.Progress(); !p.Pending {
		t.Errorf("a timer is pending: %+v", p)
	}
	clk.Sleep(context.Background(), 2*time.Second) // the timer and the sleep's
	tok.Do(clk, func() {})
	if p := clk.Progress(); p.Events != 3 || p.Pending {
		t.Errorf("after a sleep and a kernel call: %+v, want 3 events", p)
	}
	tok.Release()
}

// stallWatch: how long nothing has progressed, sample by sample.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type sample struct {
		p    Progress
		wall time.Duration
		want time.Duration
	}
	for _, c := range []struct {
		name    string
		samples []sample
	}{
		{"stuck", []sample{{Progress{}, 0, 0}, {Progress{}, 3 * time.Second, 3 * time.Second}, {Progress{}, 10 * time.Second, 10 * time.Second}}},
		{"events", []sample{{Progress{}, 0, 0}, {Progress{Events: 1}, 5 * time.Second, 0}, {Progress{Events: 1}, 12 * time.Second, 7 * time.Second}}},
		{"busy with nothing ahead", []sample{{Progress{}, 0, 0}, {Progress{Now: time.Second}, 5 * time.Second, 5 * time.Second},
			{Progress{Now: 2 * time.Second}, 10 * time.Second, 10 * time.Second}}},
		{"busy towards a timer", []sample{{Progress{Pending: true}, 0, 0}, {Progress{Now: time.Second, Pending: true}, 5 * time.Second, 0},
			{Progress{Now: time.Second, Pending: true}, 8 * time.Second, 3 * time.Second}}},
	} {
		var s stallWatch
		for i, x := range c.samples {
			if got := s.observe(x.p, t0.Add(x.wall)); got != x.want {
				t.Errorf("%s: sample %d: stalled %v, want %v", c.name, i, got, x.want)
			}
		}
	}
}

// WatchStall on a fake wall clock: a clock nobody moves is reported once
// the limit has passed; one that fires timers is not.
func TestWatchStall(t *testing.T) {
	clk := NewClock()
	wall := NewInstantWall(time.Unix(1000, 0))
	start := wall.Now()
	stalled := false
	clk.WatchStall(context.Background(), wall, 10*time.Second, func() { stalled = true })
	if !stalled || wall.Now().Sub(start) != 10*time.Second {
		t.Errorf("stalled %v after %v of wall time, want after 10s", stalled, wall.Now().Sub(start))
	}

	// a simulation that sleeps between the samples makes progress
	ctx, cancel := context.WithCancel(context.Background())
	tok := NewToken(clk, nil)
	tok.Acquire()
	w := &sleepingWall{InstantWall: NewInstantWall(start), clk: clk, n: 30, cancel: cancel}
	clk.WatchStall(ctx, w, 10*time.Second, func() { t.Error("stalled while timers fire") })
	tok.Release()
	if w.n != 0 {
		t.Errorf("WatchStall returned with %d samples to go", w.n)
	}
}

// sleepingWall is a fake wall whose every wait the simulation spends
// sleeping a second in virtual time; after n waits it ends the watch.
type sleepingWall struct {
	*InstantWall
	clk    *Clock
	n      int
	cancel func()
}

func (w *sleepingWall) After(d time.Duration) <-chan time.Time {
	w.clk.Sleep(context.Background(), time.Second)
	if w.n--; w.n == 0 {
		w.cancel()
	}
	return w.InstantWall.After(d)
}
