// Package getopt is glibc's getopt and getopt_long (2.36), as the emulated
// programs (dmsetup, the thin tools, busybox applets) see them: argument
// permutation, short option clusters, long options with unambiguous-prefix
// abbreviation, optional arguments, the "--" terminator, and glibc's error
// messages word for word.
//
// A Parser is one scan over an argument vector; Next returns the options one
// by one like getopt_long does, and Parse collects them all, stopping at the
// first error as every caller in this project does.
package getopt

import (
	"fmt"
	"io"
	"strings"
)

// HasArg says whether an option takes an argument (struct option's
// has_arg: no_argument, required_argument, optional_argument).
type HasArg int

const (
	NoArgument HasArg = iota
	RequiredArgument
	OptionalArgument
)

// Option is one entry of a long-option table (struct option without the
// flag pointer: Next always returns Val).
type Option struct {
	Name   string
	HasArg HasArg
	Val    int // what Next returns for it: a short option letter or a code of the caller's
}

// Results of Next besides an option's value.
const (
	// End is -1: no more options; Operands holds the non-options.
	End = -1
	// Error is '?': an unknown option or a missing or forbidden argument
	// (the message has been printed unless the option string starts with ':').
	Error = '?'
	// MissingArg is ':', returned instead of Error for a missing argument
	// when the option string starts with ':'.
	MissingArg = ':'
	// NonOption is 1: a non-option returned in place (option string
	// starting with '-'); it is in Optarg.
	NonOption = 1
)

// ordering is glibc's enum of how options and non-options may mix.
type ordering int

const (
	permute       ordering = iota // options are taken from anywhere; non-options go last
	requireOrder                  // '+' or POSIXLY_CORRECT: the first non-option ends the options
	returnInOrder                 // '-': non-options are returned as NonOption
)

// Parser is one getopt_long scan. Set PosixlyCorrect (the emulated
// environment's POSIXLY_CORRECT) before the first Next.
type Parser struct {
	prog   string
	args   []string // argv[1:]
	short  map[byte]HasArg
	long   []Option // nil: plain getopt, "--name" is a cluster of short options
	stderr io.Writer
	order  ordering
	silent bool // optstring starts with ':'

	// PosixlyCorrect asks for REQUIRE_ORDER unless the option string
	// chose an ordering with a leading '+' or '-'.
	PosixlyCorrect bool
	orderChosen    bool

	i        int      // next element of args to look at
	nextchar string   // rest of a cluster of short options
	operands []string // non-options skipped over (permute)
	done     bool

	// Optarg is the argument of the option Next returned (HasOptarg: it
	// has one; an optional argument may be absent), or the non-option for
	// NonOption.
	Optarg    string
	HasOptarg bool
	// Optopt is the option character (or long option's Val) that caused
	// the last Error.
	Optopt int
}

// New is a scan of args (argv without argv[0]) with glibc's optstring
// syntax ("ab:c::", optionally led by '+' or '-' and then ':') and a long
// option table; long == nil is plain getopt, for which "--name" is a
// cluster of short options. Messages are printed as "prog: ..." on stderr.
func New(prog string, args []string, optstring string, long []Option, stderr io.Writer) *Parser {
	p := &Parser{prog: prog, args: args, short: map[byte]HasArg{}, long: long, stderr: stderr}
	if optstring != "" && (optstring[0] == '+' || optstring[0] == '-') {
		p.orderChosen = true
		if optstring[0] == '+' {
			p.order = requireOrder
		} else {
			p.order = returnInOrder
		}
		optstring = optstring[1:]
	}
	if optstring != "" && optstring[0] == ':' {
		p.silent = true
		optstring = optstring[1:]
	}
	for i := 0; i < len(optstring); i++ {
		c := optstring[i]
		if c == ':' {
			continue
		}
		k := NoArgument
		if i+1 < len(optstring) && optstring[i+1] == ':' {
			k = RequiredArgument
			if i+2 < len(optstring) && optstring[i+2] == ':' {
				k = OptionalArgument
			}
		}
		p.short[c] = k
	}
	return p
}

func (p *Parser) errorf(format string, a ...any) {
	if !p.silent && p.stderr != nil {
		fmt.Fprintf(p.stderr, "%s: "+format+"\n", append([]any{p.prog}, a...)...)
	}
}

