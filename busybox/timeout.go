package busybox

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("timeout", "run a command with a time limit (virtual time)", timeout, "-s", "-k")
}

// timeout runs PROG; when SECS of virtual time pass it is sent SIGTERM:
// its waits that a signal interrupts end at once and it exits with 143.
// Block I/O is uninterruptible, so a command stuck in the kernel dies only
// when its I/O completes.
func timeout(p *userland.Proc) int {
	args := p.Args[1:]
	var optArgs []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		optArgs = append(optArgs, args[0])
		if (args[0] == "-s" || args[0] == "-k") && len(args) > 1 {
			optArgs = append(optArgs, args[1])
			args = args[1:]
		}
		args = args[1:]
	}
	o, _, ok := getoptFrom(p, optArgs, "s:k:", false)
	if !ok {
		return 1
	}
	if len(args) < 2 {
		return showUsage(p)
	}
	d, okd := parseDuration(args[0])
	if !okd {
		fmt.Fprintf(p.Stderr, "timeout: invalid number '%s'\n", args[0])
		return 1
	}
	sig := userland.SIGTERM
	if o.has('s') {
		s, ok := userland.SignalNumber(o.arg('s'))
		if !ok {
			fmt.Fprintf(p.Stderr, "timeout: unknown signal '%s'\n", o.arg('s'))
			return 1
		}
		sig = s
	}
	if _, known := userland.Lookup(args[1]); !known {
		fmt.Fprintf(p.Stderr, "timeout: can't execute '%s': No such file or directory\n", args[1])
		return 127
	}
	if p.Kernel == nil {
		return userland.Run(p, args[1:])
	}
	ctx, cancel := p.Kernel.Clock.WithTimeout(p.Ctx, d)
	defer cancel()
	child := *p
	child.Ctx = ctx
	child.KillSignal = sig
	// timeout execs PROG in its own process: PROG's exit (or death) is
	// timeout's.
	st, signal := userland.RunStatus(&child, args[1:])
	if signal != 0 {
		return userland.Signaled(signal)
	}
	return st
}
