package busybox

import (
	"io"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("dmesg", "print or clear the kernel log", dmesg, "-c", "-r", "-n", "-s")
}

// dmesg is busybox dmesg: the kernel log (syslog(2) READ_ALL, with -c
// READ_CLEAR).
func dmesg(p *userland.Proc) int {
	o, args, ok := getopt(p, "cs:n:r")
	if !ok {
		return 1
	}
	if len(args) > 0 {
		return showUsage(p)
	}
	if o.has('n') {
		return 0
	}
	if p.Kernel == nil {
		return 1
	}
	var lines []dmsim.LogLine
	if o.has('c') {
		lines = p.Kernel.Log.ReadClear()
	} else {
		lines = p.Kernel.Log.Read()
	}
	var b strings.Builder
	for _, l := range lines {
		if o.has('r') {
			b.WriteString(l.String())
		} else {
			b.WriteString(l.Text)
		}
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(p.Stdout, b.String()); err != nil {
		return 1
	}
	return 0
}
