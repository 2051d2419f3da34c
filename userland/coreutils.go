package userland

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dmsim/dmsim/linuxerr"
)

func init() {
	register("true", "do nothing, successfully", func(*Proc) int { return 0 })
	register("false", "do nothing, unsuccessfully", func(*Proc) int { return 1 })
	register("echo", "print arguments (busybox/ash builtin)", echo, "-n", "-e", "-E")
	register("printf", "format and print arguments (busybox/ash builtin)", printfCmd)
	register("yes", "print a string forever", yes)
	register("cat", "print files", cat, "-n", "-b", "-v", "-t", "-e", "-A")
	register("head", "print the first lines or bytes of files", head, "-n", "-c", "-q", "-v")
	register("wc", "count lines, words and bytes", wc, "-c", "-l", "-w", "-m", "-L")
	register("seq", "print a sequence of numbers", seq, "-w", "-s")
	register("md5sum", "print or check MD5 checksums", md5sum, "-c", "-s", "-w")
	register("cmp", "compare two files", cmp, "-l", "-s", "-n")
	register("sleep", "wait (in virtual time)", sleep)
	register("timeout", "run a command with a time limit (virtual time)", timeout, "-s", "-k")
	register("sync", "write back buffered data", func(p *Proc) int {
		if st, ok := helpRequested(p); ok {
			return st
		}
		return 0
	})
	register("truncate", "shrink or extend files", truncateCmd, "-c", "-s")
}

// shellName is the name ash's builtins report errors under.
const shellName = "sh"

