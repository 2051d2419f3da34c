package recorder

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/scenario"
)

// Cross-check scenarios (scripts/crosscheck/NAME.sh) are ordinary scenario scripts with at least
// one `# reboot`. The part before the first `# reboot` (the build half) runs in dmsim, which
// writes the disk images; the rest (the reopen half) then runs twice on copies of those images:
// on the real kernel under qemu and in dmsim. The two transcripts of the reopen half must be
// identical (but for `# env:` lines): the kernel accepts the pool dmsim built and reports the same
// status lines, tool output and data as dmsim does.

// SplitHalves splits a cross-check script at its first `# reboot` line. The build half is every
// line before it. The reopen half is the script's header (the lines before its first command:
// the description and the `# disk:` lines) followed by every line after the `# reboot`, so that
// it declares the same disks.
func SplitHalves(name string, src []byte) (build, reopen []byte, err error) {
	s, err := scenario.Parse(name, src)
	if err != nil {
		return nil, nil, err
	}
	reboot, first := 0, 0
	for _, it := range s.Items {
		if it.Kind == scenario.Command && first == 0 {
			first = it.Line
		}
		if it.Kind == scenario.Reboot {
			reboot = it.Line
			break
		}
	}
	if reboot == 0 {
		return nil, nil, fmt.Errorf("%s: no `# reboot` line: a cross-check script needs a build half and a reopen half", name)
	}
	if first == 0 || first > reboot {
		return nil, nil, fmt.Errorf("%s: no command before the first `# reboot`", name)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	join := func(ls []string) []byte {
		if len(ls) == 0 {
			return nil
		}
		return []byte(strings.Join(ls, "\n") + "\n")
	}
	build = join(lines[:reboot-1])
	reopen = join(append(append([]string{}, lines[:first-1]...), lines[reboot:]...))
	return build, reopen, nil
}

// CompareLines returns a transcript without its `# env:` lines: what two transcripts of the same
// script must agree on.
func CompareLines(transcript string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(transcript, "\n") {
		if !strings.HasPrefix(l, "# env:") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// StatusLines returns the output lines (`| ...`) of every `dmsetup status` command of a
// transcript, each prefixed by its command line.
func StatusLines(transcript string) []string {
	var out []string
	cmd := ""
	for _, l := range strings.Split(transcript, "\n") {
		switch {
		case strings.HasPrefix(l, "$ "):
			cmd = ""
			if strings.HasPrefix(l, "$ dmsetup status") {
				cmd = l[2:]
			}
		case cmd != "" && strings.HasPrefix(l, "| "):
			out = append(out, cmd+": "+l[2:])
		}
	}
	return out
}
