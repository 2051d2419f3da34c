package busybox

import (
	"bytes"
	"fmt"
	"io"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("tail", "print the last lines or bytes of files", tail, "-n", "-c", "-q", "-v")
}

// tail is busybox tail without -f.
func tail(p *userland.Proc) int {
	o, files, ok := getoptFrom(p, oldCountForm(p.Args[1:], "-+"), "n:c:qvfFs:", true)
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
	files = orStdin(files)
	headers := (len(files) > 1 && !o.has('q')) || o.has('v')
	status, opened := 0, 0
	for _, f := range files {
		r, ok := openOrWarn(p, f)
		if !ok {
			status = 1
			continue
		}
		data, _ := io.ReadAll(r)
		r.Close()
		if headers {
			fileHeader(p.Stdout, f, opened == 0)
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
