package userland

import (
	"context"
	"io"
	"os"

	"github.com/dmsim/dmsim/dmsim"
)

// Token is a process's clock token. A process holds it while it can run
// and gives it up while it is blocked: in the kernel (a bio, a sleep, an
// event wait gives it up inside the clock), on a pipe, or waiting for a
// child. The virtual clock advances only when no token is held, so time
// never passes while some process still has work to do, and a process
// blocked on a pipe never keeps time from passing.
type Token struct {
	c    *dmsim.Clock
	held bool
	hook func(delta int)
}

// newToken returns a released token on the clock; hook (may be nil) sees
// every acquire (+1) and release (-1).
func newToken(c *dmsim.Clock, hook func(int)) *Token { return &Token{c: c, hook: hook} }

// NewToken returns a released token on the clock, for an actor that is not
// a process (the script runner's shell).
func NewToken(c *dmsim.Clock) *Token { return newToken(c, nil) }

// SetToken makes t the process's token: a parent that runs commands (the
// shell) gives its token up while they run and gets it back before they
// give theirs up, so that time never slips in between.
func (p *Proc) SetToken(t *Token) { p.tok = t }

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
func (t *Token) Do(k *dmsim.Kernel, f func()) {
	if t.Held() {
		f()
		return
	}
	k.Clock.Enter()
	defer k.Clock.Exit()
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

type tokenKey struct{}

// withToken returns ctx carrying the token, for the file layer.
func withToken(ctx context.Context, t *Token) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, tokenKey{}, t)
}

// tokenFrom returns the token ctx carries (nil if none).
func tokenFrom(ctx context.Context) *Token {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(tokenKey{}).(*Token)
	return t
}

// kdo runs a kernel call for whoever ctx belongs to.
func kdo(ctx context.Context, k *dmsim.Kernel, f func()) { tokenFrom(ctx).Do(k, f) }

// Token returns the process's clock token (nil outside the simulation).
func (p *Proc) Token() *Token { return p.tok }

// Kcall runs a call into the kernel as the process.
func (p *Proc) Kcall(f func()) { p.tok.Do(p.Kernel, f) }

// ctx returns the process's context carrying its token.
func (p *Proc) ctx() context.Context {
	c := p.Ctx
	if c == nil {
		c = context.Background()
	}
	return withToken(c, p.tok)
}

// Pipes block: a process reading or writing one does not hold its token.
type tokenReader struct {
	r io.Reader
	t *Token
}

func (x tokenReader) Read(b []byte) (n int, err error) {
	x.t.Blocking(func() { n, err = x.r.Read(b) })
	return
}

type tokenWriter struct {
	w io.Writer
	t *Token
}

func (x tokenWriter) Write(b []byte) (n int, err error) {
	x.t.Blocking(func() { n, err = x.w.Write(b) })
	return
}

// rawStream strips the wrappers a parent's streams got (token, SIGPIPE).
func rawStream(v any) any {
	for {
		switch x := v.(type) {
		case tokenReader:
			v = x.r
		case tokenWriter:
			v = x.w
		case *pipeWriter:
			v = x.w
		default:
			return v
		}
	}
}

// isPipe reports whether a stream is an OS pipe (the shell's pipelines and
// command substitutions), which may block.
func isPipe(v any) bool {
	_, ok := v.(*os.File)
	return ok
}
