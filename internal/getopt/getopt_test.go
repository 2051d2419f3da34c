package getopt

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// longs is a table in the style of dmsetup's and the thin tools': codes
// above 127 for long-only options, an abbreviation shared by two options,
// and two entries for one option (not ambiguous: same has_arg and val).
var longs = []Option{
	{"readonly", NoArgument, 'r'},
	{"table", RequiredArgument, 't'},
	{"target", RequiredArgument, 128},
	{"metadata-snap", OptionalArgument, 'm'},
	{"verbose", NoArgument, 'v'},
	{"verbosely", NoArgument, 'v'},
	{"quiet", NoArgument, 'q'},
	{"quit", NoArgument, 129},
}

// scan runs Next to the end, continuing after errors as getopt_long's
// callers may, and writes what it returned: "c" for an option letter,
// "#N" for another value, "=ARG" after one with an argument, "?" and ":"
// for errors, "@ARG" for a non-option returned in order.
func scan(p *Parser) string {
	var out []string
	for {
		c := p.Next()
		var s string
		switch {
		case c == End:
			return strings.Join(out, " ")
		case c == NonOption:
			s = "@" + p.Optarg
		case c >= 'A' && c <= 'z' || c == '?' || c == ':':
			s = string(rune(c))
		default:
			s = fmt.Sprintf("#%d", c)
		}
		if p.HasOptarg && c != NonOption {
			s += "=" + p.Optarg
		}
		out = append(out, s)
	}
}

func TestNext(t *testing.T) {
	cases := []struct {
		name      string
		optstring string
		long      []Option
		posix     bool
		args      []string
		want      string   // scan's output
		operands  []string // after End
		stderr    string
	}{
		{name: "empty", optstring: "ab", want: "", operands: []string{}},
		{name: "cluster", optstring: "abc", args: []string{"-abc", "-c"}, want: "a b c c", operands: []string{}},
		{name: "attached and detached arguments", optstring: "o:x", args: []string{"-xovalue", "-o", "v2", "-o", "-x"},
			want: "x o=value o=v2 o=-x", operands: []string{}},
		{name: "permutation", optstring: "ab:", args: []string{"one", "-a", "two", "-b", "three", "four"},
			want: "a b=three", operands: []string{"one", "two", "four"}},
		{name: "lone dash is an operand", optstring: "a", args: []string{"-", "-a"}, want: "a", operands: []string{"-"}},
		{name: "terminator", optstring: "a", args: []string{"x", "-a", "--", "-a", "--", "y"},
			want: "a", operands: []string{"x", "-a", "--", "y"}},
		{name: "plus stops at the first operand", optstring: "+a", args: []string{"-a", "x", "-a"},
			want: "a", operands: []string{"x", "-a"}},
		{name: "plus still consumes a leading terminator", optstring: "+a", args: []string{"--", "-a"},
			want: "", operands: []string{"-a"}},
		{name: "POSIXLY_CORRECT", optstring: "a", posix: true, args: []string{"x", "-a"},
			want: "", operands: []string{"x", "-a"}},
		{name: "leading minus returns operands in order", optstring: "-a", args: []string{"x", "-a", "y", "--", "-a"},
			want: "@x a @y", operands: []string{"-a"}},
		{name: "minus overrides POSIXLY_CORRECT", optstring: "-a", posix: true, args: []string{"x", "-a"},
			want: "@x a", operands: []string{}},
		{name: "invalid short option, scan goes on", optstring: "a", args: []string{"-xa", "-:"},
			want: "? a ?", operands: []string{},
			stderr: "prog: invalid option -- 'x'\nprog: invalid option -- ':'\n"},
		{name: "missing short argument", optstring: "ab:", args: []string{"-a", "-b"},
			want: "a ?", operands: []string{}, stderr: "prog: option requires an argument -- 'b'\n"},
		{name: "silent: missing argument is ':'", optstring: ":b:", args: []string{"-x", "-b"},
			want: "? :", operands: []string{}},
		{name: "optional short argument is attached only", optstring: "w::", args: []string{"-w", "5", "-w7"},
			want: "w w=7", operands: []string{"5"}},
		{name: "optional short argument empty cluster", optstring: "aw::", args: []string{"-aw"},
			want: "a w", operands: []string{}},
		{name: "plain getopt: --name is a cluster", optstring: "a", args: []string{"--ab"},
			want: "? a ?", operands: []string{},
			stderr: "prog: invalid option -- '-'\nprog: invalid option -- 'b'\n"},

		{name: "long exact", long: longs, args: []string{"--readonly", "--table", "0 8 zero", "--table=x"},
			want: "r t=0 8 zero t=x", operands: []string{}},
		{name: "long abbreviation", long: longs, args: []string{"--read", "--tab", "t", "--tar=u"},
			want: "r t=t #128=u", operands: []string{}},
		{name: "long abbreviation of identical entries", long: longs, args: []string{"--verb"},
			want: "v", operands: []string{}},
		{name: "exact name beats a longer one", long: longs, args: []string{"--verbose", "--quit"},
			want: "v #129", operands: []string{}},
		{name: "ambiguous", long: longs, args: []string{"--ta=1", "--qui"}, want: "? ?", operands: []string{},
			stderr: "prog: option '--ta=1' is ambiguous; possibilities: '--table' '--target'\n" +
				"prog: option '--qui' is ambiguous; possibilities: '--quiet' '--quit'\n"},
		{name: "unrecognized", long: longs, args: []string{"--frob=1", "--", "--frob"}, want: "?",
			operands: []string{"--frob"}, stderr: "prog: unrecognized option '--frob=1'\n"},
		{name: "argument not allowed", long: longs, args: []string{"--read=yes"}, want: "?", operands: []string{},
			stderr: "prog: option '--readonly' doesn't allow an argument\n"},
		{name: "argument required", long: longs, args: []string{"x", "--tab"}, want: "?", operands: []string{"x"},
			stderr: "prog: option '--table' requires an argument\n"},
		{name: "silent long missing argument", optstring: ":", long: longs, args: []string{"--tab"},
			want: ":", operands: []string{}},
		{name: "required argument may look like an option", long: longs, args: []string{"--table", "--readonly"},
			want: "t=--readonly", operands: []string{}},
		{name: "optional long argument follows '=' only", long: longs,
			args: []string{"--metadata-snap", "5", "--metadata=7", "--metadata-snap="},
			want: "m m=7 m=", operands: []string{"5"}},
		{name: "empty long name is ambiguous", long: longs[:2], args: []string{"--=x"}, want: "?", operands: []string{},
			stderr: "prog: option '--=x' is ambiguous; possibilities: '--readonly' '--table'\n"},
		{name: "empty long table: --name is long", long: []Option{}, args: []string{"--a"}, optstring: "a",
			want: "?", operands: []string{}, stderr: "prog: unrecognized option '--a'\n"},
		{name: "short and long mixed, permuted", optstring: "rt:", long: longs,
			args: []string{"dev", "-rt", "x", "file", "--quiet"}, want: "r t=x q", operands: []string{"dev", "file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			p := New("prog", c.args, c.optstring, c.long, &stderr)
			p.PosixlyCorrect = c.posix
			if got := scan(p); got != c.want {
				t.Errorf("options %q, want %q", got, c.want)
			}
			if got := p.Operands(); !reflect.DeepEqual(got, c.operands) && !(len(got) == 0 && len(c.operands) == 0) {
				t.Errorf("operands %q, want %q", got, c.operands)
			}
			if stderr.String() != c.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), c.stderr)
			}
			if p.Next() != End {
				t.Errorf("Next after End is not End")
			}
		})
	}
}

