package busybox

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	builtin("printf", "format and print arguments (busybox/ash builtin)", printfCmd)
}

// printfCmd is busybox printf (ash's builtin).
func printfCmd(p *userland.Proc) int {
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
func printfOnce(p *userland.Proc, out *bytes.Buffer, format string, args *[]string, status *int) (used int, stop, ok bool) {
	next := func() (string, bool) {
		if len(*args) == 0 {
			return "", false
		}
		a := (*args)[0]
		*args = (*args)[1:]
		used++
		return a, true
	}
	// number copies the field width or precision at format[i] to spec:
	// digits, or "*" for the next argument's value.
	number := func(i int, spec string) (int, string) {
		if i < len(format) && format[i] == '*' {
			a, _ := next()
			return i + 1, spec + strconv.FormatInt(printfInt(p, a, status), 10)
		}
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			spec += string(format[i])
			i++
		}
		return i, spec
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
		i, spec = number(i, spec)
		if i < len(format) && format[i] == '.' {
			i, spec = number(i+1, spec+".")
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
func printfInt(p *userland.Proc, a string, status *int) int64 {
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