// echo is busybox echo (ash's builtin).
func echo(p *Proc) int {
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

// unescape processes backslash escapes as bb_process_escape_sequence does;
// echoStyle takes "\0NNN" octal. stop reports a \c.
func unescape(s string, echoStyle bool) (out string, stop bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'e':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true
		case 'x':
			j, v := i+1, 0
			for ; j < len(s) && j < i+3 && isHex(s[j]); j++ {
				v = v*16 + hexVal(s[j])
			}
			if j == i+1 {
				b.WriteString("\\x")
				continue
			}
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j, v := i, 0
			limit := i + 3
			if echoStyle && s[i] == '0' {
				limit = i + 4
			}
			for ; j < len(s) && j < limit && s[j] >= '0' && s[j] <= '7'; j++ {
				v = v*8 + int(s[j]-'0')
			}
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String(), false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// printfCmd is busybox printf (ash's builtin).
func printfCmd(p *Proc) int {
	if len(p.Args) < 2 {
		fmt.Fprintf(p.Stderr, "%s: usage: printf FORMAT [ARGUMENT...]\n", shellName)
		return 2
	}
	format, args := p.Args[1], p.Args[2:]
	var out bytes.Buffer
	status := 0
	for {
		used, stop, ok := printfOnce(p, &out, format, &args, &status)
		if !ok {
			p.Stdout.Write(out.Bytes())
			return 1
		}
		if stop || len(args) == 0 || used == 0 {
			break
		}
	}
	if _, err := p.Stdout.Write(out.Bytes()); err != nil {
		return 1
	}
	return status
}

// printfOnce formats once through format; it returns how many arguments
// were used, whether \c stopped output, and ok=false for a bad format.
func printfOnce(p *Proc, out *bytes.Buffer, format string, args *[]string, status *int) (used int, stop, ok bool) {
	next := func() (string, bool) {
		if len(*args) == 0 {
			return "", false
		}
		a := (*args)[0]
		*args = (*args)[1:]
		used++
		return a, true
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' {
			j := i + 1
			for j < len(format) && j < i+4 && (format[j] >= '0' && format[j] <= '7' || j == i+1) {
				if j > i+1 && !(format[j] >= '0' && format[j] <= '7') {
					break
				}
				j++
				if j == i+2 && !(format[i+1] >= '0' && format[i+1] <= '7') {
					break
				}
			}
			if i+1 < len(format) && format[i+1] == 'x' {
				j = i + 2
				for j < len(format) && j < i+4 && isHex(format[j]) {
					j++
				}
			}
			s, st := unescape(format[i:j], false)
			out.WriteString(s)
			if st {
				return used, true, true
			}
			i = j - 1
			continue
		}
		if c != '%' {
			out.WriteByte(c)
			continue
		}
		start := i
		i++
		if i < len(format) && format[i] == '%' {
			out.WriteByte('%')
			continue
		}
		spec := "%"
		for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
			spec += string(format[i])
			i++
		}
		if i < len(format) && format[i] == '*' {
			a, _ := next()
			spec += strconv.FormatInt(printfInt(p, a, status), 10)
			i++
		} else {
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				spec += string(format[i])
				i++
			}
		}
		if i < len(format) && format[i] == '.' {
			spec += "."
			i++
			if i < len(format) && format[i] == '*' {
				a, _ := next()
				spec += strconv.FormatInt(printfInt(p, a, status), 10)
				i++
			} else {
				for i < len(format) && format[i] >= '0' && format[i] <= '9' {
					spec += string(format[i])
					i++
				}
			}
		}
		for i < len(format) && strings.IndexByte("hlLqjzt", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			fmt.Fprintf(p.Stderr, "%s: %s: invalid format\n", shellName, format[start:])
			return used, false, false
		}
		conv := format[i]
		a, have := next()
		switch conv {
		case 'd', 'i':
			out.WriteString(fmt.Sprintf(spec+"d", printfInt(p, a, status)))
		case 'o', 'u', 'x', 'X':
			v := uint64(printfInt(p, a, status))
			if conv == 'u' {
				out.WriteString(fmt.Sprintf(spec+"d", v))
			} else {
				out.WriteString(fmt.Sprintf(spec+string(conv), v))
			}
		case 'c':
			if have && a != "" {
				out.WriteString(fmt.Sprintf(spec+"c", a[0]))
			} else {
				out.WriteString(fmt.Sprintf(spec+"s", ""))
			}
		case 's':
			out.WriteString(fmt.Sprintf(spec+"s", a))
		case 'b':
			s, st := unescape(a, true)
			out.WriteString(fmt.Sprintf(spec+"s", s))
			if st {
				return used, true, true
			}
		case 'f', 'F', 'e', 'E', 'g', 'G':
			v := 0.0
			if have && a != "" {
				var err error
				v, err = strconv.ParseFloat(a, 64)
				if err != nil {
					fmt.Fprintf(p.Stderr, "%s: invalid number '%s'\n", shellName, a)
					*status = 1
				}
			}
			out.WriteString(cFloat(spec, conv, v))
		default:
			fmt.Fprintf(p.Stderr, "%s: %s: invalid format\n", shellName, format[start:])
			return used, false, false
		}
	}
	return used, false, true
}

// printfInt parses an integer argument as busybox printf does (strtoll with
// base 0, or 'c for a character code).
func printfInt(p *Proc, a string, status *int) int64 {
	if a == "" {
		return 0
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) > 1 {
			return int64(a[1])
		}
		return 0
	}
	s := strings.TrimLeft(a, " \t\n")
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		if u, uerr := strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, 64); uerr == nil {
			return int64(u)
		}
		fmt.Fprintf(p.Stderr, "%s: invalid number '%s'\n", shellName, a)
		*status = 1
		return 0
	}
	return v
}

// cFloat formats like C's printf for f, e, g.
func cFloat(spec string, conv byte, v float64) string {
	switch conv {
	case 'e', 'E', 'f', 'F':
		return fmt.Sprintf(spec+string(conv|0x20), v)
	}
	// %g: Go's %g differs from C in exponent width; handle via strconv.
	prec := 6
	if i := strings.IndexByte(spec, '.'); i >= 0 {
		prec, _ = strconv.Atoi(spec[i+1:])
		spec = spec[:i]
	}
	if prec == 0 {
		prec = 1
	}
	s := strconv.FormatFloat(v, 'g', prec, 64)
	if strings.Contains(s, "e") {
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		for len(digits) < 2 {
			digits = "0" + digits
		}
		s = mant + "e" + string(sign) + digits
	}
	if conv == 'G' {
		s = strings.ToUpper(s)
	}
	return fmt.Sprintf(spec+"s", s)
}

