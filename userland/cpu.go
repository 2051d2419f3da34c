package userland

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/dmsim/dmsim/sim"
)

// The CPU cost model.
//
// Block I/O, sleeps and timeouts take virtual time in the kernel; what a
// process did on the CPU took none, so a process that never waits (`dd
// if=/dev/zero of=/dev/null`, `yes >/dev/null`, a shell loop) held the
// clock for ever and no timer fired, not even its `timeout`'s. So every
// read(2) and write(2) and every simple command the shell runs costs
// virtual CPU time, which the process pays in batches of sim.CPUQuantum
// (sim.Token.Charge). A process (or a line's shell) that costs less than a
// quantum pays nothing: the cost per command line
// (script.DefaultCommandTime) covers it.
//
// The values are the recording machine's: qemu TCG on the recorder's host,
// Debian 12's busybox 1.35, timed with busybox `time` in scripts the
// recorder ran (README.md, "CPU time"):
//
//	dd if=/dev/zero of=/dev/null bs=1 count=200000   0.40 s   1 µs a system call
//	dd if=/dev/zero of=/dev/null bs=1M count=300      0.07 s   0.25 ns a byte cleared
//	dd if=/dev/zero bs=64K count=5000 | cat >/dev/null 1.82 s  2.5 ns a byte copied (twice)
//	i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done  0.59 s   30 µs a round
//	i=0; while :; do i=$((i+1)); [ $i -eq 20000 ] && break; done  0.71 s  35 µs a round
//
// The shell's hook sees the simple commands with a name (`[`, `:`), not
// the bare assignments, so a statement costs 20 µs. What is not charged:
// starting a process (fork and exec, about 4 ms under TCG, is part of the
// cost per line), what a command computes on its data (md5sum's 30 ns a
// byte, busybox yes's stdio), and the kernel's own work (bios take the time
// their targets give them).
const (
	// SyscallCost is the cost of one read(2) or write(2).
	SyscallCost = time.Microsecond
	// ClearBytePicos is the cost, in picoseconds, of one byte a read of
	// /dev/zero (or /dev/urandom) fills.
	ClearBytePicos = 250
	// CopyByteCost is the cost of copying one byte between a process and
	// a pipe, a file or the page cache. A whole number of nanoseconds, so
	// that a stream's cost adds up the same however its pieces fall.
	CopyByteCost = 3 * time.Nanosecond
	// StatementCost is the cost of one simple command the shell runs.
	StatementCost = 20 * time.Microsecond
)

// IOCost is the CPU cost of one system call that copies n bytes.
func IOCost(n int) time.Duration { return SyscallCost + time.Duration(n)*CopyByteCost }

// bytesCost is the cost of n bytes at picos picoseconds each.
func bytesCost(n int, picos int64) time.Duration { return time.Duration(int64(n) * picos / 1000) }

// cpu bills a process's system calls to its clock token.
type cpu struct {
	ctx  context.Context // the process's: a charge's sleep ends when it is killed
	tok  *sim.Token
	dies bool // a kill unwinds the process (it runs under runSafely)
}

// cpuOf is the process ctx belongs to (nothing is billed if none).
func cpuOf(ctx context.Context) cpu {
	p := procFrom(ctx)
	return cpu{ctx: ctx, tok: p.tok, dies: p.dies}
}

// io bills one system call copying n bytes.
func (c cpu) io(n int) { c.charge(IOCost(n)) }

// charge bills d. A system call is where a killed process dies (the
// kernel delivers a fatal signal on the way back to user space:
// exit_to_user_mode_loop): if the process was killed, or the machine was
// powered off, before or while it paid, it unwinds to runSafely, which
// ends it as killed by its signal. A command thus dies of `timeout` at its
// next system call even if it never asks whether it was killed.
func (c cpu) charge(d time.Duration) {
	if c.tok == nil || !c.tok.Held() {
		return
	}
	err := c.tok.Charge(c.ctx, d)
	if !c.dies {
		return // a command called directly (a test) sees its kill itself
	}
	if errors.Is(err, sim.ErrHalted) {
		panic(fatalSignal{SIGKILL})
	}
	if c.ctx != nil && c.ctx.Err() != nil {
		panic(fatalSignal{})
	}
}

// fatalSignal unwinds a process killed at a system call; sig 0 is the
// process's kill signal.
type fatalSignal struct{ sig int }

// Charge bills d of CPU work that makes no system call (an applet's own
// loop) to the process, which dies there if it was killed.
func (p *Proc) Charge(d time.Duration) { cpu{ctx: p.Ctx, tok: p.tok, dies: p.dies}.charge(d) }

// A process's standard streams bill every byte read or written to it
// (CopyByteCost), and nothing per call: how a pipe's data falls into reads
// depends on how its writer and reader happened to interleave in real
// time, so a cost per call, or a payment due in the middle of a piece,
// would make virtual time differ from run to run. A piece is cut where the
// next payment falls due, so the process pays at the same byte however
// the pieces fell.
type cpuReader struct {
	r io.Reader
	c cpu
}

func (x cpuReader) Read(b []byte) (int, error) {
	b = b[:x.c.piece(len(b))]
	n, err := x.r.Read(b)
	x.c.charge(time.Duration(n) * CopyByteCost)
	return n, err
}

type cpuWriter struct {
	w io.Writer
	c cpu
}

func (x cpuWriter) Write(b []byte) (int, error) {
	total := 0
	for {
		k := x.c.piece(len(b) - total)
		n, err := x.w.Write(b[total : total+k])
		total += n
		x.c.charge(time.Duration(n) * CopyByteCost)
		if err != nil || total == len(b) || n == 0 {
			return total, err
		}
	}
}

// piece is how many of n bytes to move at once: up to the byte at which
// the next payment falls due.
func (c cpu) piece(n int) int {
	if c.tok == nil || n <= 1 {
		return n
	}
	room := sim.CPUQuantum - c.tok.Unpaid()
	k := (room + CopyByteCost - 1) / CopyByteCost
	return int(max(1, min(time.Duration(n), k)))
}
