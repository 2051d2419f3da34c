package busybox

import (
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("ln", "make links", lnCmd, "-s", "-f", "-n", "-T", "-v")
}

// lnCmd is busybox ln (coreutils/ln.c) with -s, -f, -n, -T and -v: a link
// into LINK when it is a directory (-n and -T do not follow a symlink to
// one), -f unlinks first. dmsim has no hard links (link(2) is EPERM), nor
// -b/-S backups.
func lnCmd(p *userland.Proc) int {
	o, args, ok := getopt(p, "sfnvT")
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return showUsage(p)
	}
	if o.has('T') && len(args) > 2 {
		io.WriteString(p.Stderr, "ln: -T accepts 2 args max\n")
		return 1
	}
	last := args[len(args)-1]
	targets := args[:len(args)-1]
	if len(args) == 1 {
		targets = args
		last = lastComponentStrip(last)
	}
	status := 0
	for _, target := range targets {
		src := last
		if isDirectory(p, src, !o.has('n') && !o.has('T')) {
			if o.has('T') {
				fmt.Fprintf(p.Stderr, "ln: '%s' is a directory\n", src)
				return 1
			}
			src = concatPathFile(src, lastComponentStrip(target))
		}
		if !o.has('s') {
			// a dangling symlink may be hard-linked
			if _, err := p.Stat(target); err != nil {
				fi, lerr := p.Lstat(target)
				if lerr != nil {
					err = lerr
				}
				if lerr != nil || fi.Mode()&fs.ModeSymlink == 0 {
					perror(p, err, "%s", target)
					status = 1
					continue
				}
			}
		}
		if o.has('f') {
			_ = p.Unlink(src)
		}
		if o.has('v') {
			fmt.Fprintf(p.Stdout, "'%s' -> '%s'\n", src, target)
		}
		var err error
		if o.has('s') {
			err = p.Symlink(target, src)
		} else {
			err = linuxerr.EPERM // no hard links in dmsim's file systems
		}
		if err != nil {
			perror(p, err, "%s", src)
			status = 1
		}
	}
	return status
}

// isDirectory is is_directory(): stat (or lstat) says S_ISDIR.
func isDirectory(p *userland.Proc, name string, follow bool) bool {
	stat := p.Stat
	if !follow {
		stat = p.Lstat
	}
	fi, err := stat(name)
	return err == nil && fi.IsDir()
}

// lastComponentStrip is bb_get_last_path_component_strip(): the last
// component, trailing slashes dropped ("/" stays "/").
func lastComponentStrip(s string) string {
	t := strings.TrimRight(s, "/")
	if t == "" {
		if s == "" {
			return ""
		}
		return "/"
	}
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// concatPathFile is concat_path_file(): dir and file joined by one slash
// (none added when dir ends in one; file's leading slashes dropped).
func concatPathFile(dir, file string) string {
	file = strings.TrimLeft(file, "/")
	if strings.HasSuffix(dir, "/") {
		return dir + file
	}
	return dir + "/" + file
}
