package busybox

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	builtin("echo", "print arguments (busybox/ash builtin)", echo, "-n", "-e", "-E")
}

// echo is busybox echo (ash's builtin).
func echo(p *userland.Proc) int {
	args := p.Args[1:]
	nl, esc := true, false
	for len(args) > 0 {
		a := args[0]
		if len(a) < 2 || a[0] != '-' || strings.Trim(a[1:], "neE") != "" {
			break
		}
		for _, c := range a[1:] {
			switch c {
			case 'n':
				nl = false
			case 'e':
				esc = true
			}
		}
		args = args[1:]
	}
	var b bytes.Buffer
	stop := false
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if esc {
			s, st := unescape(a, true)
			b.WriteString(s)
			if st {
				stop = true
				break
			}
		} else {
			b.WriteString(a)
		}
	}
	if nl && !stop {
		b.WriteByte('\n')
	}
	if _, err := p.Stdout.Write(b.Bytes()); err != nil {
		fmt.Fprintf(p.Stderr, "%s: write error: %s\n", shellName, linuxerr.Strerror(err))
		return 1
	}
	return 0
}
