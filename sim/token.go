package sim

import "time"

// Token is a process's clock token. A process holds it while it can run
// and gives it up while it is blocked: in the kernel (a bio, a sleep, an
// event wait gives it up inside the clock), on a pipe, or waiting for a
// child. The virtual clock advances only when no token is held, so time
// never passes while some process still has work to do, and a process
// blocked on a pipe never keeps time from passing.
type Token struct {
	c    *Clock
	held bool
	hook func(delta int)
	cpu  time.Duration // CPU work charged and not paid for yet (Charge)
}

// NewToken returns a released token on the clock; hook (may be nil) sees
// every acquire (+1) and release (-1).
func NewToken(c *Clock, hook func(delta int)) *Token { return &Token{c: c, hook: hook} }

// Acquire takes the token (Clock.Enter) unless it is held.
func (t *Token) Acquire() {
	if t == nil || t.held {
		return
	}
	t.c.Enter()
	t.held = true
	if t.hook != nil {
		t.hook(+1)
	}
}

// Release gives the token up (Clock.Exit) if it is held.
func (t *Token) Release() {
	if t == nil || !t.held {
		return
	}
	t.held = false
	if t.hook != nil {
		t.hook(-1)
	}
	t.c.Exit()
}

// Held reports whether the token is held.
func (t *Token) Held() bool { return t != nil && t.held }

// Do runs f, a call into the kernel, as a clock actor: under the token if
// it is held, else under a token of its own for the duration of the call
// (the shell's own kernel calls: stat, redirections). Waits in f give the
// token up and get it back.
func (t *Token) Do(c *Clock, f func()) {
	c.kcalls.Add(1)
	if t.Held() {
		f()
		return
	}
	c.Enter()
	defer c.Exit()
	f()
}

// Blocking runs f, a wait outside the kernel (a pipe, a child), without
// the token.
func (t *Token) Blocking(f func()) {
	if !t.Held() {
		f()
		return
	}
	t.Release()
	defer t.Acquire()
	f()
}
