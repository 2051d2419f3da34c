package busybox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("od", "dump files in octal and other formats (busybox)", od,
		"-A", "-t", "-N", "-j", "-v", "-w", "-a", "-b", "-c", "-d", "-f", "-h", "-i", "-l", "-o", "-s", "-x")
}

// odType is one output format (-t TYPE).
type odType struct {
	kind byte // a c d o u x f
	size int
}

func (t odType) width() int {
	switch t.kind {
	case 'a', 'c':
		return 4
	case 'f':
		if t.size == 4 {
			return 16
		}
		return 25
	}
	digits := map[byte]map[int]int{
		'x': {1: 2, 2: 4, 4: 8, 8: 16},
		'o': {1: 3, 2: 6, 4: 11, 8: 22},
		'u': {1: 3, 2: 5, 4: 10, 8: 20},
		'd': {1: 4, 2: 6, 4: 11, 8: 20},
	}
	return digits[t.kind][t.size] + 1
}

var odNames = [...]string{"nul", "soh", "stx", "etx", "eot", "enq", "ack", "bel", "bs", "ht", "nl",
	"vt", "ff", "cr", "so", "si", "dle", "dc1", "dc2", "dc3", "dc4", "nak", "syn", "etb", "can",
	"em", "sub", "esc", "fs", "gs", "rs", "us", "sp"}

func (t odType) format(b *strings.Builder, chunk []byte) {
	for off := 0; off < len(chunk); off += t.size {
		piece := chunk[off:min(off+t.size, len(chunk))]
		if len(piece) < t.size {
			pad := make([]byte, t.size)
			copy(pad, piece)
			piece = pad
		}
		w := t.width()
		switch t.kind {
		case 'c':
			c := piece[0]
			var s string
			switch c {
			case 0:
				s = `\0`
			case '\a':
				s = `\a`
			case '\b':
				s = `\b`
			case '\f':
				s = `\f`
			case '\n':
				s = `\n`
			case '\r':
				s = `\r`
			case '\t':
				s = `\t`
			case '\v':
				s = `\v`
			default:
				if c >= 32 && c < 127 {
					s = string(c)
				} else {
					s = fmt.Sprintf("%03o", c)
				}
			}
			fmt.Fprintf(b, "%*s", w, s)
		case 'a':
			c := piece[0] & 0x7f
			s := string(c)
			switch {
			case int(c) < len(odNames):
				s = odNames[c]
			case c == 127:
				s = "del"
			}
			fmt.Fprintf(b, "%*s", w, s)
		case 'f':
			var v float64
			if t.size == 4 {
				v = float64(math.Float32frombits(binary.LittleEndian.Uint32(piece)))
				fmt.Fprintf(b, " %15.7e", v)
			} else {
				v = math.Float64frombits(binary.LittleEndian.Uint64(piece))
				fmt.Fprintf(b, " %24.16e", v)
			}
		default:
			var u uint64
			switch t.size {
			case 1:
				u = uint64(piece[0])
			case 2:
				u = uint64(binary.LittleEndian.Uint16(piece))
			case 4:
				u = uint64(binary.LittleEndian.Uint32(piece))
			case 8:
				u = binary.LittleEndian.Uint64(piece)
			}
			digits := w - 1
			switch t.kind {
			case 'x':
				fmt.Fprintf(b, " %0*x", digits, u)
			case 'o':
				fmt.Fprintf(b, " %0*o", digits, u)
			case 'u':
				fmt.Fprintf(b, " %*d", digits, u)
			case 'd':
				var s int64
				switch t.size {
				case 1:
					s = int64(int8(u))
				case 2:
					s = int64(int16(u))
				case 4:
					s = int64(int32(u))
				default:
					s = int64(u)
				}
				fmt.Fprintf(b, " %*d", digits, s)
			}
		}
	}
}

// parseODType parses a -t argument into formats.
func parseODType(p *userland.Proc, s string) ([]odType, bool) {
	var out []odType
	orig := s
	for s != "" {
		k := s[0]
		s = s[1:]
		switch k {
		case 'a', 'c':
			out = append(out, odType{kind: k, size: 1})
			continue
		case 'd', 'o', 'u', 'x', 'f':
		default:
			fmt.Fprintf(p.Stderr, "od: invalid character '%c' in type string '%s'\n", k, orig)
			return nil, false
		}
		size := 4
		if k == 'f' {
			size = 8
		}
		if s != "" {
			switch s[0] {
			case 'C':
				size, s = 1, s[1:]
			case 'S':
				size, s = 2, s[1:]
			case 'I':
				size, s = 4, s[1:]
			case 'L':
				size, s = 8, s[1:]
			case 'F':
				size, s = 4, s[1:]
			case 'D':
				size, s = 8, s[1:]
			default:
				i := 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				if i > 0 {
					n, _ := strconv.Atoi(s[:i])
					s = s[i:]
					valid := n == 1 || n == 2 || n == 4 || n == 8
					if k == 'f' {
						valid = n == 4 || n == 8
					}
					if !valid {
						fmt.Fprintf(p.Stderr, "od: invalid type string '%s'; %d-byte %s type is not supported\n",
							orig, n, map[bool]string{true: "floating point", false: "integral"}[k == 'f'])
						return nil, false
					}
					size = n
				}
			}
		}
		out = append(out, odType{kind: k, size: size})
	}
	return out, true
}

