package busybox

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("grep", "search for a pattern (common forms)", grep,
		"-q", "-v", "-c", "-i", "-E", "-F", "-o", "-w", "-x", "-n", "-l", "-L", "-h", "-H", "-s", "-e")
}

func compileRE(pattern string, extended, fixed, icase, word, line bool) (*regexp.Regexp, error) {
	var re string
	switch {
	case fixed:
		re = regexp.QuoteMeta(pattern)
	case extended:
		re = pattern
	default:
		re = breToGo(pattern)
	}
	if word {
		re = `(?:^|\b)(?:` + re + `)(?:\b|$)`
	}
	if line {
		re = `^(?:` + re + `)$`
	}
	if icase {
		re = `(?i)` + re
	}
	return regexp.Compile(re)
}

// grep is busybox grep, its common forms (no context lines).
func grep(p *userland.Proc) int {
	o, args, ok := getopt(p, "qvciEFowxnlLhHsre:f:m:A:B:C:z")
	if !ok {
		return 2
	}
	var patterns []string
	patterns = append(patterns, o.all('e')...)
	for _, f := range o.all('f') {
		r, ok := openOrWarn(p, f)
		if !ok {
			return 2
		}
		data, _ := io.ReadAll(r)
		r.Close()
		patterns = append(patterns, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	if !o.has('e') && !o.has('f') {
		if len(args) == 0 {
			return showUsage(p)
		}
		patterns = append(patterns, strings.Split(args[0], "\n")...)
		args = args[1:]
	}
	var res []*regexp.Regexp
	for _, pat := range patterns {
		re, err := compileRE(pat, o.has('E'), o.has('F'), o.has('i'), o.has('w'), o.has('x'))
		if err != nil {
			fmt.Fprintf(p.Stderr, "grep: bad regex '%s'\n", pat)
			return 2
		}
		res = append(res, re)
	}
	files := orStdin(args)
	prefix := len(files) > 1
	if o.has('h') {
		prefix = false
	}
	if o.has('H') {
		prefix = true
	}
	maxCount := -1
	if o.has('m') {
		maxCount, _ = strconv.Atoi(o.arg('m'))
	}
	found := false
	status := 1
	for _, f := range files {
		r, err := openInput(p, f)
		name := f
		if f == "-" {
			name = "(standard input)"
		}
		if err != nil {
			if !o.has('s') {
				perror(p, err, "%s", f)
			}
			status = 2
			continue
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<26)
		count, lineNo := 0, 0
		for sc.Scan() {
			lineNo++
			line := sc.Text()
			match := false
			for _, re := range res {
				if re.MatchString(line) {
					match = true
					break
				}
			}
			if match == o.has('v') {
				continue
			}
			count++
			found = true
			if o.has('q') {
				r.Close()
				return 0
			}
			if o.has('l') || o.has('L') || o.has('c') {
				if maxCount >= 0 && count >= maxCount {
					break
				}
				continue
			}
			pre := ""
			if prefix {
				pre = name + ":"
			}
			if o.has('n') {
				pre += strconv.Itoa(lineNo) + ":"
			}
			if o.has('o') && !o.has('v') {
				for _, re := range res {
					for _, m := range re.FindAllString(line, -1) {
						if m != "" {
							fmt.Fprintf(p.Stdout, "%s%s\n", pre, m)
						}
					}
				}
			} else {
				fmt.Fprintf(p.Stdout, "%s%s\n", pre, line)
			}
			if maxCount >= 0 && count >= maxCount {
				break
			}
		}
		r.Close()
		switch {
		case o.has('c'):
			if prefix {
				fmt.Fprintf(p.Stdout, "%s:%d\n", name, count)
			} else {
				fmt.Fprintf(p.Stdout, "%d\n", count)
			}
		case o.has('l') && count > 0:
			fmt.Fprintf(p.Stdout, "%s\n", name)
		case o.has('L') && count == 0:
			fmt.Fprintf(p.Stdout, "%s\n", name)
		}
	}
	if status == 2 && !o.has('s') {
		if found {
			return 0
		}
		return 2
	}
	if found {
		return 0
	}
	return status
}
