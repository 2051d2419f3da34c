package userland

import (
	"context"
	"io"
	"os"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/sim"
)

// SetToken makes t the process's token: a parent that runs commands (the
// shell) gives its token up while they run and gets it back before they
// give theirs up, so that time never slips in between.
func (p *Proc) SetToken(t *sim.Token) { p.tok = t }

type tokenKey struct{}

// withToken returns ctx carrying the token, for the file layer.
func withToken(ctx context.Context, t *sim.Token) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, tokenKey{}, t)
}

// tokenFrom returns the token ctx carries (nil if none).
func tokenFrom(ctx context.Context) *sim.Token {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(tokenKey{}).(*sim.Token)
	return t
}

// kdo runs a kernel call for whoever ctx belongs to.
func kdo(ctx context.Context, k *dmsim.Kernel, f func()) { tokenFrom(ctx).Do(k.Clock, f) }

// Token returns the process's clock token (nil outside the simulation).
func (p *Proc) Token() *sim.Token { return p.tok }

// Kcall runs a call into the kernel as the process.
func (p *Proc) Kcall(f func()) { p.tok.Do(p.Kernel.Clock, f) }

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
	t *sim.Token
}

func (x tokenReader) Read(b []byte) (n int, err error) {
	x.t.Blocking(func() { n, err = x.r.Read(b) })
	return
}

type tokenWriter struct {
	w io.Writer
	t *sim.Token
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

// Blocking marks a stream that may block outside the simulation (the front
// end's socket to a shim): a process waits on it without its clock token,
// as on a pipe.
type Blocking interface{ BlocksOutsideSimulation() }

// isPipe reports whether a stream is an OS pipe (the shell's pipelines and
// command substitutions) or another Blocking stream, which may block.
func isPipe(v any) bool {
	switch v.(type) {
	case *os.File, Blocking:
		return true
	}
	return false
}
