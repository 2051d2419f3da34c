package userland

import (
	"embed"
	"fmt"
	"io"
	"strconv"
	"strings"

	glibc "github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/linuxerr"
)

//go:embed usage/*.txt
var usageFS embed.FS

// bbVersion is the banner busybox prints above usage text.
const bbVersion = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary."

// usageText returns an applet's usage (banner included).
func usageText(name string) string {
	b, err := usageFS.ReadFile("usage/" + name + ".txt")
	if err != nil {
		return bbVersion + "\n\nUsage: " + name + "\n"
	}
	return string(b)
}

// showUsage is bb_show_usage: usage on stderr, exit 1.
func showUsage(p *Proc) int {
	io.WriteString(p.Stderr, usageText(p.Args[0]))
	return 1
}

// helpRequested handles "APPLET --help" (usage on stderr, exit 0).
func helpRequested(p *Proc) (int, bool) {
	if len(p.Args) == 2 && p.Args[1] == "--help" {
		io.WriteString(p.Stderr, usageText(p.Args[0]))
		return 0, true
	}
	return 0, false
}

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
func getopt(p *Proc, spec string) (o opts, operands []string, ok bool) {
	return getoptFrom(p, p.Args[1:], spec, true)
}

// getoptFrom is getopt over args (permute false: options end at the first
// operand, as with a leading '+'); an optional argument ("x::") counts as
// given, empty when not attached, as busybox's getopt32 stores it.
func getoptFrom(p *Proc, args []string, spec string, permute bool) (o opts, operands []string, ok bool) {
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

// suffix is one entry of a busybox suffix_mult table.
type suffix struct {
	s string
	m uint64
}

var (
	cwbkMGSuffixes = []suffix{{"c", 1}, {"w", 2}, {"b", 512}, {"kB", 1000}, {"kD", 1000}, {"k", 1024},
		{"K", 1024}, {"MB", 1000000}, {"MD", 1000000}, {"M", 1048576}, {"GB", 1000000000},
		{"GD", 1000000000}, {"G", 1073741824}}
	bkmSuffixes = []suffix{{"b", 512}, {"k", 1024}, {"m", 1024 * 1024}}
	kMGSuffixes = []suffix{{"k", 1024}, {"K", 1024}, {"M", 1048576}, {"G", 1073741824}}
)

// errNumber is a busybox number-parsing failure; its text is the message.
type errNumber string

func (e errNumber) Error() string { return string(e) }

// parseNumber is busybox's xatoull_range_sfx: decimal digits, an optional
// suffix from sfx, within [lo, hi].
func parseNumber(s string, sfx []suffix, lo, hi uint64) (uint64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errNumber(fmt.Sprintf("invalid number '%s'", s))
	}
	v, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
	}
	if rest := s[i:]; rest != "" {
		found := false
		for _, x := range sfx {
			if x.s == rest {
				if v != 0 && v*x.m/x.m != v {
					return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
				}
				v *= x.m
				found = true
				break
			}
		}
		if !found {
			return 0, errNumber(fmt.Sprintf("invalid number '%s'", s))
		}
	}
	if v < lo || v > hi {
		return 0, errNumber(fmt.Sprintf("number %s is not in %d..%d range", s, lo, hi))
	}
	return v, nil
}

// perror prints "APPLET: text: strerror" (bb_perror_msg).
func perror(p *Proc, err error, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(p.Stderr, "%s: %s: %s\n", p.Args[0], msg, linuxerr.Strerror(err))
}

// cantOpen prints busybox's "can't open 'NAME': strerror".
func cantOpen(p *Proc, name string, err error) {
	fmt.Fprintf(p.Stderr, "%s: can't open '%s': %s\n", p.Args[0], name, linuxerr.Strerror(err))
}

// openInput opens a file operand ("-" is standard input).
func openInput(p *Proc, name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(p.Stdin), nil
	}
	f, err := p.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// writeErr reports a failed write to stdout as busybox does at exit
// ("APPLET: write error: strerror").
func writeErr(p *Proc, err error) int {
	fmt.Fprintf(p.Stderr, "%s: write error: %s\n", p.Args[0], linuxerr.Strerror(err))
	return 1
}

func register(name, summary string, run func(p *Proc) int, options ...string) {
	Register(&Command{Name: name, Run: run, Summary: summary, Options: options})
}

// joinLines is for tests and small helpers.
func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
