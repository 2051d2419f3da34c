package busybox

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("cmp", "compare two files", cmp, "-l", "-s", "-n")
}

// cmp is busybox cmp: the first difference, every one with -l, none with
// -s.
func cmp(p *userland.Proc) int {
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
