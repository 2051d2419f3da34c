package busybox

import (
	"fmt"

	"github.com/dmsim/dmsim/userland"
)

// opts is the result of getopt for an applet.
type opts struct {
	set  map[byte]int
	args map[byte][]string
}

func (o opts) has(c byte) bool { return o.set[c] > 0 }

func (o opts) arg(c byte) string {
	a := o.args[c]
	if len(a) == 0 {
		return ""
	}
	return a[len(a)-1]
}

func (o opts) all(c byte) []string { return o.args[c] }

// getopt parses busybox-style short options (glibc getopt with argument
// permutation; "x:" takes an argument). On a bad option it prints glibc's
// message and the usage, and returns ok=false (the applet exits 1).
func getopt(p *userland.Proc, spec string) (o opts, operands []string, ok bool) {
	return getoptFrom(p, p.Args[1:], spec, true)
}

func getoptFrom(p *userland.Proc, args []string, spec string, permute bool) (o opts, operands []string, ok bool) {
	o = opts{set: map[byte]int{}, args: map[byte][]string{}}
	kind := map[byte]int{} // 0: no argument, 1: required, 2: optional (attached)
	for i := 0; i < len(spec); i++ {
		if spec[i] == ':' {
			continue
		}
		switch {
		case i+2 < len(spec) && spec[i+1] == ':' && spec[i+2] == ':':
			kind[spec[i]] = 2
		case i+1 < len(spec) && spec[i+1] == ':':
			kind[spec[i]] = 1
		default:
			kind[spec[i]] = 0
		}
	}
	prog := p.Args[0]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			return o, operands, true
		}
		if len(a) < 2 || a[0] != '-' {
			if !permute {
				operands = append(operands, args[i:]...)
				return o, operands, true
			}
			operands = append(operands, a)
			continue
		}
		for k := 1; k < len(a); k++ {
			c := a[k]
			takes, known := kind[c]
			if !known {
				fmt.Fprintf(p.Stderr, "%s: invalid option -- '%c'\n", prog, c)
				showUsage(p)
				return o, nil, false
			}
			o.set[c]++
			if takes == 0 {
				continue
			}
			if takes == 2 {
				o.args[c] = append(o.args[c], a[k+1:])
				break
			}
			if k+1 < len(a) {
				o.args[c] = append(o.args[c], a[k+1:])
			} else if i+1 < len(args) {
				i++
				o.args[c] = append(o.args[c], args[i])
			} else {
				fmt.Fprintf(p.Stderr, "%s: option requires an argument -- '%c'\n", prog, c)
				showUsage(p)
				return o, nil, false
			}
			break
		}
	}
	return o, operands, true
}