func yes(p *Proc) int {
	line := "y\n"
	if len(p.Args) > 1 {
		line = strings.Join(p.Args[1:], " ") + "\n"
	}
	buf := []byte(strings.Repeat(line, max(1, 4096/len(line))))
	for {
		if p.Killed() {
			return p.KilledStatus()
		}
		if _, err := p.Stdout.Write(buf); err != nil {
			return 1
		}
	}
}

func cat(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, files, ok := getopt(p, "nbvteAu")
	if !ok {
		return 1
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	number := o.has('n') || o.has('b')
	status := 0
	line := 1
	for _, f := range files {
		r, err := openInput(p, f)
		if err != nil {
			cantOpen(p, f, err)
			status = 1
			continue
		}
		if number {
			br := bufio.NewReader(r)
			for {
				l, err := br.ReadString('\n')
				if l != "" {
					if o.has('b') && (l == "\n") {
						p.Stdout.Write([]byte(l))
					} else {
						fmt.Fprintf(p.Stdout, "%6d\t%s", line, l)
						line++
					}
				}
				if err != nil {
					break
				}
			}
		} else if _, err := io.Copy(p.Stdout, r); err != nil {
			perror(p, err, "%s", f)
			status = 1
		}
		r.Close()
	}
	return status
}

func head(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	args := p.Args[1:]
	// head -NUM is the old form of -n NUM.
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && args[0][1] >= '0' && args[0][1] <= '9' {
		args = append([]string{"-n", args[0][1:]}, args[1:]...)
	}
	o, files, ok := getoptFrom(p, args, "n:c:qv", true)
	if !ok {
		return 1
	}
	count, bytesMode, allBut, ok := headTailCount(p, "head", o, '-')
	if !ok {
		return 1
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	headers := (len(files) > 1 && !o.has('q')) || o.has('v')
	status := 0
	for i, f := range files {
		var r io.ReadCloser
		var err error
		if f == "-" {
			r = io.NopCloser(p.Stdin)
		} else if r, err = openInput(p, f); err != nil {
			perror(p, err, "%s", f)
			status = 1
			continue
		}
		if headers {
			name := f
			if f == "-" {
				name = "standard input"
			}
			if i > 0 {
				fmt.Fprintf(p.Stdout, "\n")
			}
			fmt.Fprintf(p.Stdout, "==> %s <==\n", name)
		}
		if err := headCopy(p.Stdout, r, count, bytesMode, allBut); err != nil {
			r.Close()
			return 1
		}
		r.Close()
	}
	return status
}

func headCopy(w io.Writer, r io.Reader, count uint64, bytesMode, allBut bool) error {
	if allBut {
		data, _ := io.ReadAll(r)
		if bytesMode {
			if uint64(len(data)) > count {
				_, err := w.Write(data[:uint64(len(data))-count])
				return err
			}
			return nil
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		if uint64(len(lines)) > count {
			_, err := w.Write(bytes.Join(lines[:uint64(len(lines))-count], nil))
			return err
		}
		return nil
	}
	if bytesMode {
		_, err := io.CopyN(w, r, int64(min(count, math.MaxInt64)))
		if err == io.EOF {
			err = nil
		}
		return err
	}
	br := bufio.NewReader(r)
	for n := uint64(0); n < count; n++ {
		l, err := br.ReadBytes('\n')
		if len(l) > 0 {
			if _, werr := w.Write(l); werr != nil {
				return werr
			}
		}
		if err != nil {
			break
		}
	}
	return nil
}

func wc(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, files, ok := getopt(p, "cmlwL")
	if !ok {
		return 1
	}
	// print order: lines, words, chars(-m), bytes(-c), max line length
	type kind int
	var sel []kind
	const (
		kLines kind = iota
		kWords
		kChars
		kBytes
		kLongest
	)
	for _, k := range []struct {
		c byte
		k kind
	}{{'l', kLines}, {'w', kWords}, {'m', kChars}, {'c', kBytes}, {'L', kLongest}} {
		if o.has(k.c) {
			sel = append(sel, k.k)
		}
	}
	if len(sel) == 0 {
		sel = []kind{kLines, kWords, kBytes}
	}
	stdin := len(files) == 0
	if stdin {
		files = []string{"-"}
	}
	single := len(sel) == 1 && len(files) == 1
	var total [5]uint64
	status := 0
	printRow := func(c [5]uint64, name string) {
		var b strings.Builder
		for i, k := range sel {
			switch {
			case single:
				fmt.Fprintf(&b, "%d", c[k])
			case i == 0:
				fmt.Fprintf(&b, "%9d", c[k])
			default:
				fmt.Fprintf(&b, " %9d", c[k])
			}
		}
		if name != "" {
			b.WriteString(" " + name)
		}
		b.WriteString("\n")
		io.WriteString(p.Stdout, b.String())
	}
	for _, f := range files {
		r, err := openInput(p, f)
		if err != nil {
			perror(p, err, "%s", f)
			status = 1
			continue
		}
		data, _ := io.ReadAll(r)
		r.Close()
		var c [5]uint64
		c[kBytes] = uint64(len(data))
		c[kChars] = uint64(len([]rune(string(data))))
		c[kLines] = uint64(bytes.Count(data, []byte("\n")))
		c[kWords] = uint64(len(bytes.Fields(data)))
		for _, l := range bytes.Split(data, []byte("\n")) {
			c[kLongest] = max(c[kLongest], uint64(len(l)))
		}
		for i := range total {
			total[i] += c[i]
		}
		total[kLongest] = max(total[kLongest], c[kLongest])
		name := f
		if stdin {
			name = ""
		}
		printRow(c, name)
	}
	if len(files) > 1 {
		printRow(total, "total")
	}
	return status
}

func seq(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getoptFrom(p, p.Args[1:], "ws:", false) // "+ws:": options end at the first operand
	if !ok {
		return 1
	}
	if len(args) < 1 || len(args) > 3 {
		return showUsage(p)
	}
	nums := make([]float64, len(args))
	prec := 0
	for i, a := range args {
		v, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return showUsage(p)
		}
		nums[i] = v
		if dot := strings.IndexByte(a, '.'); dot >= 0 {
			prec = max(prec, len(a)-dot-1)
		}
	}
	first, inc, last := 1.0, 1.0, nums[len(nums)-1]
	switch len(nums) {
	case 2:
		first = nums[0]
	case 3:
		first, inc = nums[0], nums[1]
	}
	sep := "\n"
	if o.has('s') {
		sep = o.arg('s')
	}
	width := 0
	if o.has('w') {
		for _, v := range []float64{first, last} {
			width = max(width, len(strconv.FormatFloat(v, 'f', prec, 64)))
		}
	}
	var b strings.Builder
	n := 0
	for v := first; (inc >= 0 && v <= last) || (inc < 0 && v >= last); {
		if n > 0 {
			b.WriteString(sep)
		}
		fmt.Fprintf(&b, "%0*.*f", width, prec, v)
		n++
		v = first + float64(n)*inc
		if inc == 0 {
			break
		}
	}
	if n > 0 {
		b.WriteString("\n")
	}
	io.WriteString(p.Stdout, b.String())
	return 0
}

func md5sum(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, files, ok := getopt(p, "csw")
	if !ok {
		return 1
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	sum := func(name string) (string, error) {
		r, err := openInput(p, name)
		if err != nil {
			return "", err
		}
		defer r.Close()
		h := md5.New()
		if _, err := io.Copy(h, r); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	status := 0
	if !o.has('c') {
		for _, f := range files {
			s, err := sum(f)
			if err != nil {
				cantOpen(p, f, err)
				status = 1
				continue
			}
			fmt.Fprintf(p.Stdout, "%s  %s\n", s, f)
		}
		return status
	}
	for _, list := range files {
		r, err := openInput(p, list)
		if err != nil {
			cantOpen(p, list, err)
			return 1
		}
		sc := bufio.NewScanner(r)
		bad := 0
		for sc.Scan() {
			l := sc.Text()
			if len(l) < 34 || l[32] != ' ' {
				if o.has('w') {
					fmt.Fprintf(p.Stderr, "md5sum: invalid format\n")
				}
				continue
			}
			want, name := l[:32], l[34:]
			got, err := sum(name)
			if err != nil {
				cantOpen(p, name, err)
			}
			okf := err == nil && got == want
			if !okf {
				bad++
			}
			if !o.has('s') {
				res := "OK"
				if !okf {
					res = "FAILED"
				}
				fmt.Fprintf(p.Stdout, "%s: %s\n", name, res)
			}
		}
		r.Close()
		if bad > 0 {
			if !o.has('s') {
				fmt.Fprintf(p.Stderr, "md5sum: WARNING: %d of %d computed checksums did NOT match\n", bad, bad)
			}
			status = 1
		}
	}
	return status
}

func cmp(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, args, ok := getopt(p, "lsn:")
	if !ok {
		return 1
	}
	if len(args) < 1 || len(args) > 4 {
		return showUsage(p)
	}
	f1, f2 := args[0], "-"
	if len(args) > 1 {
		f2 = args[1]
	}
	var skip [2]uint64
	for i := 2; i < len(args); i++ {
		v, err := strconv.ParseUint(args[i], 0, 64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "cmp: invalid number '%s'\n", args[i])
			return 2
		}
		skip[i-2] = v
	}
	limit := uint64(math.MaxUint64)
	if o.has('n') {
		v, err := parseNumber(o.arg('n'), nil, 0, math.MaxUint64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "cmp: %v\n", err)
			return 2
		}
		limit = v
	}
	var rs [2]*bufio.Reader
	for i, name := range []string{f1, f2} {
		r, err := openInput(p, name)
		if err != nil {
			perror(p, err, "%s", name)
			return 2
		}
		defer r.Close()
		br := bufio.NewReader(r)
		io.CopyN(io.Discard, br, int64(skip[i]))
		rs[i] = br
	}
	names := [2]string{f1, f2}
	status := 0
	line := uint64(1)
	for pos := uint64(1); pos <= limit; pos++ {
		a, e1 := rs[0].ReadByte()
		b, e2 := rs[1].ReadByte()
		if e1 != nil || e2 != nil {
			if e1 != nil && e2 != nil {
				break
			}
			if !o.has('s') {
				eof := names[0]
				if e2 != nil {
					eof = names[1]
				}
				fmt.Fprintf(p.Stderr, "cmp: EOF on %s\n", eof)
			}
			return 1
		}
		if a != b {
			status = 1
			if o.has('s') {
				return 1
			}
			if o.has('l') {
				fmt.Fprintf(p.Stdout, "%d %o %o\n", pos, a, b)
				continue
			}
			fmt.Fprintf(p.Stdout, "%s %s differ: char %d, line %d\n", names[0], names[1], pos, line)
			return 1
		}
		if a == '\n' {
			line++
		}
	}
	return status
}

// parseDuration is busybox sleep/timeout's number: a decimal with an
// optional s, m, h or d suffix.
func parseDuration(s string) (time.Duration, bool) {
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 's':
			s = s[:n-1]
		case 'm':
			mult, s = 60, s[:n-1]
		case 'h':
			mult, s = 3600, s[:n-1]
		case 'd':
			mult, s = 86400, s[:n-1]
		}
	}
	if s == "" || strings.ContainsAny(s, "+- \t") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return time.Duration(v * mult * float64(time.Second)), true
}

