package userland

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

func init() {
	register("grep", "search for a pattern (common forms)", grep,
		"-q", "-v", "-c", "-i", "-E", "-F", "-o", "-w", "-x", "-n", "-l", "-L", "-h", "-H", "-s", "-e")
	register("cut", "print selected fields", cut, "-d", "-f", "-b", "-c", "-s")
	register("tr", "translate or delete characters", tr, "-d", "-s", "-c")
	register("sed", "stream editor (common forms)", sed, "-n", "-e", "-E", "-r")
}

// breToGo converts a POSIX basic regular expression to Go syntax.
func breToGo(re string) string {
	var b strings.Builder
	inBracket := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if inBracket {
			b.WriteByte(c)
			if c == ']' {
				inBracket = false
			}
			continue
		}
		switch c {
		case '[':
			inBracket = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case '\\':
			if i+1 >= len(re) {
				b.WriteString(`\\`)
				continue
			}
			i++
			switch re[i] {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(re[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(re[i])
			}
		case '(', ')', '{', '}', '|', '+', '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '*':
			if b.Len() == 0 || strings.HasSuffix(b.String(), "^") {
				b.WriteString(`\*`)
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func compileRE(pattern string, extended, fixed, icase, word, line bool) (*regexp.Regexp, error) {
	var re string
	switch {
	case fixed:
		re = regexp.QuoteMeta(pattern)
	case extended:
		re = pattern
	default:
		re = breToGo(pattern)
	}
	if word {
		re = `(?:^|\b)(?:` + re + `)(?:\b|$)`
	}
	if line {
		re = `^(?:` + re + `)$`
	}
	if icase {
		re = `(?i)` + re
	}
	return regexp.Compile(re)
}

func grep(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "qvciEFowxnlLhHsre:f:m:A:B:C:z")
	if !ok {
		return 2
	}
	var patterns []string
	patterns = append(patterns, o.all('e')...)
	for _, f := range o.all('f') {
		r, err := openInput(p, f)
		if err != nil {
			cantOpen(p, f, err)
			return 2
		}
		data, _ := io.ReadAll(r)
		r.Close()
		patterns = append(patterns, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	if !o.has('e') && !o.has('f') {
		if len(args) == 0 {
			return showUsage(p)
		}
		patterns = append(patterns, strings.Split(args[0], "\n")...)
		args = args[1:]
	}
	var res []*regexp.Regexp
	for _, pat := range patterns {
		re, err := compileRE(pat, o.has('E'), o.has('F'), o.has('i'), o.has('w'), o.has('x'))
		if err != nil {
			fmt.Fprintf(p.Stderr, "grep: bad regex '%s'\n", pat)
			return 2
		}
		res = append(res, re)
	}
	files := args
	if len(files) == 0 {
		files = []string{"-"}
	}
	prefix := len(files) > 1
	if o.has('h') {
		prefix = false
	}
	if o.has('H') {
		prefix = true
	}
	maxCount := -1
	if o.has('m') {
		maxCount, _ = strconv.Atoi(o.arg('m'))
	}
	found := false
	status := 1
	for _, f := range files {
		r, err := openInput(p, f)
		name := f
		if f == "-" {
			name = "(standard input)"
		}
		if err != nil {
			if !o.has('s') {
				perror(p, err, "%s", f)
			}
			status = 2
			continue
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<26)
		count, lineNo := 0, 0
		for sc.Scan() {
			lineNo++
			line := sc.Text()
			match := false
			for _, re := range res {
				if re.MatchString(line) {
					match = true
					break
				}
			}
			if match == o.has('v') {
				continue
			}
			count++
			found = true
			if o.has('q') {
				r.Close()
				return 0
			}
			if o.has('l') || o.has('L') || o.has('c') {
				if maxCount >= 0 && count >= maxCount {
					break
				}
				continue
			}
			pre := ""
			if prefix {
				pre = name + ":"
			}
			if o.has('n') {
				pre += strconv.Itoa(lineNo) + ":"
			}
			if o.has('o') && !o.has('v') {
				for _, re := range res {
					for _, m := range re.FindAllString(line, -1) {
						if m != "" {
							fmt.Fprintf(p.Stdout, "%s%s\n", pre, m)
						}
					}
				}
			} else {
				fmt.Fprintf(p.Stdout, "%s%s\n", pre, line)
			}
			if maxCount >= 0 && count >= maxCount {
				break
			}
		}
		r.Close()
		switch {
		case o.has('c'):
			if prefix {
				fmt.Fprintf(p.Stdout, "%s:%d\n", name, count)
			} else {
				fmt.Fprintf(p.Stdout, "%d\n", count)
			}
		case o.has('l') && count > 0:
			fmt.Fprintf(p.Stdout, "%s\n", name)
		case o.has('L') && count == 0:
			fmt.Fprintf(p.Stdout, "%s\n", name)
		}
	}
	if status == 2 && !o.has('s') {
		if found {
			return 0
		}
		return 2
	}
	if found {
		return 0
	}
	return status
}

// cutRanges parses a LIST for cut (1-based, "N", "N-", "-M", "N-M").
func cutRanges(p *Proc, list string) ([][2]int, bool) {
	var out [][2]int
	for _, part := range strings.Split(list, ",") {
		lo, hi := 1, 1<<30
		a, b, isRange := strings.Cut(part, "-")
		var err error
		if a != "" {
			if lo, err = strconv.Atoi(a); err != nil || lo < 1 {
				fmt.Fprintf(p.Stderr, "cut: invalid byte or character range\n")
				return nil, false
			}
		}
		if !isRange {
			hi = lo
		} else if b != "" {
			if hi, err = strconv.Atoi(b); err != nil || hi < lo {
				fmt.Fprintf(p.Stderr, "cut: invalid byte or character range\n")
				return nil, false
			}
		}
		out = append(out, [2]int{lo, hi})
	}
	return out, true
}

func inRanges(r [][2]int, i int) bool {
	for _, x := range r {
		if i >= x[0] && i <= x[1] {
			return true
		}
	}
	return false
}

func cut(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, files, ok := getopt(p, "b:c:d:f:snDF:O:")
	if !ok {
		return 1
	}
	var list string
	mode := byte(0)
	for _, c := range []byte("bcf") {
		if o.has(c) {
			if mode != 0 {
				fmt.Fprintf(p.Stderr, "cut: only one list may be specified\n")
				return 1
			}
			mode, list = c, o.arg(c)
		}
	}
	if mode == 0 {
		fmt.Fprintf(p.Stderr, "cut: expected a list of bytes, characters, or fields\n")
		return 1
	}
	ranges, ok := cutRanges(p, list)
	if !ok {
		return 1
	}
	delim := "\t"
	if o.has('d') {
		delim = o.arg('d')
		if len(delim) != 1 {
			fmt.Fprintf(p.Stderr, "cut: the delimiter must be a single character\n")
			return 1
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for _, f := range files {
		r, err := openInput(p, f)
		if err != nil {
			perror(p, err, "%s", f)
			status = 1
			continue
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<26)
		var out bytes.Buffer
		for sc.Scan() {
			line := sc.Text()
			if mode == 'f' {
				if !strings.Contains(line, delim) {
					if !o.has('s') {
						out.WriteString(line + "\n")
					}
					continue
				}
				var sel []string
				for i, fld := range strings.Split(line, delim) {
					if inRanges(ranges, i+1) {
						sel = append(sel, fld)
					}
				}
				out.WriteString(strings.Join(sel, delim) + "\n")
				continue
			}
			for i := 0; i < len(line); i++ {
				if inRanges(ranges, i+1) {
					out.WriteByte(line[i])
				}
			}
			out.WriteByte('\n')
		}
		r.Close()
		p.Stdout.Write(out.Bytes())
	}
	return status
}

// trSet expands a tr SET: escapes, ranges a-z, [:class:] and [c*n].
func trSet(s string) []byte {
	s, _ = unescape(s, false)
	var out []byte
	classes := map[string]func(byte) bool{
		"alnum":  func(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' },
		"alpha":  isAlpha,
		"digit":  func(c byte) bool { return c >= '0' && c <= '9' },
		"lower":  func(c byte) bool { return c >= 'a' && c <= 'z' },
		"upper":  func(c byte) bool { return c >= 'A' && c <= 'Z' },
		"space":  func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' },
		"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
		"punct":  func(c byte) bool { return c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9') },
		"xdigit": isHex,
		"cntrl":  func(c byte) bool { return c < 32 || c == 127 },
		"print":  func(c byte) bool { return c >= 32 && c < 127 },
		"graph":  func(c byte) bool { return c > 32 && c < 127 },
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '[' && i+1 < len(s) && s[i+1] == ':' {
			if end := strings.Index(s[i:], ":]"); end > 0 {
				if f, ok := classes[s[i+2:i+end]]; ok {
					for c := 0; c < 256; c++ {
						if f(byte(c)) {
							out = append(out, byte(c))
						}
					}
					i += end + 1
					continue
				}
			}
		}
		if i+2 < len(s) && s[i+1] == '-' {
			for c := int(s[i]); c <= int(s[i+2]); c++ {
				out = append(out, byte(c))
			}
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func tr(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "cdsC")
	if !ok {
		return 1
	}
	if len(args) < 1 || (!o.has('d') && !o.has('s') && len(args) < 2) {
		return showUsage(p)
	}
	set1 := trSet(args[0])
	var set2 []byte
	if len(args) > 1 {
		set2 = trSet(args[1])
	}
	in1 := [256]bool{}
	for _, c := range set1 {
		in1[c] = true
	}
	if o.has('c') || o.has('C') {
		var comp []byte
		for c := 0; c < 256; c++ {
			if !in1[c] {
				comp = append(comp, byte(c))
			}
			in1[c] = !in1[c]
		}
		set1 = comp
	}
	var mapTo [256]int
	for i := range mapTo {
		mapTo[i] = -1
	}
	if !o.has('d') && len(set2) > 0 {
		for i, c := range set1 {
			j := min(i, len(set2)-1)
			mapTo[c] = int(set2[j])
		}
	}
	squeeze := [256]bool{}
	if o.has('s') {
		sq := set1
		if len(args) > 1 && (o.has('d') || len(set2) > 0) {
			sq = set2
		}
		for _, c := range sq {
			squeeze[c] = true
		}
	}
	data, _ := io.ReadAll(p.Stdin)
	out := make([]byte, 0, len(data))
	last := -1
	for _, c := range data {
		if o.has('d') && in1[c] {
			continue
		}
		if mapTo[c] >= 0 {
			c = byte(mapTo[c])
		}
		if o.has('s') && squeeze[c] && last == int(c) {
			continue
		}
		out = append(out, c)
		last = int(c)
	}
	if _, err := p.Stdout.Write(out); err != nil {
		return 1
	}
	return 0
}

// ---- sed ----

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

func sedCompileRE(p *Proc, re string, ere bool) (*regexp.Regexp, bool) {
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

func sedParseAddr(p *Proc, s string, ere bool) (sedAddr, string, bool) {
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

func sedParse(p *Proc, script string, ere bool) ([]*sedCmd, bool) {
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

func sed(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
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
	files := args
	if len(files) == 0 {
		files = []string{"-"}
	}
	var data []byte
	status := 0
	for _, f := range files {
		r, err := openInput(p, f)
		if err != nil {
			cantOpen(p, f, err)
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
