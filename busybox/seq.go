package busybox

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("seq", "print a sequence of numbers", seq, "-w", "-s")
}

// seq is busybox seq: FIRST, INCREMENT and LAST may be fractions.
func seq(p *userland.Proc) int {
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