// sleep waits in virtual time: the clock jumps to the end of the sleep as
// soon as nothing else can happen first.
func sleep(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	if len(p.Args) < 2 {
		return showUsage(p)
	}
	var total time.Duration
	for _, a := range p.Args[1:] {
		d, ok := parseDuration(a)
		if !ok {
			fmt.Fprintf(p.Stderr, "sleep: invalid number '%s'\n", a)
			return 1
		}
		total += d
	}
	if p.Kernel == nil {
		return 0
	}
	var err error
	p.Kcall(func() { err = p.Kernel.Clock.Sleep(p.Ctx, total) })
	if err != nil && p.Killed() {
		return p.KilledStatus()
	}
	return 0
}

// timeout runs PROG; when SECS of virtual time pass it is sent SIGTERM:
// its waits that a signal interrupts end at once and it exits with 143.
// Block I/O is uninterruptible, so a command stuck in the kernel dies only
// when its I/O completes.
func timeout(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	args := p.Args[1:]
	var optArgs []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		optArgs = append(optArgs, args[0])
		if (args[0] == "-s" || args[0] == "-k") && len(args) > 1 {
			optArgs = append(optArgs, args[1])
			args = args[1:]
		}
		args = args[1:]
	}
	o, _, ok := getoptFrom(p, optArgs, "s:k:", false)
	if !ok {
		return 1
	}
	if len(args) < 2 {
		return showUsage(p)
	}
	d, okd := parseDuration(args[0])
	if !okd {
		fmt.Fprintf(p.Stderr, "timeout: invalid number '%s'\n", args[0])
		return 1
	}
	sig := 15
	if o.has('s') {
		s, ok := signalNumber(o.arg('s'))
		if !ok {
			fmt.Fprintf(p.Stderr, "timeout: unknown signal '%s'\n", o.arg('s'))
			return 1
		}
		sig = s
	}
	if _, known := Lookup(args[1]); !known {
		fmt.Fprintf(p.Stderr, "timeout: can't execute '%s': No such file or directory\n", args[1])
		return 127
	}
	if p.Kernel == nil {
		return Run(p, args[1:])
	}
	ctx, cancel := p.Kernel.Clock.WithTimeout(p.Ctx, d)
	defer cancel()
	child := *p
	child.Ctx = ctx
	child.KillSignal = sig
	// timeout execs PROG in its own process: PROG's exit (or death) is
	// timeout's.
	st, signal := RunStatus(&child, args[1:])
	if signal != 0 {
		return Signaled(signal)
	}
	return st
}

