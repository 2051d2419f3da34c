package busybox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("head", "print the first lines or bytes of files", head, "-n", "-c", "-q", "-v")
}

// head is busybox head: the first lines or bytes of each file, or all but
// the last with a negative count.
func head(p *userland.Proc) int {
	o, files, ok := getoptFrom(p, oldCountForm(p.Args[1:], "-"), "n:c:qv", true)
	if !ok {
		return 1
	}
	count, bytesMode, allBut, ok := headTailCount(p, "head", o, '-')
	if !ok {
		return 1
	}
	files = orStdin(files)
	headers := (len(files) > 1 && !o.has('q')) || o.has('v')
	status := 0
	for i, f := range files {
		r, ok := fopenOrWarn(p, f)
		if !ok {
			status = 1
			continue
		}
		if headers {
			fileHeader(p.Stdout, f, i == 0)
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

// oldCountForm rewrites the old form of head's and tail's count, "-NUM"
// (and for tail "+NUM", signs lists the signs), as "-n NUM" ("-n +NUM").
func oldCountForm(args []string, signs string) []string {
	if len(args) == 0 || len(args[0]) < 2 || strings.IndexByte(signs, args[0][0]) < 0 ||
		args[0][1] < '0' || args[0][1] > '9' {
		return args
	}
	n := args[0][1:]
	if args[0][0] == '+' {
		n = "+" + n
	}
	return append([]string{"-n", n}, args[1:]...)
}

// fileHeader prints the "==> NAME <==" line head and tail put above each
// file when they print several, after a blank line but for the first.
func fileHeader(w io.Writer, name string, first bool) {
	if !first {
		fmt.Fprintf(w, "\n")
	}
	if name == "-" {
		name = "standard input"
	}
	fmt.Fprintf(w, "==> %s <==\n", name)
}

// headTailCount reads head's and tail's -n and then -c: a count with
// busybox's b/k/m suffixes, marked by a leading sign (head: '-', all but
// the last COUNT; tail: '+', from line or byte COUNT on, and a '-' is
// dropped). The last option read sets the count; -c selects bytes.
func headTailCount(p *userland.Proc, name string, o opts, sign byte) (count uint64, bytesMode, signed, ok bool) {
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