// Parse stops at the first error, returning nothing but the message.
func TestParse(t *testing.T) {
	cases := []struct {
		args     []string
		opts     []Result
		operands []string
		ok       bool
		stderr   string
	}{
		{[]string{"a", "-x", "--table", "T", "b", "-m"},
			[]Result{{Val: 'x'}, {Val: 't', Arg: "T", HasArg: true}, {Val: 'm'}}, []string{"a", "b"}, true, ""},
		{[]string{"-x", "-y", "-z"}, nil, nil, false, "p: invalid option -- 'y'\n"},
		{[]string{"-x", "--tab"}, nil, nil, false, "p: option '--table' requires an argument\n"},
	}
	for _, c := range cases {
		var stderr strings.Builder
		opts, operands, ok := Parse("p", c.args, "xm::", longs, &stderr)
		if !reflect.DeepEqual(opts, c.opts) || !reflect.DeepEqual(operands, c.operands) || ok != c.ok ||
			stderr.String() != c.stderr {
			t.Errorf("%q: %+v %q %v %q, want %+v %q %v %q", c.args, opts, operands, ok, stderr.String(),
				c.opts, c.operands, c.ok, c.stderr)
		}
	}
}

// Operands does not alias the argument vector or its own earlier answer.
func TestOperandsCopy(t *testing.T) {
	args := []string{"x", "-a", "y"}
	p := New("p", args, "a", nil, nil)
	scan(p)
	ops := p.Operands()
	ops[0] = "changed"
	if args[0] != "x" || p.Operands()[0] != "x" {
		t.Errorf("Operands aliases: args %q, operands %q", args, p.Operands())
	}
}

// FuzzGetopt: no argument vector or option string makes the parser panic
// or loop, every argument is accounted for at most once, and Parse agrees
// with Next.
func FuzzGetopt(f *testing.F) {
	f.Add("ab:c::", "-abvalue\x00x\x00--\x00-c", false)
	f.Add("+:o:", "x\x00-o", true)
	f.Add("-w::", "--table=1\x00--ta\x00--=\x00-", false)
	f.Add("", "--verb\x00--read=1\x00--metadata-snap", true)
	f.Fuzz(func(t *testing.T, optstring, argv string, long bool) {
		args := strings.Split(argv, "\x00")
		var table []Option
		if long {
			table = longs
		}
		p := New("p", args, optstring, table, &strings.Builder{})
		n := 0
		for p.Next() != End {
			if n++; n > 2*len(argv)+2 {
				t.Fatalf("%q %q: Next does not end", optstring, args)
			}
		}
		if ops := p.Operands(); len(ops) > len(args) {
			t.Fatalf("%q %q: %d operands from %d arguments", optstring, args, len(ops), len(args))
		}
		_, operands, ok := Parse("p", args, optstring, table, &strings.Builder{})
		if ok && len(operands) > len(args) {
			t.Fatalf("%q %q: Parse: %d operands", optstring, args, len(operands))
		}
	})
}
