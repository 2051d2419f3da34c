package faultsweep

import (
	"regexp"
	"strings"
)

// block is one transcript entry: a command with its output, or a comment.
type block struct {
	lines []string
}

func (b block) text() string { return strings.Join(b.lines, "\n") }

// blocks splits a transcript into entries: a comment line alone, or a
// command from its "$ " line to its "[exit N]" line.
func blocks(tr string) []block {
	var out []block
	var cur *block
	for _, l := range strings.Split(strings.TrimSuffix(tr, "\n"), "\n") {
		if cur == nil {
			if !strings.HasPrefix(l, "$ ") {
				out = append(out, block{[]string{l}})
				continue
			}
			cur = &block{}
		}
		cur.lines = append(cur.lines, l)
		if strings.HasPrefix(l, "[exit ") {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// reported reports whether a command's entry in the faulted run shows an
// error its baseline entry did not: a new stderr or kernel log line, or
// another exit status.
func reported(base, got block) bool {
	have := map[string]int{}
	var baseExit, gotExit string
	for _, l := range base.lines {
		have[l]++
		if strings.HasPrefix(l, "[exit ") {
			baseExit = l
		}
	}
	for _, l := range got.lines {
		if strings.HasPrefix(l, "[exit ") {
			gotExit = l
		}
		if strings.HasPrefix(l, "! ") || strings.HasPrefix(l, "k ") {
			if have[l] == 0 {
				return true
			}
			have[l]--
		}
	}
	return baseExit != gotExit
}

var ctrRefusal = regexp.MustCompile(`^k <3>device-mapper: table: [0-9]+:[0-9]+: [a-z-]+: `)

// Classify puts a faulted run's transcript (got) in a class by comparing
// it with the fault-free one (base); for Unclassified, detail is the first
// entry whose output changed. The most severe effect anywhere after the
// first change decides: fail mode, then metadata_operation_failed(), then
// a refused table, then a reported error.
func Classify(base, got string) (Class, string) {
	if base == got {
		return Masked, ""
	}
	bb, gb := blocks(base), blocks(got)
	first := 0
	for first < len(bb) && first < len(gb) && bb[first].text() == gb[first].text() {
		first++
	}
	if first >= len(gb) {
		return Unclassified, "the run ended early"
	}
	after := joinBlocks(gb[first:])
	switch {
	case strings.Contains(after, ": switching pool to fail mode"):
		return Fail, ""
	case strings.Contains(after, ": aborting current metadata transaction"):
		return ReadOnly, ""
	}
	refused := false
	for _, l := range strings.Split(after, "\n") {
		if ctrRefusal.MatchString(l) && !strings.Contains(base, l) {
			refused = true
		}
	}
	if refused {
		return Refused, ""
	}
	var b block
	if first < len(bb) {
		b = bb[first]
	}
	if reported(b, gb[first]) {
		return EIO, ""
	}
	return Unclassified, gb[first].text()
}

func joinBlocks(bs []block) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.text())
	}
	return strings.Join(s, "\n") + "\n"
}