// Next is getopt_long: the next option's value (a short option's letter or
// a long option's Val), Error, MissingArg, NonOption, or End when the
// options are exhausted.
func (p *Parser) Next() int {
	p.Optarg, p.HasOptarg = "", false
	if !p.orderChosen && p.PosixlyCorrect {
		p.order, p.orderChosen = requireOrder, true
	}
	if p.nextchar == "" {
		for {
			if p.done || p.i >= len(p.args) {
				p.done = true
				return End
			}
			a := p.args[p.i]
			if a == "--" {
				p.i++
				p.done = true
				return End
			}
			if len(a) < 2 || a[0] != '-' {
				switch p.order {
				case requireOrder:
					p.done = true
					return End
				case returnInOrder:
					p.i++
					p.Optarg, p.HasOptarg = a, true
					return NonOption
				}
				p.operands = append(p.operands, a)
				p.i++
				continue
			}
			p.i++
			if p.long != nil && a[1] == '-' {
				return p.longOption(a[2:])
			}
			p.nextchar = a[1:]
			break
		}
	}
	return p.shortOption()
}

// shortOption takes the next letter of a cluster.
func (p *Parser) shortOption() int {
	c := p.nextchar[0]
	p.nextchar = p.nextchar[1:]
	kind, ok := p.short[c]
	if !ok {
		p.Optopt = int(c)
		p.errorf("invalid option -- '%c'", c)
		return Error
	}
	switch kind {
	case RequiredArgument:
		switch {
		case p.nextchar != "":
			p.Optarg, p.HasOptarg = p.nextchar, true
			p.nextchar = ""
		case p.i < len(p.args):
			p.Optarg, p.HasOptarg = p.args[p.i], true
			p.i++
		default:
			p.Optopt = int(c)
			p.errorf("option requires an argument -- '%c'", c)
			return p.missing()
		}
	case OptionalArgument:
		if p.nextchar != "" {
			p.Optarg, p.HasOptarg = p.nextchar, true
			p.nextchar = ""
		}
	}
	return int(c)
}

func (p *Parser) missing() int {
	if p.silent {
		return MissingArg
	}
	return Error
}

// longOption is process_long_option: an exact name wins, else a prefix of
// exactly one option (or of several identical ones); s is what follows
// "--", "=value" included.
func (p *Parser) longOption(s string) int {
	name, val, hasVal := strings.Cut(s, "=")
	found := -1
	for j := range p.long {
		if p.long[j].Name == name {
			found = j
			break
		}
	}
	if found < 0 {
		var ambiguous []int
		for j := range p.long {
			o := p.long[j]
			if !strings.HasPrefix(o.Name, name) {
				continue
			}
			if found < 0 {
				found = j
				continue
			}
			if f := p.long[found]; f.HasArg != o.HasArg || f.Val != o.Val {
				if ambiguous == nil {
					ambiguous = append(ambiguous, found)
				}
				ambiguous = append(ambiguous, j)
			}
		}
		if ambiguous != nil {
			var b strings.Builder
			for _, j := range ambiguous {
				fmt.Fprintf(&b, " '--%s'", p.long[j].Name)
			}
			p.errorf("option '--%s' is ambiguous; possibilities:%s", s, b.String())
			p.Optopt = 0
			return Error
		}
	}
	if found < 0 {
		p.errorf("unrecognized option '--%s'", s)
		p.Optopt = 0
		return Error
	}
	o := p.long[found]
	switch o.HasArg {
	case NoArgument:
		if hasVal {
			p.errorf("option '--%s' doesn't allow an argument", o.Name)
			p.Optopt = o.Val
			return Error
		}
	case RequiredArgument:
		switch {
		case hasVal:
			p.Optarg, p.HasOptarg = val, true
		case p.i < len(p.args):
			p.Optarg, p.HasOptarg = p.args[p.i], true
			p.i++
		default:
			p.errorf("option '--%s' requires an argument", o.Name)
			p.Optopt = o.Val
			return p.missing()
		}
	case OptionalArgument:
		if hasVal {
			p.Optarg, p.HasOptarg = val, true
		}
	}
	return o.Val
}

// Operands is the non-options in order (what argv[optind:] holds after
// getopt permuted it); call it once Next has returned End.
func (p *Parser) Operands() []string {
	out := append([]string(nil), p.operands...)
	return append(out, p.args[p.i:]...)
}

// Result is one option Parse found.
type Result struct {
	Val    int    // the short option letter or long option Val
	Arg    string // its argument
	HasArg bool   // whether it had one (an optional argument may be absent)
}

// Parse runs a scan to the end: the options in command-line order and the
// operands, or ok=false at the first Error or MissingArg (its message
// printed).
func Parse(prog string, args []string, optstring string, long []Option, stderr io.Writer) (opts []Result, operands []string, ok bool) {
	return New(prog, args, optstring, long, stderr).All()
}

// All is Parse on a Parser made with New (PosixlyCorrect set as wanted).
func (p *Parser) All() (opts []Result, operands []string, ok bool) {
	for {
		switch c := p.Next(); c {
		case End:
			return opts, p.Operands(), true
		case Error, MissingArg:
			return nil, nil, false
		default:
			opts = append(opts, Result{Val: c, Arg: p.Optarg, HasArg: p.HasOptarg})
		}
	}
}
