package busybox

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("mkdir", "make directories", mkdirCmd, "-m", "-p", "-v")
}

// mkdirCmd is busybox mkdir (coreutils/mkdir.c): each operand is made by
// makeDirectory; -m's mode is checked, not applied (dmsim keeps no
// permissions).
func mkdirCmd(p *userland.Proc) int {
	o, dirs, ok := getopt(p, "m:pv")
	if !ok {
		return 1
	}
	if o.has('m') && !validMode(o.arg('m')) {
		fmt.Fprintf(p.Stderr, "mkdir: invalid mode '%s'\n", o.arg('m'))
		return 1
	}
	if len(dirs) == 0 {
		return showUsage(p)
	}
	status := 0
	for _, d := range dirs {
		if !makeDirectory(p, d, o.has('p'), o.has('v')) {
			status = 1
		}
	}
	return status
}

// makeDirectory is bb_make_directory(): with parents, mkdir(2) of every
// prefix of the path up to and including each run of slashes (an existing
// directory is fine), then of the whole path. A failure names the prefix
// that failed, as it was cut.
func makeDirectory(p *userland.Proc, dir string, parents, verbose bool) bool {
	if dir == "/" || dir == "." {
		return true
	}
	var steps []string
	if parents {
		for i := 0; i < len(dir); i++ {
			if dir[i] != '/' {
				continue
			}
			for i < len(dir) && dir[i] == '/' {
				i++
			}
			if i < len(dir) {
				steps = append(steps, dir[:i])
			}
		}
	}
	steps = append(steps, dir)
	for _, s := range steps {
		err := p.Mkdir(s)
		if err == nil {
			if verbose {
				fmt.Fprintf(p.Stdout, "created directory: '%s'\n", s)
			}
			continue
		}
		e := linuxerr.ToErrno(err)
		if parents && (e == linuxerr.EEXIST || e == linuxerr.EISDIR) {
			// the stat's errno is the one reported
			fi, serr := p.Stat(s)
			switch {
			case serr != nil:
				err = serr
			case fi.IsDir():
				continue
			case strings.HasSuffix(s, "/"):
				err = linuxerr.ENOTDIR // a trailing slash wants a directory
			}
		}
		perror(p, err, "can't create directory '%s'", s)
		return false
	}
	return true
}

// validMode is what bb_parse_mode() accepts: an octal number up to 07777,
// or symbolic clauses ([ugoa]*[-+=][rwxXst]* or [ugo]), comma-separated.
func validMode(m string) bool {
	if m == "" {
		return false
	}
	if m[0] >= '0' && m[0] <= '7' {
		v := 0
		for _, c := range m {
			if c < '0' || c > '7' {
				return false
			}
			if v = v*8 + int(c-'0'); v > 0o7777 {
				return false
			}
		}
		return true
	}
	for _, clause := range strings.Split(m, ",") {
		rest := strings.TrimLeft(clause, "ugoa")
		if rest == "" {
			return false
		}
		for rest != "" {
			if !strings.ContainsRune("+-=", rune(rest[0])) {
				return false
			}
			rest = rest[1:]
			if rest != "" && strings.ContainsRune("ugo", rune(rest[0])) {
				rest = rest[1:]
				continue
			}
			rest = strings.TrimLeft(rest, "rwxXst")
		}
	}
	return true
}
