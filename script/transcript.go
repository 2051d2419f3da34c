package script

import (
	"fmt"
	"io"
	"strings"

	"github.com/dmsim/dmsim/scenario"
)

// SplitLines splits output into transcript lines: a last line without a
// newline still counts, and empty output has no lines.
func SplitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// FormatCommand writes one command's transcript entry. Silent commands
// that succeeded print nothing.
func FormatCommand(w io.Writer, it scenario.Item, r Result) {
	if it.Silent && r.Status == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("$ " + it.Cmd + "\n")
	for _, l := range SplitLines(r.Stdout) {
		b.WriteString("| " + l + "\n")
	}
	for _, l := range SplitLines(r.Stderr) {
		b.WriteString("! " + l + "\n")
	}
	for _, l := range r.Kmsg {
		b.WriteString("k " + l.String() + "\n")
	}
	fmt.Fprintf(&b, "[exit %d]\n", r.Status)
	io.WriteString(w, b.String())
}

// StripEnv drops the `# env:` lines, which transcripts are compared without.
func StripEnv(transcript string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(transcript, "\n") {
		if strings.HasPrefix(l, "# env:") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
