package busybox

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("cut", "print selected fields", cut, "-d", "-f", "-b", "-c", "-s")
}

// cutRanges parses a LIST for cut (1-based, "N", "N-", "-M", "N-M").
func cutRanges(p *userland.Proc, list string) ([][2]int, bool) {
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

// cut is busybox cut: the bytes, characters or fields of each line.
func cut(p *userland.Proc) int {
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
	files = orStdin(files)
	status := 0
	for _, f := range files {
		r, ok := fopenOrWarn(p, f)
		if !ok {
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