// od is busybox's (coreutils-compatible) od.
func od(p *userland.Proc) int {
	o, files, ok := getopt(p, "A:N:abcdfhij:lot:vxsS:w::")
	if !ok {
		return 1
	}
	radix := byte('o')
	if o.has('A') {
		a := o.arg('A')
		if len(a) != 1 || !strings.ContainsRune("doxn", rune(a[0])) {
			fmt.Fprintf(p.Stderr, "od: bad output address radix '%s' (need d, o, x or n)\n", a)
			return 1
		}
		radix = a[0]
	}
	var types []odType
	// formats in command-line order
	for _, a := range p.Args[1:] {
		if len(a) < 2 || a[0] != '-' || a == "--" {
			continue
		}
		for _, c := range a[1:] {
			t, short := map[rune]odType{'a': {'a', 1}, 'b': {'o', 1}, 'c': {'c', 1}, 'd': {'u', 2},
				'f': {'f', 4}, 'h': {'x', 2}, 'x': {'x', 2}, 'i': {'d', 2}, 'l': {'d', 4},
				'o': {'o', 2}, 's': {'d', 2}}[c]
			if short {
				types = append(types, t)
			}
			if strings.ContainsRune("ANjtSw", c) {
				break
			}
		}
	}
	for _, ts := range o.all('t') {
		t, ok := parseODType(p, ts)
		if !ok {
			return 1
		}
		types = append(types, t...)
	}
	if len(types) == 0 {
		types = []odType{{'o', 2}}
	}
	width := 16
	if o.has('w') {
		width = 32
		if a := o.arg('w'); a != "" {
			n, err := strconv.Atoi(a)
			if err != nil || n <= 0 {
				fmt.Fprintf(p.Stderr, "od: invalid number '%s'\n", a)
				return 1
			}
			width = n
		}
	}
	var skip, limit uint64
	limit = math.MaxUint64
	if o.has('j') {
		v, err := parseNumber(o.arg('j'), cwbkMGSuffixes, 0, math.MaxUint64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "od: %v\n", err)
			return 1
		}
		skip = v
	}
	if o.has('N') {
		v, err := parseNumber(o.arg('N'), cwbkMGSuffixes, 0, math.MaxUint64)
		if err != nil {
			fmt.Fprintf(p.Stderr, "od: %v\n", err)
			return 1
		}
		limit = v
	}
	files = orStdin(files)
	var readers []io.Reader
	status := 0
	for _, f := range files {
		r, ok := openOrWarn(p, f)
		if !ok {
			status = 1
			continue
		}
		defer r.Close()
		readers = append(readers, r)
	}
	in := io.MultiReader(readers...)
	if skip > 0 {
		if n, _ := io.CopyN(io.Discard, in, int64(skip)); uint64(n) < skip {
			fmt.Fprintf(p.Stderr, "od: can't skip past end of combined input\n")
			return 1
		}
	}
	if limit != math.MaxUint64 {
		in = io.LimitReader(in, int64(limit))
	}
	offFmt := func(off uint64) string {
		switch radix {
		case 'd':
			return fmt.Sprintf("%07d", off)
		case 'x':
			return fmt.Sprintf("%06x", off)
		case 'n':
			return ""
		}
		return fmt.Sprintf("%07o", off)
	}
	pad := len(offFmt(0))
	var prev []byte
	star := false
	off := skip
	buf := make([]byte, width)
	var out strings.Builder
	for {
		n, _ := io.ReadFull(in, buf)
		if n == 0 {
			break
		}
		chunk := buf[:n]
		if !o.has('v') && prev != nil && n == width && bytes.Equal(chunk, prev) {
			if !star {
				out.WriteString("*\n")
				star = true
			}
		} else {
			star = false
			for i, t := range types {
				if i == 0 {
					out.WriteString(offFmt(off))
				} else {
					out.WriteString(strings.Repeat(" ", pad))
				}
				t.format(&out, chunk)
				out.WriteString("\n")
			}
		}
		prev = append(prev[:0], chunk...)
		off += uint64(n)
		if out.Len() > 1<<16 {
			if _, err := io.WriteString(p.Stdout, out.String()); err != nil {
				return 1
			}
			out.Reset()
		}
		if n < width {
			break
		}
	}
	if radix != 'n' {
		out.WriteString(offFmt(off) + "\n")
	}
	if _, err := io.WriteString(p.Stdout, out.String()); err != nil {
		return 1
	}
	return status
}
