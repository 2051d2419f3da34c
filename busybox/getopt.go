package busybox

import (
	"strings"

	glibc "github.com/dmsim/dmsim/internal/getopt"

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

// getoptFrom is getopt over args (permute false: options end at the first
// operand, as with a leading '+'); an optional argument ("x::") counts as
// given, empty when not attached, as busybox's getopt32 stores it.
func getoptFrom(p *userland.Proc, args []string, spec string, permute bool) (o opts, operands []string, ok bool) {
	o = opts{set: map[byte]int{}, args: map[byte][]string{}}
	if !permute {
		spec = "+" + spec
	}
	parsed, operands, ok := glibc.Parse(p.Args[0], args, spec, nil, p.Stderr)
	if !ok {
		showUsage(p)
		return o, nil, false
	}
	for _, r := range parsed {
		c := byte(r.Val)
		o.set[c]++
		if r.HasArg || strings.Contains(spec, string(c)+"::") {
			o.args[c] = append(o.args[c], r.Arg)
		}
	}
	return o, operands, true
}
