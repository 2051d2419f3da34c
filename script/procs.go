package script

import (
	"context"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"mvdan.cc/sh/v3/interp"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
)

// Processes as clock actors.
//
// The virtual clock moves only when no actor holds a running token and some
// actor waits (sim.Clock, sim.Token). For time never to pass while a
// process could still run, every process of the emulated machine holds a
// token whenever it can run, and whoever makes a waiting process runnable
// hands it a token at that moment. Commands get theirs from userland; this
// file does it for the shell's own goroutines and for its pipes:
//
//   - The interpreter runs a pipeline's stages but the last, and background
//     jobs, in goroutines of their own. The runner rewrites every line (see
//     rewrite.go) so that the goroutine that starts such a stage or job
//     first takes a token for it (spawn markers, run while it holds its own),
//     which the new goroutine adopts as its first act and gives up as its
//     last: it holds a token from before it exists until it ends, and runs
//     its shell code (loops, redirections, builtins) under it. The main
//     shell's goroutine has the shell's token.
//   - A command's standard streams that are pipelines' pipes are read and
//     written without blocking on the host: a process that would block waits
//     in the clock instead, and the process at the other end wakes it (a
//     sim.Event, which hands the token over) when it writes, reads or
//     closes. A stage's end closes its pipe itself (the interpreter's close
//     comes later and does nothing), so the reader's end of file is handed
//     over too, and the last stage waits for the others in the clock.
//   - `wait` waits in the clock for the jobs to end, and each job's end
//     wakes it.
//   - A redirection from a scratch file gives the command the host file
//     (reading it never blocks), from /sys, /proc or /dev/null a copy of
//     its contents; a here-document's pipe is filled by the interpreter at
//     once, so its reader holds its token while it reads.
//
// What is not covered: code run by `eval` or `.` is not rewritten (its
// pipelines work as before: a pipe reader gives its token up while blocked
// on the host, and gets one back when it wakes, so time could pass in
// between if other processes wait for timers); a redirection from a block
// device or /dev/zero goes through the interpreter's copying goroutine
// likewise; builtins other than echo and printf (ash's builtins are
// commands here) write to pipes directly, so their output wakes a waiting
// reader only at the writer's next command or end; `read` reads a pipe
// holding its token, so it must not wait for a writer that waits for time.

// proc is a goroutine of the shell: the main shell, a pipeline stage or a
// background job.
type proc struct {
	tok  *sim.Token
	jobs []*job // background jobs it started, in order ($! is g<index+1>)
	job  *job   // the job it is, if it is one
}

// job is a background job.
type job struct {
	end *sim.Event // fired when it ends
}

// pendingJob is a job whose goroutine has not adopted its token yet.
type pendingJob struct {
	tok *sim.Token
	j   *job
}

// pipeKind says who uses a pipe.
type pipeKind int

const (
	pipeline pipeKind = iota // a pipeline's pipe: both ends are ours
	heredoc                  // filled at once by the interpreter
)

// pipe is a host pipe the shell made, found by its inode.
type pipe struct {
	kind pipeKind
	ino  uint64 // the key it is registered under
	mu   sync.Mutex
	// processes waiting for data or end of file, for room or for the
	// reader's end
	readers, writers []*sim.Event
	// stageEnd fires when the stage writing a pipeline's pipe ends.
	stageEnd *sim.Event
	closed   bool // the writing end is closed
	// rclosed: the reading end is closed (the last stage has ended), so
	// a write fails with EPIPE even while a host process forked meanwhile
	// still holds a copy of the end (its write would then succeed or wait
	// for room that nobody will ever make)
	rclosed bool
}

func wakeAll(evs *[]*sim.Event) {
	for _, ev := range *evs {
		ev.Fire(nil)
	}
	*evs = nil
}

