package thintools

import (
	"fmt"
	"io"
	"strings"
)

// argKind says whether an option takes an argument (getopt's no_argument,
// required_argument, optional_argument).
type argKind int

const (
	noArg argKind = iota
	reqArg
	optArg
)

// longOpt is one entry of a long-option table.
type longOpt struct {
	name string
	kind argKind
	id   int // the value getopt returns for it: a short option letter or a small code
}

// getopt reproduces glibc's getopt_long as the 0.9.0 tools call it: argv is
// permuted (options first, operands after), long options may be abbreviated
// to a unique prefix, an optional argument of a short option must be
// attached and one of a long option must follow '='. Errors are printed on
// stderr in glibc's words and reported as '?'.
type getopt struct {
	prog     string
	args     []string // argv[1:]
	short    map[byte]argKind
	long     []longOpt
	stderr   io.Writer
	i        int      // next element of args to look at
	nextchar string   // rest of a bundle of short options
	operands []string // non-options collected so far
	done     bool

	Optarg    string
	HasOptarg bool
}

func newGetopt(prog string, args []string, shortopts string, long []longOpt, stderr io.Writer) *getopt {
	g := &getopt{prog: prog, args: args, short: map[byte]argKind{}, long: long, stderr: stderr}
	for i := 0; i < len(shortopts); i++ {
		c := shortopts[i]
		k := noArg
		if i+1 < len(shortopts) && shortopts[i+1] == ':' {
			k = reqArg
			i++
			if i+1 < len(shortopts) && shortopts[i+1] == ':' {
				k = optArg
				i++
			}
		}
		g.short[c] = k
	}
	return g
}

// Next returns the next option (its letter or long id), '?' after an error,
// or -1 when the options are exhausted.
func (g *getopt) Next() int {
	g.Optarg, g.HasOptarg = "", false
	if g.nextchar == "" {
		for {
			if g.done || g.i >= len(g.args) {
				g.done = true
				return -1
			}
			a := g.args[g.i]
			if a == "--" {
				g.i++
				g.operands = append(g.operands, g.args[g.i:]...)
				g.i = len(g.args)
				g.done = true
				return -1
			}
			if len(a) < 2 || a[0] != '-' {
				g.operands = append(g.operands, a)
				g.i++
				continue
			}
			g.i++
			if strings.HasPrefix(a, "--") {
				return g.longOption(a[2:])
			}
			g.nextchar = a[1:]
			break
		}
	}
	c := g.nextchar[0]
	g.nextchar = g.nextchar[1:]
	kind, ok := g.short[c]
	if !ok || c == ':' {
		fmt.Fprintf(g.stderr, "%s: invalid option -- '%c'\n", g.prog, c)
		return '?'
	}
	switch kind {
	case reqArg:
		if g.nextchar != "" {
			g.Optarg, g.HasOptarg = g.nextchar, true
			g.nextchar = ""
		} else if g.i < len(g.args) {
			g.Optarg, g.HasOptarg = g.args[g.i], true
			g.i++
		} else {
			fmt.Fprintf(g.stderr, "%s: option requires an argument -- '%c'\n", g.prog, c)
			return '?'
		}
	case optArg:
		if g.nextchar != "" {
			g.Optarg, g.HasOptarg = g.nextchar, true
			g.nextchar = ""
		}
	}
	return int(c)
}

func (g *getopt) longOption(s string) int {
	name, val, hasVal := strings.Cut(s, "=")
	var found *longOpt
	var ambiguous []*longOpt
	for i := range g.long {
		o := &g.long[i]
		if o.name == name {
			found, ambiguous = o, nil
			break
		}
		if strings.HasPrefix(o.name, name) {
			if found == nil {
				found = o
			} else if found.kind != o.kind || found.id != o.id {
				if ambiguous == nil {
					ambiguous = append(ambiguous, found)
				}
				ambiguous = append(ambiguous, o)
			}
		}
	}
	if ambiguous != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: option '--%s' is ambiguous; possibilities:", g.prog, s)
		for _, o := range ambiguous {
			fmt.Fprintf(&b, " '--%s'", o.name)
		}
		b.WriteString("\n")
		io.WriteString(g.stderr, b.String())
		return '?'
	}
	if found == nil {
		fmt.Fprintf(g.stderr, "%s: unrecognized option '--%s'\n", g.prog, s)
		return '?'
	}
	switch found.kind {
	case noArg:
		if hasVal {
			fmt.Fprintf(g.stderr, "%s: option '--%s' doesn't allow an argument\n", g.prog, found.name)
			return '?'
		}
	case reqArg:
		if hasVal {
			g.Optarg, g.HasOptarg = val, true
		} else if g.i < len(g.args) {
			g.Optarg, g.HasOptarg = g.args[g.i], true
			g.i++
		} else {
			fmt.Fprintf(g.stderr, "%s: option '--%s' requires an argument\n", g.prog, found.name)
			return '?'
		}
	case optArg:
		if hasVal {
			g.Optarg, g.HasOptarg = val, true
		}
	}
	return found.id
}

// Operands is the non-option arguments in order; call it after Next
// returned -1.
func (g *getopt) Operands() []string {
	return append(g.operands, g.args[g.i:]...)
}
