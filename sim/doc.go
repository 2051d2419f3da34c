// Package sim is dmsim's deterministic-simulation runtime: a discrete-event
// virtual clock and the primitives that wait on it.
//
//   - Clock: virtual time; it jumps to the next timer when no actor holds a
//     running token, and wakes waiters with ErrDeadlock when nothing can.
//   - Timer (timer_list), Event (a completion), Mutex (a sleeping lock),
//     Workqueue (an ordered workqueue): the kernel's waiting primitives, on
//     the clock.
//   - Token: a process's running token, held while it can run and given up
//     while it blocks (a pipe, a child, a bio).
//   - HZ, Tick, Clock.Jiffies, MsecsToJiffies: the kernel's jiffies.
//
// The package depends on nothing else in dmsim. The kernel (package dmsim),
// the targets and the userland all run their goroutines as actors of one
// Clock, so a run never waits in real time and two runs print the same bytes.
package sim