// procs is the machine's table of shell goroutines and pipes.
type procs struct {
	mu      sync.Mutex
	byGID   map[uint64]*proc
	spare   []*sim.Token // taken for pipeline stages about to start
	pending map[int][]pendingJob
	pipes   map[uint64]*pipe
	site    int // last spawn site number given out
}

func (sh *shell) initProcs() {
	sh.procs = procs{byGID: map[uint64]*proc{}, pending: map[int][]pendingJob{}, pipes: map[uint64]*pipe{}}
}

// command is one command the shell runs (with the children it runs in
// turn, in the same goroutine), as its pipe ends see it.
type command struct {
	sh *shell
	mu sync.Mutex
	// held counts its tokens held (ClockHook); handed counts tokens handed
	// to it when it was woken while it had given its own up (see wait).
	held, handed int
}

// hook sees the command's tokens taken (+1) and given up (-1). A token
// handed to the command while it had given its own up is dropped when it
// takes its own back: the two never both count, and the count never drops
// in between.
func (c *command) hook(delta int) {
	c.mu.Lock()
	c.held += delta
	handed := delta > 0 && c.handed > 0
	if handed {
		c.handed--
	}
	c.mu.Unlock()
	if handed {
		c.sh.kernel.Clock.Exit()
	}
}

// wait waits for a pipe's event as the command (nil: the shell's own code,
// which holds its goroutine's token). A command normally holds its token
// and gives it up in the wait; but one that gave it up itself around the
// read (dmsetup reading its table) waits without one, and keeps the token
// the waker hands over until it takes its own back.
func (c *command) wait(sh *shell, ev *sim.Event) error {
	if c == nil {
		return ev.Wait(context.Background())
	}
	c.mu.Lock()
	held := c.held > 0 || c.handed > 0
	c.mu.Unlock()
	if held {
		return ev.Wait(context.Background())
	}
	sh.kernel.Clock.Enter()
	err := ev.Wait(context.Background())
	c.mu.Lock()
	c.handed++
	c.mu.Unlock()
	return err
}

// current is the proc of the calling goroutine (nil if not a shell's).
func (sh *shell) current() *proc {
	id := goid()
	sh.procs.mu.Lock()
	defer sh.procs.mu.Unlock()
	return sh.procs.byGID[id]
}

func (sh *shell) bind(p *proc) {
	id := goid()
	sh.procs.mu.Lock()
	sh.procs.byGID[id] = p
	sh.procs.mu.Unlock()
}

func (sh *shell) unbind() {
	id := goid()
	sh.procs.mu.Lock()
	delete(sh.procs.byGID, id)
	sh.procs.mu.Unlock()
}

// newSite numbers a place in a line that starts background jobs.
func (sh *shell) newSite() int {
	sh.procs.mu.Lock()
	defer sh.procs.mu.Unlock()
	sh.procs.site++
	return sh.procs.site
}

// heldToken returns a new token, taken.
func (sh *shell) heldToken() *sim.Token {
	t := sim.NewToken(sh.kernel.Clock, nil)
	t.Acquire()
	return t
}

