package busybox

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("sed", "stream editor (common forms)", sed, "-n", "-e", "-E", "-r")
}

type sedAddr struct {
	kind byte // 0 none, 'n' line number, '$' last, 'r' regexp
	line int
	re   *regexp.Regexp
}

type sedCmd struct {
	a1, a2  sedAddr
	negate  bool
	cmd     byte
	re      *regexp.Regexp
	repl    string
	global  bool
	nth     int
	print   bool
	text    string
	inRange bool
}

func sedParseRE(s string, delim byte) (string, string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == delim {
				b.WriteByte(delim)
			} else if s[i+1] == 'n' {
				b.WriteString("\n")
			} else {
				b.WriteByte('\\')
				b.WriteByte(s[i+1])
			}
			i++
			continue
		}
		if s[i] == delim {
			return b.String(), s[i+1:], true
		}
		b.WriteByte(s[i])
	}
	return "", "", false
}

func sedCompileRE(p *userland.Proc, re string, ere bool) (*regexp.Regexp, bool) {
	if !ere {
		re = breToGo(re)
	}
	r, err := regexp.Compile(re)
	if err != nil {
		fmt.Fprintf(p.Stderr, "sed: bad regex '%s'\n", re)
		return nil, false
	}
	return r, true
}

func sedParseAddr(p *userland.Proc, s string, ere bool) (sedAddr, string, bool) {
	switch {
	case s == "":
		return sedAddr{}, s, true
	case s[0] >= '0' && s[0] <= '9':
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.Atoi(s[:i])
		return sedAddr{kind: 'n', line: n}, s[i:], true
	case s[0] == '$':
		return sedAddr{kind: '$'}, s[1:], true
	case s[0] == '/' || s[0] == '\\':
		delim := byte('/')
		if s[0] == '\\' && len(s) > 1 {
			delim = s[1]
			s = s[1:]
		}
		re, rest, ok := sedParseRE(s[1:], delim)
		if !ok {
			fmt.Fprintf(p.Stderr, "sed: unmatched '%c'\n", delim)
			return sedAddr{}, "", false
		}
		r, ok := sedCompileRE(p, re, ere)
		if !ok {
			return sedAddr{}, "", false
		}
		return sedAddr{kind: 'r', re: r}, rest, true
	}
	return sedAddr{}, s, true
}

func sedParse(p *userland.Proc, script string, ere bool) ([]*sedCmd, bool) {
	var cmds []*sedCmd
	s := script
	for {
		s = strings.TrimLeft(s, " \t\n;")
		if s == "" {
			return cmds, true
		}
		c := &sedCmd{}
		var ok bool
		if c.a1, s, ok = sedParseAddr(p, s, ere); !ok {
			return nil, false
		}
		if c.a1.kind != 0 && strings.HasPrefix(s, ",") {
			if c.a2, s, ok = sedParseAddr(p, s[1:], ere); !ok {
				return nil, false
			}
		}
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "!") {
			c.negate = true
			s = strings.TrimLeft(s[1:], " \t")
		}
		if s == "" {
			fmt.Fprintf(p.Stderr, "sed: missing command\n")
			return nil, false
		}
		c.cmd = s[0]
		s = s[1:]
		switch c.cmd {
		case 's':
			if s == "" {
				fmt.Fprintf(p.Stderr, "sed: bad format in substitution expression\n")
				return nil, false
			}
			delim := s[0]
			re, rest, ok1 := sedParseRE(s[1:], delim)
			repl, rest2, ok2 := sedParseRE(rest, delim)
			if !ok1 || !ok2 {
				fmt.Fprintf(p.Stderr, "sed: unmatched '%c'\n", delim)
				return nil, false
			}
			r, ok := sedCompileRE(p, re, ere)
			if !ok {
				return nil, false
			}
			c.re, c.repl = r, repl
			s = rest2
			for s != "" && strings.IndexByte(";\n} \t", s[0]) < 0 {
				switch {
				case s[0] == 'g':
					c.global = true
				case s[0] == 'p':
					c.print = true
				case s[0] == 'I' || s[0] == 'i':
					c.re = regexp.MustCompile("(?i)" + c.re.String())
				case s[0] >= '0' && s[0] <= '9':
					c.nth = c.nth*10 + int(s[0]-'0')
				default:
					fmt.Fprintf(p.Stderr, "sed: bad option in substitution expression\n")
					return nil, false
				}
				s = s[1:]
			}
		case 'p', 'd', 'q', 'Q', '=', 'n', 'N':
		case 'a', 'i', 'c':
			s = strings.TrimLeft(s, " \t")
			if strings.HasPrefix(s, "\\\n") {
				s = s[2:]
			} else if strings.HasPrefix(s, "\\") {
				s = s[1:]
			}
			end := strings.IndexByte(s, '\n')
			if end < 0 {
				end = len(s)
			}
			c.text, s = s[:end], s[end:]
		case 'y':
			fmt.Fprintf(p.Stderr, "sed: unsupported command y\n")
			return nil, false
		default:
			fmt.Fprintf(p.Stderr, "sed: unsupported command %c\n", c.cmd)
			return nil, false
		}
		cmds = append(cmds, c)
	}
}