var signalNames = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12,
	"PIPE": 13, "ALRM": 14, "TERM": 15}

func signalNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 65 {
		return n, true
	}
	n, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return n, ok
}

func truncateCmd(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	o, files, ok := getopt(p, "cs:")
	if !ok {
		return 1
	}
	if !o.has('s') || len(files) == 0 {
		return showUsage(p)
	}
	size, err := parseNumber(o.arg('s'), kMGSuffixes, 0, math.MaxInt64)
	if err != nil {
		fmt.Fprintf(p.Stderr, "truncate: %v\n", err)
		return 1
	}
	status := 0
	for _, f := range files {
		flag := O_WRONLY
		if !o.has('c') {
			flag |= O_CREATE
		}
		fh, err := p.OpenFile(f, flag, 0o666)
		if err != nil {
			if o.has('c') && linuxerr.ToErrno(err) == 2 {
				continue
			}
			cantOpen(p, f, err)
			status = 1
			continue
		}
		fi, _ := fh.Stat()
		fh.Close()
		if fi != nil && !fi.Mode().IsRegular() {
			if bf, ok := fh.(BlockFile); ok && bf != nil {
				continue
			}
		}
		if err := p.FS.Truncate(p.Abs(f), int64(size)); err != nil {
			fmt.Fprintf(p.Stderr, "truncate: %s: truncate: %s\n", f, linuxerr.Strerror(err))
			status = 1
		}
	}
	return status
}

