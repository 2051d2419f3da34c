package busybox

import (
	"bufio"
	"fmt"
	"io"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("cat", "print files", cat, "-n", "-b", "-v", "-t", "-e", "-A")
}

// cat is busybox cat (-n and -b number the lines).
func cat(p *userland.Proc) int {
	o, files, ok := getopt(p, "nbvteAu")
	if !ok {
		return 1
	}
	files = orStdin(files)
	number := o.has('n') || o.has('b')
	status := 0
	line := 1
	for _, f := range files {
		r, ok := openOrWarn(p, f)
		if !ok {
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
