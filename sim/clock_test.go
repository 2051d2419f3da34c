package sim

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// actor runs fn as a clock actor on its own goroutine and returns a
// channel closed when it is done.
func actor(c *Clock, fn func()) <-chan struct{} {
	done := make(chan struct{})
	c.Enter()
	go func() {
		defer close(done)
		defer c.Exit()
		fn()
	}()
	return done
}

func TestClockSleepAdvancesVirtualTime(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	start := time.Now()
	if err := c.Sleep(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if c.Now() != time.Hour {
		t.Fatalf("now = %v, want 1h", c.Now())
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("slept in real time")
	}
}

func TestClockTimersFireInOrder(t *testing.T) {
	c := NewClock()
	c.Enter()
	var mu sync.Mutex
	var order []string
	rec := func(s string) func() {
		return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(1*time.Second, rec("a"))
	c.AfterFunc(2*time.Second, rec("b1"))
	c.AfterFunc(2*time.Second, rec("b2")) // same time: creation order
	stopped := c.AfterFunc(2*time.Second, rec("never"))
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
	if err := c.Sleep(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Exit()
	want := []string{"a", "b1", "b2", "c"}
	if len(order) != len(want) {
		t.Fatalf("order %v", order)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

// Time does not advance while some actor still holds a token.
func TestClockWaitsForRunningActors(t *testing.T) {
	c := NewClock()
	c.Enter() // the test
	release := make(chan struct{})
	var sawTime time.Duration
	busy := actor(c, func() {
		<-release // holds its token until released
		sawTime = c.Now()
	})
	slept := actor(c, func() { _ = c.Sleep(context.Background(), time.Minute) })
	c.Exit() // the test gives up its token; busy still holds one
	// The sleeper cannot finish until busy exits.
	select {
	case <-slept:
		t.Fatal("clock advanced while an actor was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-busy
	<-slept
	if sawTime != 0 {
		t.Fatalf("busy actor saw time %v, want 0", sawTime)
	}
	if c.Now() != time.Minute {
		t.Fatalf("now %v", c.Now())
	}
}

func TestClockEvent(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	ev := c.NewEvent()
	c.AfterFunc(5*time.Second, func() { ev.Fire(errors.New("boom")) })
	if ev.Fired() {
		t.Fatal("fired early")
	}
	err := ev.Wait(context.Background())
	if err == nil || err.Error() != "boom" || c.Now() != 5*time.Second {
		t.Fatalf("wait = %v at %v", err, c.Now())
	}
	// Waiting again returns at once with the same status.
	if err := ev.Wait(context.Background()); err == nil || err.Error() != "boom" {
		t.Fatal(err)
	}
	ev.Fire(nil) // no effect
	if err := ev.Wait(context.Background()); err == nil {
		t.Fatal("second Fire changed the status")
	}
}

func TestClockDeadlockDetection(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	// Only a daemon timer: nothing can wake the waiter.
	fired := 0
	var rearm func()
	rearm = func() { fired++; c.AfterFuncDaemon(time.Second, rearm) }
	c.AfterFuncDaemon(time.Second, rearm)
	ev := c.NewEvent()
	err := ev.Wait(context.Background())
	if !errors.Is(err, ErrDeadlock) {
		t.Fatalf("wait = %v, want ErrDeadlock", err)
	}
	// A real timer keeps the simulation alive; daemon timers fire as time
	// passes.
	ev2 := c.NewEvent()
	c.AfterFunc(10*time.Second, func() { ev2.Fire(nil) })
	if err := ev2.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fired < 9 {
		t.Fatalf("daemon timer fired %d times in 10s", fired)
	}
}

func TestClockTwoWaitersDeadlock(t *testing.T) {
	c := NewClock()
	c.Enter()
	a, b := c.NewEvent(), c.NewEvent()
	var errA, errB error
	doneA := actor(c, func() { errA = a.Wait(context.Background()) })
	doneB := actor(c, func() { errB = b.Wait(context.Background()) })
	c.Exit()
	<-doneA
	<-doneB
	if !errors.Is(errA, ErrDeadlock) || !errors.Is(errB, ErrDeadlock) {
		t.Fatalf("errA=%v errB=%v", errA, errB)
	}
}

func TestClockHalt(t *testing.T) {
	c := NewClock()
	c.Enter()
	ev := c.NewEvent()
	c.AfterFunc(time.Hour, func() { t.Error("timer ran after halt") })
	var err error
	done := actor(c, func() { err = ev.Wait(context.Background()) })
	// Keep our token so the waiter cannot be declared deadlocked; halt
	// wakes it.
	for {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Halt()
	<-done
	if !errors.Is(err, ErrHalted) {
		t.Fatalf("err = %v", err)
	}
	if !c.Halted() {
		t.Fatal("not halted")
	}
	if err := ev.Wait(context.Background()); !errors.Is(err, ErrHalted) {
		t.Fatalf("wait after halt = %v", err)
	}
	c.Exit()
}

func TestClockWithTimeout(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	ctx, cancel := c.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := c.NewEvent()
	c.AfterFunc(time.Hour, func() { ev.Fire(nil) })
	err := ev.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) != context.DeadlineExceeded {
		t.Fatalf("err = %v cause %v", err, context.Cause(ctx))
	}
	if c.Now() != 30*time.Second {
		t.Fatalf("now %v", c.Now())
	}
}

func TestWorkqueueOrderAndFlush(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	wq := c.NewWorkqueue()
	var mu sync.Mutex
	var got []int
	for i := 0; i < 20; i++ {
		i := i
		wq.Queue(func() {
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
		})
	}
	if err := wq.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("order %v", got)
		}
	}
	if len(got) != 20 {
		t.Fatalf("ran %d items", len(got))
	}
	wq.Stop()
	if wq.Queue(func() {}) {
		t.Fatal("queue after stop accepted")
	}
}

// A queued work item holds time back: a timer due later than the work is
// queued does not fire before the work has run.
func TestWorkqueueHoldsTime(t *testing.T) {
	c := NewClock()
	c.Enter()
	wq := c.NewWorkqueue()
	var at time.Duration = -1
	release := make(chan struct{})
	wq.Queue(func() { <-release; at = c.Now() })
	ev := c.NewEvent()
	c.AfterFunc(time.Second, func() { ev.Fire(nil) })
	done := actor(c, func() { _ = ev.Wait(context.Background()) })
	c.Exit()
	time.Sleep(20 * time.Millisecond)
	close(release)
	<-done
	if at != 0 {
		t.Fatalf("work ran at %v, want 0", at)
	}
}

func TestMutexHandoff(t *testing.T) {
	c := NewClock()
	c.Enter()
	m := c.NewMutex()
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.TryLock() {
		t.Fatal("TryLock of a held mutex")
	}
	var order []int
	var omu sync.Mutex
	var dones []<-chan struct{}
	for i := 0; i < 3; i++ {
		i := i
		dones = append(dones, actor(c, func() {
			if err := m.Lock(context.Background()); err != nil {
				t.Error(err)
				return
			}
			omu.Lock()
			order = append(order, i)
			omu.Unlock()
			_ = c.Sleep(context.Background(), time.Second) // wait while holding it
			m.Unlock()
		}))
		// Let each waiter queue up before the next one starts.
		for {
			c.mu.Lock()
			n := len(m.waiters)
			c.mu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Hold the lock for a while in virtual time: waiters give their tokens
	// up, so time can pass.
	if err := c.Sleep(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	c.Exit()
	for _, d := range dones {
		<-d
	}
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("order %v", order)
	}
	if c.Now() != 13*time.Second {
		t.Fatalf("now %v, want 13s", c.Now())
	}
}

func TestMutexDeadlockAndCancel(t *testing.T) {
	c := NewClock()
	c.Enter()
	defer c.Exit()
	m := c.NewMutex()
	_ = m.Lock(context.Background())
	// The holder is this actor; a second Lock from the same actor can
	// never succeed: the clock reports a deadlock instead of hanging.
	if err := m.Lock(context.Background()); !errors.Is(err, ErrDeadlock) {
		t.Fatalf("relock = %v", err)
	}
	ctx, cancel := c.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.Lock(ctx); err == nil {
		t.Fatal("lock with timeout succeeded")
	}
	if c.Now() != time.Second {
		t.Fatalf("now %v", c.Now())
	}
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("mutex not free after unlock with no waiters")
	}
	m.Unlock()
}