func init() {
	register("tail", "print the last lines or bytes of files", tail, "-n", "-c", "-q", "-v")
}

// tail is busybox tail without -f.
func tail(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	args := p.Args[1:]
	if len(args) > 0 && len(args[0]) > 1 && (args[0][0] == '-' || args[0][0] == '+') && args[0][1] >= '0' && args[0][1] <= '9' {
		n := args[0][1:]
		if args[0][0] == '+' {
			n = "+" + n
		}
		args = append([]string{"-n", n}, args[1:]...)
	}
	o, files, ok := getoptFrom(p, args, "n:c:qvfFs:", true)
	if !ok {
		return 1
	}
	if o.has('f') || o.has('F') {
		fmt.Fprintf(p.Stderr, "dmsim: tail -f is not supported\n")
		return 1
	}
	count, bytesMode, fromStart, ok := headTailCount(p, "tail", o, '+')
	if !ok {
		return 1
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	headers := (len(files) > 1 && !o.has('q')) || o.has('v')
	status, opened := 0, 0
	for _, f := range files {
		r, err := openInput(p, f)
		if err != nil {
			cantOpen(p, f, err)
			status = 1
			continue
		}
		data, _ := io.ReadAll(r)
		r.Close()
		if headers {
			if opened > 0 {
				fmt.Fprintf(p.Stdout, "\n")
			}
			name := f
			if f == "-" {
				name = "standard input"
			}
			fmt.Fprintf(p.Stdout, "==> %s <==\n", name)
		}
		opened++
		var out []byte
		switch {
		case bytesMode && fromStart:
			if k := min(uint64(len(data)), max(count, 1)-1); k <= uint64(len(data)) {
				out = data[k:]
			}
		case bytesMode:
			out = data[uint64(len(data))-min(count, uint64(len(data))):]
		default:
			lines := bytes.SplitAfter(data, []byte("\n"))
			if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
				lines = lines[:len(lines)-1]
			}
			if fromStart {
				k := min(uint64(len(lines)), max(count, 1)-1)
				out = bytes.Join(lines[k:], nil)
			} else {
				out = bytes.Join(lines[uint64(len(lines))-min(count, uint64(len(lines))):], nil)
			}
		}
		if _, err := p.Stdout.Write(out); err != nil {
			return 1
		}
	}
	if opened == 0 && status != 0 {
		fmt.Fprintf(p.Stderr, "tail: no files\n")
	}
	return status
}

// headTailCount reads head's and tail's -n and then -c: a count with
// busybox's b/k/m suffixes, marked by a leading sign (head: '-', all but
// the last COUNT; tail: '+', from line or byte COUNT on, and a '-' is
// dropped). The last option read sets the count; -c selects bytes.
func headTailCount(p *Proc, name string, o opts, sign byte) (count uint64, bytesMode, signed, ok bool) {
	count = 10
	parse := func(s string) bool {
		switch {
		case s != "" && s[0] == sign:
			signed, s = true, s[1:]
		case sign == '+':
			s = strings.TrimPrefix(s, "-")
		}
		v, err := parseNumber(s, bkmSuffixes, 0, math.MaxUint64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "%s: %v\n", name, err)
			return false
		}
		count = v
		return true
	}
	if o.has('n') && !parse(o.arg('n')) {
		return 0, false, false, false
	}
	if o.has('c') {
		bytesMode = true
		if !parse(o.arg('c')) {
			return 0, false, false, false
		}
	}
	return count, bytesMode, signed, true
}