func (a sedAddr) match(line string, n int, last bool) bool {
	switch a.kind {
	case 'n':
		return n == a.line
	case '$':
		return last
	case 'r':
		return a.re.MatchString(line)
	}
	return true
}

func (c *sedCmd) selects(line string, n int, last bool) bool {
	var m bool
	switch {
	case c.a1.kind == 0:
		m = true
	case c.a2.kind == 0:
		m = c.a1.match(line, n, last)
	case c.inRange:
		m = true
		if c.a2.kind == 'n' && n >= c.a2.line || c.a2.kind != 'n' && c.a2.match(line, n, last) {
			c.inRange = false
		}
	default:
		if c.a1.match(line, n, last) {
			m = true
			if !(c.a2.kind == 'n' && n >= c.a2.line) {
				c.inRange = true
			}
		}
	}
	return m != c.negate
}

// sedRepl expands & and \N in a replacement.
func sedRepl(repl string, src string, m []int) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '&':
			b.WriteString(src[m[0]:m[1]])
		case c == '\\' && i+1 < len(repl):
			i++
			d := repl[i]
			if d >= '0' && d <= '9' {
				k := int(d - '0')
				if 2*k+1 < len(m) && m[2*k] >= 0 {
					b.WriteString(src[m[2*k]:m[2*k+1]])
				}
			} else if d == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(d)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sed is busybox sed, its common forms (no -i, no hold space).
func sed(p *userland.Proc) int {
	o, args, ok := getopt(p, "ne:f:Eri::s")
	if !ok {
		return 1
	}
	if o.has('i') {
		fmt.Fprintf(p.Stderr, "dmsim: sed -i is not supported\n")
		return 1
	}
	var scripts []string
	scripts = append(scripts, o.all('e')...)
	if !o.has('e') && !o.has('f') {
		if len(args) == 0 {
			return showUsage(p)
		}
		scripts = append(scripts, args[0])
		args = args[1:]
	}
	ere := o.has('E') || o.has('r')
	cmds, ok := sedParse(p, strings.Join(scripts, "\n"), ere)
	if !ok {
		return 1
	}
	files := orStdin(args)
	var data []byte
	status := 0
	for _, f := range files {
		r, ok := openOrWarn(p, f)
		if !ok {
			status = 2
			continue
		}
		b, _ := io.ReadAll(r)
		r.Close()
		data = append(data, b...)
	}
	noNL := len(data) > 0 && data[len(data)-1] != '\n'
	text := strings.TrimSuffix(string(data), "\n")
	var lines []string
	if len(data) > 0 {
		lines = strings.Split(text, "\n")
	}
	var out strings.Builder
	emit := func(s string, isLastLine bool) {
		out.WriteString(s)
		if !(isLastLine && noNL) {
			out.WriteByte('\n')
		}
	}
	quit := false
	for i := 0; i < len(lines) && !quit; i++ {
		line := lines[i]
		n := i + 1
		last := i == len(lines)-1
		deleted := false
		var after []string
		for _, c := range cmds {
			if !c.selects(line, n, last) {
				continue
			}
			switch c.cmd {
			case 's':
				count := 0
				replaced := false
				var b strings.Builder
				pos := 0
				for _, m := range c.re.FindAllStringSubmatchIndex(line, -1) {
					count++
					want := (c.nth == 0 && (c.global || count == 1)) ||
						(c.nth > 0 && (count == c.nth || (c.global && count > c.nth)))
					if !want {
						continue
					}
					b.WriteString(line[pos:m[0]])
					b.WriteString(sedRepl(c.repl, line, m))
					pos = m[1]
					replaced = true
				}
				if replaced {
					b.WriteString(line[pos:])
					line = b.String()
					if c.print {
						emit(line, false)
					}
				}
			case 'p':
				emit(line, false)
			case 'd':
				deleted = true
			case '=':
				fmt.Fprintf(&out, "%d\n", n)
			case 'a':
				after = append(after, c.text)
			case 'i':
				out.WriteString(c.text + "\n")
			case 'c':
				out.WriteString(c.text + "\n")
				deleted = true
			case 'q':
				quit = true
			case 'Q':
				quit = true
				deleted = true
			case 'n':
				if !o.has('n') {
					emit(line, last)
				}
				if i+1 < len(lines) {
					i++
					line = lines[i]
					n = i + 1
					last = i == len(lines)-1
				} else {
					deleted = true
					quit = true
				}
			case 'N':
				if i+1 < len(lines) {
					i++
					line += "\n" + lines[i]
					n = i + 1
					last = i == len(lines)-1
				} else {
					quit = true
				}
			}
			if deleted || (quit && c.cmd == 'q') {
				break
			}
		}
		if !deleted && !o.has('n') {
			emit(line, last)
		}
		for _, a := range after {
			out.WriteString(a + "\n")
		}
	}
	if _, err := io.WriteString(p.Stdout, out.String()); err != nil {
		return 4
	}
	return status
}
