package sim

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the kernel's virtual clock, run as a discrete-event simulator.
//
// Every actor that can make progress (a command being run, a queued work
// item, a timer function being run) holds a running token. An actor that
// waits for something in the simulation (a bio completion, a sleep, a device
// event) gives its token up for the wait; whoever wakes it hands a token back
// at wake-up time, so no wake-up is ever lost in between. When no token is
// held and some actor waits, nothing can happen until a timer fires, so the
// clock jumps straight to the earliest timer and runs it. Tests and scripts
// therefore never wait in real time.
//
// If actors wait and no timer can wake them (only daemon timers, such as the
// thin pool's periodic commit, are left), the simulation is deadlocked: every
// waiter is woken with ErrDeadlock rather than hanging. The real kernel would
// hang there; scripts wrap such I/O in `timeout`.
type Clock struct {
	mu        sync.Mutex
	now       time.Duration
	running   int
	seq       uint64
	timers    timerHeap
	waiters   map[*waiter]struct{}
	advancing bool
	halted    bool
	added     chan struct{} // a timer was added (for FollowWallClock)

	// progress counts what the simulation did besides burning CPU (see
	// Progress): timers that fired, other than CPU charges' and daemons'.
	progress uint64
	// kcalls counts calls into the kernel (Token.Do).
	kcalls atomic.Uint64
	// cpuTime is the CPU time busy processes paid for (Token.Charge).
	cpuTime time.Duration
	// wallTimed: virtual time follows the wall clock (FollowWallClock),
	// in which CPU work takes its real time already.
	wallTimed atomic.Bool
	// cpuScale multiplies CPU charges (SetCPUScale); 0 stands for 1.
	cpuScale atomic.Uint64 // math.Float64bits
	// cpuCharged is every CPU charge made, paid or not (CPUCharged).
	cpuCharged atomic.Int64
}

var (
	// ErrDeadlock wakes waiters that nothing could ever wake.
	ErrDeadlock = errors.New("every actor is waiting and no timer can wake one (the kernel would hang here)")
	// ErrHalted wakes waiters when the machine is powered off.
	ErrHalted = errors.New("machine halted")
)

// NewClock returns a clock at time 0 with no actors.
func NewClock() *Clock {
	return &Clock{waiters: make(map[*waiter]struct{}), added: make(chan struct{}, 1)}
}

// Now is the virtual time since boot.
func (c *Clock) Now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Enter registers a running actor. Every Enter is matched by one Exit.
func (c *Clock) Enter() {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
}

// Exit releases an actor's token.
func (c *Clock) Exit() {
	c.mu.Lock()
	c.running--
	if c.running < 0 {
		c.mu.Unlock()
		panic("dmsim: Clock.Exit without Enter")
	}
	c.advanceLocked()
	c.mu.Unlock()
}

// Timer is a pending virtual-time callback.
type Timer struct {
	c     *Clock
	when  time.Duration
	seq   uint64
	fn    func()
	kind  timerKind
	index int // in the heap; -1 once fired or stopped
}

// timerKind says what a timer stands for.
type timerKind int

const (
	timerNormal timerKind = iota // a sleep, a timeout, a target's timer
	timerDaemon                  // housekeeping (AfterFuncDaemon)
	timerCPU                     // the end of a busy process's CPU charge (Token.Charge)
)

// AfterFunc runs fn once the virtual clock reaches now+d. fn runs holding a
// running token, in whichever goroutine advances the clock; it must not wait.
func (c *Clock) AfterFunc(d time.Duration, fn func()) *Timer { return c.addTimer(d, fn, timerNormal) }

// AfterFuncDaemon is AfterFunc for housekeeping timers (periodic commits,
// wakers) that cannot by themselves release a waiting actor: they fire while
// time advances, but they do not keep a deadlock from being declared.
func (c *Clock) AfterFuncDaemon(d time.Duration, fn func()) *Timer {
	return c.addTimer(d, fn, timerDaemon)
}

