// Package busybox holds the busybox 1.35 applets the scenario scripts use:
// the block-device tools (dd, blkdiscard, blockdev, losetup), the kernel's
// (modprobe, dmesg, sync), the text tools (cat, head, tail, od, grep, cut,
// tr, sed, wc, md5sum, cmp, seq, yes, truncate), mkdir and ln (which make
// directories and symlinks in devtmpfs), sleep and timeout in
// virtual time, and ash's builtins echo, printf, true and false.
//
// Each applet lives in a file of its own and registers itself with
// userland's command registry from init(), as targets register with the
// core: userland, the process model the applets run in, names none of
// them. A program that runs scripts imports this package (blank) for its
// applets.
package busybox

import (
	"embed"
	"fmt"
	"io"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

//go:embed usage/*.txt
var usageFS embed.FS

// bbVersion is the banner busybox prints above usage text.
const bbVersion = "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary."

// shellName is the name ash's builtins report errors under.
const shellName = "sh"

// usageText returns an applet's usage (banner included).
func usageText(name string) string {
	b, err := usageFS.ReadFile("usage/" + name + ".txt")
	if err != nil {
		return bbVersion + "\n\nUsage: " + name + "\n"
	}
	return string(b)
}

// showUsage is bb_show_usage: usage on stderr, exit 1.
func showUsage(p *userland.Proc) int {
	io.WriteString(p.Stderr, usageText(p.Args[0]))
	return 1
}

// applet registers a busybox applet. "APPLET --help" prints its usage on
// stderr and exits 0 before run sees the arguments (appletlib's
// run_applet_no_and_exit).
func applet(name, summary string, run func(p *userland.Proc) int, options ...string) {
	builtin(name, summary, func(p *userland.Proc) int {
		if len(p.Args) == 2 && p.Args[1] == "--help" {
			io.WriteString(p.Stderr, usageText(p.Args[0]))
			return 0
		}
		return run(p)
	}, options...)
}

// builtin registers a command that takes "--help" as an ordinary argument
// (ash's builtins, yes).
func builtin(name, summary string, run func(p *userland.Proc) int, options ...string) {
	userland.Register(&userland.Command{Name: name, Run: run, Summary: summary, Options: options})
}

// orStdin is the operand list of an applet reading files: standard input
// ("-") when there is none.
func orStdin(files []string) []string {
	if len(files) == 0 {
		return []string{"-"}
	}
	return files
}

// perror prints "APPLET: text: strerror" (bb_perror_msg).
func perror(p *userland.Proc, err error, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(p.Stderr, "%s: %s: %s\n", p.Args[0], msg, linuxerr.Strerror(err))
}

// cantOpen prints busybox's "can't open 'NAME': strerror".
func cantOpen(p *userland.Proc, name string, err error) {
	fmt.Fprintf(p.Stderr, "%s: can't open '%s': %s\n", p.Args[0], name, linuxerr.Strerror(err))
}

// openOrWarn opens a file operand, or says "can't open 'NAME': strerror"
// (libbb's open_or_warn).
func openOrWarn(p *userland.Proc, name string) (io.ReadCloser, bool) {
	r, err := openInput(p, name)
	if err != nil {
		cantOpen(p, name, err)
		return nil, false
	}
	return r, true
}

// fopenOrWarn opens a file operand, or says "APPLET: NAME: strerror"
// (libbb's fopen_or_warn_stdin).
func fopenOrWarn(p *userland.Proc, name string) (io.ReadCloser, bool) {
	r, err := openInput(p, name)
	if err != nil {
		perror(p, err, "%s", name)
		return nil, false
	}
	return r, true
}

// openInput opens a file operand ("-" is standard input).
func openInput(p *userland.Proc, name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(p.Stdin), nil
	}
	f, err := p.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}
