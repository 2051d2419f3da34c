package busybox

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("md5sum", "print or check MD5 checksums", md5sum, "-c", "-s", "-w")
}

// md5sum is busybox md5sum: print the sums, or check them (-c).
func md5sum(p *userland.Proc) int {
	o, files, ok := getopt(p, "csw")
	if !ok {
		return 1
	}
	files = orStdin(files)
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
		r, ok := openOrWarn(p, list)
		if !ok {
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
