package busybox

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("sleep", "wait (in virtual time)", sleep)
}

// parseDuration is busybox sleep/timeout's number: a decimal with an
// optional s, m, h or d suffix.
func parseDuration(s string) (time.Duration, bool) {
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 's':
			s = s[:n-1]
		case 'm':
			mult, s = 60, s[:n-1]
		case 'h':
			mult, s = 3600, s[:n-1]
		case 'd':
			mult, s = 86400, s[:n-1]
		}
	}
	if s == "" || strings.ContainsAny(s, "+- \t") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return time.Duration(v * mult * float64(time.Second)), true
}

// sleep waits in virtual time: the clock jumps to the end of the sleep as
// soon as nothing else can happen first.
func sleep(p *userland.Proc) int {
	if len(p.Args) < 2 {
		return showUsage(p)
	}
	var total time.Duration
	for _, a := range p.Args[1:] {
		d, ok := parseDuration(a)
		if !ok {
			fmt.Fprintf(p.Stderr, "sleep: invalid number '%s'\n", a)
			return 1
		}
		total += d
	}
	if p.Kernel == nil {
		return 0
	}
	var err error
	p.Kcall(func() { err = p.Kernel.Clock.Sleep(p.Ctx, total) })
	if err != nil && p.Killed() {
		return p.KilledStatus()
	}
	return 0
}
