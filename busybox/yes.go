package busybox

import (
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	builtin("yes", "print a string forever", yes)
}

// yes is busybox yes: its arguments (or "y") forever, until killed.
func yes(p *userland.Proc) int {
	line := "y\n"
	if len(p.Args) > 1 {
		line = strings.Join(p.Args[1:], " ") + "\n"
	}
	buf := []byte(strings.Repeat(line, max(1, 4096/len(line))))
	for {
		if p.Killed() {
			return p.KilledStatus()
		}
		if _, err := p.Stdout.Write(buf); err != nil {
			return 1
		}
	}
}