func inode(f *os.File) (uint64, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

// pipeOf returns the pipe f is an end of, registering it as kind if it
// is not known and register is set (nil if not known or not a pipe).
func (sh *shell) pipeOf(v any, register bool, kind pipeKind) (*pipe, *os.File) {
	f, ok := v.(*os.File)
	if !ok {
		return nil, nil
	}
	ino, ok := inode(f)
	if !ok {
		return nil, f
	}
	sh.procs.mu.Lock()
	defer sh.procs.mu.Unlock()
	p := sh.procs.pipes[ino]
	if p == nil && register {
		p = &pipe{kind: kind, ino: ino, stageEnd: sh.kernel.Clock.NewEvent()}
		sh.procs.pipes[ino] = p
	}
	return p, f
}

// dropPipe forgets a pipe once both its ends are done with (by the inode
// it was registered under: its ends may be closed by now).
func (sh *shell) dropPipe(p *pipe) {
	sh.procs.mu.Lock()
	delete(sh.procs.pipes, p.ino)
	sh.procs.mu.Unlock()
}

// lastStatus is what a marker returns: the status of the command before
// it, so that markers do not change $? or a block's status.
func lastStatus(ctx context.Context) error {
	if st := interp.HandlerCtx(ctx).LastExitStatus; st != 0 {
		return interp.ExitStatus(uint8(st))
	}
	return nil
}

// marker runs one of the runner's marker commands (rewrite.go); it reports
// false if name is not one.
func (sh *shell) marker(ctx context.Context, args []string) (bool, error) {
	hc := interp.HandlerCtx(ctx)
	switch args[0] {
	case mkSpawnStage:
		// before a pipeline: a token for its stage goroutine
		t := sh.heldToken()
		sh.procs.mu.Lock()
		sh.procs.spare = append(sh.procs.spare, t)
		sh.procs.mu.Unlock()
	case mkStageBegin:
		sh.procs.mu.Lock()
		t := sh.procs.spare[0]
		sh.procs.spare = sh.procs.spare[1:]
		sh.procs.mu.Unlock()
		sh.bind(&proc{tok: t})
		sh.pipeOf(hc.Stdout, true, pipeline)
	case mkStageEnd:
		if p, f := sh.pipeOf(hc.Stdout, false, pipeline); p != nil {
			p.mu.Lock()
			f.Close()
			p.closed = true
			wakeAll(&p.readers)
			p.stageEnd.Fire(nil)
			p.mu.Unlock()
		}
		cur := sh.current()
		sh.unbind()
		if cur != nil {
			cur.tok.Release()
		}
	case mkLastBegin:
		sh.pipeOf(hc.Stdin, true, pipeline)
	case mkLastEnd:
		if p, f := sh.pipeOf(hc.Stdin, false, pipeline); p != nil {
			p.mu.Lock()
			f.Close()
			p.rclosed = true
			wakeAll(&p.writers)
			p.mu.Unlock()
			p.stageEnd.Wait(ctx)
			sh.dropPipe(p)
		}
	case mkSpawnJob:
		site := atoi(args[1])
		j := &job{end: sh.kernel.Clock.NewEvent()}
		if cur := sh.current(); cur != nil {
			cur.jobs = append(cur.jobs, j)
		}
		t := sh.heldToken()
		sh.procs.mu.Lock()
		sh.procs.pending[site] = append(sh.procs.pending[site], pendingJob{t, j})
		sh.procs.mu.Unlock()
	case mkJobBegin:
		site := atoi(args[1])
		sh.procs.mu.Lock()
		pj := sh.procs.pending[site][0]
		sh.procs.pending[site] = sh.procs.pending[site][1:]
		if len(sh.procs.pending[site]) == 0 {
			delete(sh.procs.pending, site)
		}
		sh.procs.mu.Unlock()
		sh.bind(&proc{tok: pj.tok, job: pj.j})
		sh.jobGate(pj.tok)
	case mkJobEnd:
		cur := sh.current()
		sh.unbind()
		if cur != nil {
			cur.job.end.Fire(nil)
			cur.tok.Release()
		}
	case mkWait:
		// The jobs this line started run now rather than after it: it
		// waits for them.
		sh.openGate()
		if cur := sh.current(); cur != nil {
			for _, j := range waitedJobs(cur.jobs, args[1:]) {
				if j.end.Wait(ctx) != nil {
					break
				}
			}
		}
		return true, nil // `wait` says how it went
	case mkHdoc:
		sh.pipeOf(hc.Stdin, true, heredoc)
	case mkHdocEnd:
		if p, _ := sh.pipeOf(hc.Stdin, false, heredoc); p != nil {
			sh.dropPipe(p)
		}
	case mkCat:
		// $(<FILE)
		in, _ := sh.streams(hc, nil)
		if _, err := io.Copy(hc.Stdout, in); err != nil {
			return true, interp.ExitStatus(1)
		}
	default:
		return false, nil
	}
	return true, lastStatus(ctx)
}

// waitedJobs are the jobs `wait ARGS` waits for: all of them without
// arguments, else those named g1, g2, ... ($!); an argument that names
// none of them waits for all.
func waitedJobs(jobs []*job, args []string) []*job {
	if len(args) == 0 {
		return jobs
	}
	var out []*job
	for _, a := range args {
		n := 0
		if len(a) > 1 && a[0] == 'g' {
			n = atoi(a[1:])
		}
		if n < 1 || n > len(jobs) {
			return jobs
		}
		out = append(out, jobs[n-1])
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// jobGate holds a background job until the line that started it is over
// (its kernel log read) or waits for jobs, without its token; the runner
// takes the token back for it before it lets it go. A job started after
// that runs at once.
func (sh *shell) jobGate(t *sim.Token) {
	sh.gateMu.Lock()
	g := sh.gate
	if g == nil {
		sh.gateMu.Unlock()
		return
	}
	sh.gated = append(sh.gated, t)
	t.Release()
	sh.gateMu.Unlock()
	<-g
}

// openGate lets the jobs held at the gate go, each holding its token.
func (sh *shell) openGate() {
	sh.gateMu.Lock()
	defer sh.gateMu.Unlock()
	for _, t := range sh.gated {
		t.Acquire()
	}
	sh.gated = nil
	if sh.gate != nil {
		close(sh.gate)
		sh.gate = nil
	}
}

// awaitReadable lets the shell's `read` start only once its standard
// input, if a pipeline's pipe, has something to read or is at its end: the
// builtin reads the host pipe itself, holding its goroutine's token. As it
// does not wake writers when it makes room, this wakes them first.
func (sh *shell) awaitReadable(hc interp.HandlerContext) {
	p, f := sh.pipeOf(hc.Stdin, false, pipeline)
	if p == nil || p.kind != pipeline {
		return
	}
	for {
		p.mu.Lock()
		wakeAll(&p.writers)
		if p.closed || queued(f) != 0 {
			p.mu.Unlock()
			return
		}
		ev := sh.kernel.Clock.NewEvent()
		p.readers = append(p.readers, ev)
		p.mu.Unlock()
		if ev.Wait(context.Background()) != nil {
			return
		}
	}
}

// queued is how many bytes a pipe holds (-1 if that cannot be told).
func queued(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	rc.Control(func(fd uintptr) {
		var v int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); e == 0 {
			n = int(v)
		}
	})
	return n
}

// streams returns a command's standard input and output as it should
// see them: a pipeline's pipe is read and written in the clock, a
// regular file or a here-document's pipe is read holding the token (it
// never waits for another process), anything else is left as it is.
func (sh *shell) streams(hc interp.HandlerContext, c *command) (stdin io.Reader, stdout io.Writer) {
	stdin = io.Reader(nil)
	if !isNil(hc.Stdin) {
		stdin = hc.Stdin
	}
	if f, ok := hc.Stdin.(*os.File); ok && f != nil {
		p, _ := sh.pipeOf(f, false, pipeline)
		switch {
		case p != nil && p.kind == pipeline:
			stdin = &pipeReader{sh: sh, c: c, p: p, f: f}
		case p != nil || isRegular(f):
			stdin = heldReader{f}
		}
	}
	if stdin == nil {
		stdin = eofReader{}
	}
	return stdin, sh.outStream(hc.Stdout, c)
}

func (sh *shell) outStream(w io.Writer, c *command) io.Writer {
	if p, f := sh.pipeOf(w, false, pipeline); p != nil && p.kind == pipeline {
		return &pipeWriter{sh: sh, c: c, p: p, f: f}
	}
	return w
}

func isRegular(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// heldReader reads a file that never makes its reader wait for another
// process; not being an *os.File, it keeps userland from giving the
// reader's token up around the read.
type heldReader struct{ f *os.File }

func (r heldReader) Read(b []byte) (int, error) { return r.f.Read(b) }

// rawIO reads or writes the pipe once without blocking.
func rawIO(f *os.File, b []byte, write bool) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ioErr error
	err = rc.Read(func(fd uintptr) bool {
		if write {
			n, ioErr = syscall.Write(int(fd), b)
		} else {
			n, ioErr = syscall.Read(int(fd), b)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	return n, ioErr
}

// pipeCapacity is what a host pipe holds (Linux's default, 16 pages). A
// pipeline's reader gets its read filled, up to this much, unless the
// writer waits for room (the pipe's pages are all taken) or has ended: the
// recording machine has one CPU, on which a writer runs on until it blocks
// or ends, so `yes | head -c N | dd bs=64K` gives dd whole 64 KiB reads,
// as the kernel's bio logs show. The stages here run side by side, and a
// read that took whatever was there got what the host's scheduling left:
// dd's writes, the bios and the crash sweep's traces varied from run to run.
const pipeCapacity = 64 << 10

// pipeReader is a command's end of a pipeline's pipe it reads.
type pipeReader struct {
	sh *shell
	c  *command
	p  *pipe
	f  *os.File
}

func (r *pipeReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	want := min(len(b), pipeCapacity)
	for {
		r.p.mu.Lock()
		if q := queued(r.f); !r.p.closed && len(r.p.writers) == 0 && q >= 0 && q < want {
			// wait for the writer to fill the read, block or end
			// (pipeCapacity)
			ev := r.sh.kernel.Clock.NewEvent()
			r.p.readers = append(r.p.readers, ev)
			r.p.mu.Unlock()
			if err := r.c.wait(r.sh, ev); err != nil {
				return 0, err
			}
			continue
		}
		n, err := rawIO(r.f, b, false)
		if err != syscall.EAGAIN {
			if n > 0 {
				wakeAll(&r.p.writers)
			}
			r.p.mu.Unlock()
			switch {
			case err != nil:
				return n, linuxerr.EIO
			case n == 0:
				return 0, io.EOF
			}
			return n, nil
		}
		if r.p.closed {
			// The stage writing the pipe has closed its end, so nothing
			// more can come: a host process forked meanwhile may still hold
			// a copy of the end until it execs, which is all EAGAIN says.
			r.p.mu.Unlock()
			return 0, io.EOF
		}
		ev := r.sh.kernel.Clock.NewEvent()
		r.p.readers = append(r.p.readers, ev)
		r.p.mu.Unlock()
		if err := r.c.wait(r.sh, ev); err != nil {
			return 0, err
		}
	}
}

// pipeWriter is a command's end of a pipeline's pipe it writes.
type pipeWriter struct {
	sh *shell
	c  *command
	p  *pipe
	f  *os.File
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	total := 0
	for total < len(b) {
		w.p.mu.Lock()
		if w.p.rclosed {
			w.p.mu.Unlock()
			return total, linuxerr.EPIPE
		}
		n, err := rawIO(w.f, b[total:], true)
		total += n
		if n > 0 {
			wakeAll(&w.p.readers)
		}
		switch {
		case err == syscall.EPIPE:
			w.p.mu.Unlock()
			return total, linuxerr.EPIPE
		case err != nil && err != syscall.EAGAIN:
			w.p.mu.Unlock()
			return total, linuxerr.EIO
		case err == nil:
			w.p.mu.Unlock()
			continue
		}
		ev := w.sh.kernel.Clock.NewEvent()
		w.p.writers = append(w.p.writers, ev)
		wakeAll(&w.p.readers) // the pipe is full: a waiting reader takes what it holds
		w.p.mu.Unlock()
		if err := w.c.wait(w.sh, ev); err != nil {
			return total, err
		}
	}
	return total, nil
}