func (c *Clock) addTimer(d time.Duration, fn func(), kind timerKind) *Timer {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &Timer{c: c, when: c.now + d, seq: c.seq, fn: fn, kind: kind, index: -1}
	if !c.halted {
		heap.Push(&c.timers, t)
		select {
		case c.added <- struct{}{}:
		default:
		}
	}
	return t
}

// Stop cancels the timer; it reports whether the timer was still pending.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

type waiter struct {
	ch      chan error
	ctx     context.Context
	woken   bool
	granted bool // a Mutex was handed to this waiter
}

// wakeLocked hands the waiter a running token and releases it.
func (c *Clock) wakeLocked(w *waiter, err error) {
	if w.woken {
		return
	}
	w.woken = true
	delete(c.waiters, w)
	c.running++
	w.ch <- err
}

// block gives up the caller's token until w is woken or ctx ends; the caller
// holds c.mu, which block releases.
func (c *Clock) block(ctx context.Context, w *waiter) error {
	c.waiters[w] = struct{}{}
	c.running--
	c.advanceLocked()
	c.mu.Unlock()
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		if !w.woken {
			w.woken = true
			delete(c.waiters, w)
			c.running++
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// advanceLocked runs timers while no actor holds a token and some actor waits.
func (c *Clock) advanceLocked() {
	if c.advancing {
		return
	}
	c.advancing = true
	defer func() { c.advancing = false }()
	for c.running == 0 && len(c.waiters) > 0 && !c.halted {
		// A timer function may have cancelled contexts that waiters wait on
		// (timeout): wake those first, with their tokens.
		woke := false
		for w := range c.waiters {
			if w.ctx != nil && w.ctx.Err() != nil {
				c.wakeLocked(w, w.ctx.Err())
				woke = true
			}
		}
		if woke {
			break
		}
		if !c.timers.hasNonDaemon() {
			for w := range c.waiters {
				c.wakeLocked(w, ErrDeadlock)
			}
			break
		}
		t := heap.Pop(&c.timers).(*Timer)
		if t.when > c.now {
			c.now = t.when
		}
		if t.kind == timerNormal {
			c.progress++
		}
		c.running++
		c.mu.Unlock()
		t.fn()
		c.mu.Lock()
		c.running--
	}
}

// Event is a one-shot wake-up: Wait returns once Fire has been called.
type Event struct {
	c       *Clock
	fired   bool
	err     error
	waiters []*waiter
}

// NewEvent returns an unfired event.
func (c *Clock) NewEvent() *Event { return &Event{c: c} }

// Fire wakes every waiter, now and later, with err (nil for success).
func (e *Event) Fire(err error) {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.fired {
		return
	}
	e.fired, e.err = true, err
	for _, w := range e.waiters {
		c.wakeLocked(w, err)
	}
	e.waiters = nil
}

// Fired reports whether Fire has been called.
func (e *Event) Fired() bool {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	return e.fired
}

// Wait blocks the calling actor (which must hold a token) until the event
// fires, ctx ends, or the simulation deadlocks or halts.
func (e *Event) Wait(ctx context.Context) error {
	c := e.c
	c.mu.Lock()
	if e.fired {
		err := e.err
		c.mu.Unlock()
		return err
	}
	if c.halted {
		c.mu.Unlock()
		return ErrHalted
	}
	w := &waiter{ch: make(chan error, 1), ctx: ctx}
	e.waiters = append(e.waiters, w)
	return c.block(ctx, w)
}

// Sleep waits d of virtual time.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	return c.sleep(ctx, d, timerNormal)
}

func (c *Clock) sleep(ctx context.Context, d time.Duration, kind timerKind) error {
	ev := c.NewEvent()
	t := c.addTimer(d, func() { ev.Fire(nil) }, kind)
	err := ev.Wait(ctx)
	t.Stop()
	return err
}

// WithTimeout is context.WithTimeout in virtual time: the context is
// cancelled when the clock reaches now+d (busybox `timeout`).
func (c *Clock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := c.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// Halt powers the clock off: pending timers are dropped and every waiter is
// woken with ErrHalted. Used for `# reboot`, which does no teardown.
func (c *Clock) Halt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.halted = true
	for _, t := range c.timers {
		t.index = -1
	}
	c.timers = nil
	for w := range c.waiters {
		c.wakeLocked(w, ErrHalted)
	}
}

// Halted reports whether Halt was called.
func (c *Clock) Halted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}

