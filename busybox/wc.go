package busybox

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("wc", "count lines, words and bytes", wc, "-c", "-l", "-w", "-m", "-L")
}

// wc is busybox wc: lines, words and bytes, or the counts the options
// select.
func wc(p *userland.Proc) int {
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
		r, ok := fopenOrWarn(p, f)
		if !ok {
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