// Mutex is a sleeping lock in virtual time (the kernel's struct mutex):
// an actor waiting for it gives its running token up, so the simulation
// can advance (or detect a deadlock) while the holder waits for something
// else. Unlock hands the lock to the longest waiter.
type Mutex struct {
	c       *Clock
	locked  bool
	waiters []*waiter
}

// NewMutex returns an unlocked mutex.
func (c *Clock) NewMutex() *Mutex { return &Mutex{c: c} }

// Lock acquires the mutex, waiting as a clock actor. It fails only if ctx
// ends, the machine halts or the simulation deadlocks first; the mutex is
// then not held.
func (m *Mutex) Lock(ctx context.Context) error {
	c := m.c
	c.mu.Lock()
	if !m.locked {
		m.locked = true
		c.mu.Unlock()
		return nil
	}
	if c.halted {
		c.mu.Unlock()
		return ErrHalted
	}
	w := &waiter{ch: make(chan error, 1), ctx: ctx}
	m.waiters = append(m.waiters, w)
	err := c.block(ctx, w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.granted {
		return nil
	}
	for i, x := range m.waiters {
		if x == w {
			m.waiters = append(m.waiters[:i:i], m.waiters[i+1:]...)
			break
		}
	}
	if err == nil {
		err = ErrDeadlock
	}
	return err
}

// TryLock acquires the mutex if it is free.
func (m *Mutex) TryLock() bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	if m.locked {
		return false
	}
	m.locked = true
	return true
}

// Unlock releases the mutex, handing it to the first waiter still waiting.
func (m *Mutex) Unlock() {
	c := m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !m.locked {
		panic("dmsim: unlock of unlocked Mutex")
	}
	for len(m.waiters) > 0 {
		w := m.waiters[0]
		m.waiters = m.waiters[1:]
		if w.woken {
			continue
		}
		w.granted = true
		c.wakeLocked(w, nil)
		return
	}
	m.locked = false
}

// Workqueue runs queued functions one at a time, in order, on its own
// goroutine (the kernel's single-threaded workqueue). A queued item holds a
// running token from Queue until it has run, so time never advances past work
// that is still to be done.
type Workqueue struct {
	c       *Clock
	mu      sync.Mutex
	items   []func()
	active  bool
	stopped bool
}

// NewWorkqueue returns an idle workqueue.
func (c *Clock) NewWorkqueue() *Workqueue { return &Workqueue{c: c} }

// Queue appends fn. It returns false if the queue was stopped.
func (wq *Workqueue) Queue(fn func()) bool {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if wq.stopped || wq.c.Halted() {
		return false
	}
	wq.c.Enter()
	wq.items = append(wq.items, fn)
	if !wq.active {
		wq.active = true
		go wq.run()
	}
	return true
}

func (wq *Workqueue) run() {
	for {
		wq.mu.Lock()
		if len(wq.items) == 0 {
			wq.active = false
			wq.mu.Unlock()
			return
		}
		fn := wq.items[0]
		wq.items = wq.items[1:]
		stopped := wq.stopped
		wq.mu.Unlock()
		if !stopped && !wq.c.Halted() {
			fn()
		}
		wq.c.Exit()
	}
}

// Flush waits until everything queued before the call has run.
func (wq *Workqueue) Flush(ctx context.Context) error {
	ev := wq.c.NewEvent()
	if !wq.Queue(func() { ev.Fire(nil) }) {
		return nil
	}
	return ev.Wait(ctx)
}

// Stop drops pending items and refuses new ones.
func (wq *Workqueue) Stop() {
	wq.mu.Lock()
	wq.stopped = true
	wq.mu.Unlock()
}

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

func (h timerHeap) hasNonDaemon() bool {
	for _, t := range h {
		if t.kind != timerDaemon {
			return true
		}
	}
	return false
}
