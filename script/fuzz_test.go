package script

import (
	"strings"
	"testing"
)

// FuzzParse: any input either parses or is refused with an error; a parse
// keeps every non-blank logical line, commands keep their text, and disks
// get consecutive device names.
func FuzzParse(f *testing.F) {
	f.Add("# disk: meta 4M\n# disk: data 64M\ndmsetup ls\n@true\n# reboot\necho a \\\nb\n")
	f.Add("# disk: a 1M nodiscard\n\n  # c\r\nx=1\\")
	f.Add("\\\n\\\n# disk: b 2G")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse("f", []byte(src))
		if err != nil {
			return
		}
		lines, starts := LogicalLines([]byte(src))
		if len(lines) != len(starts) {
			t.Fatalf("%d lines, %d starts", len(lines), len(starts))
		}
		n := 0
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				n++
			}
		}
		if n != len(s.Items) {
			t.Fatalf("%d non-blank logical lines, %d items", n, len(s.Items))
		}
		for i, d := range s.Disks {
			if d.Dev != "/dev/vd"+string(rune('a'+i)) || d.Size <= 0 {
				t.Fatalf("disk %d: %+v", i, d)
			}
		}
		for _, it := range s.Items {
			if it.Kind == Command && it.Silent != strings.HasPrefix(it.Text, "@") {
				t.Fatalf("silent flag wrong: %+v", it)
			}
			if it.Kind == Command && it.Cmd != strings.TrimPrefix(it.Text, "@") {
				t.Fatalf("command text wrong: %+v", it)
			}
		}
	})
}

// FuzzTranscriptLines: SplitLines and FormatCommand keep every byte of
// output, one "| " or "! " line per output line.
func FuzzTranscriptLines(f *testing.F) {
	f.Add("a\nb", "err\n", 0)
	f.Add("", "", 3)
	f.Add("\n\n", "x", 255)
	f.Fuzz(func(t *testing.T, out, errs string, status int) {
		var b strings.Builder
		FormatCommand(&b, Item{Kind: Command, Cmd: "c"}, CmdResult{Stdout: []byte(out), Stderr: []byte(errs), Status: status})
		tr := b.String()
		var gotOut, gotErr []string
		for _, l := range strings.Split(strings.TrimSuffix(tr, "\n"), "\n")[1:] {
			switch {
			case strings.HasPrefix(l, "| "):
				gotOut = append(gotOut, l[2:])
			case strings.HasPrefix(l, "! "):
				gotErr = append(gotErr, l[2:])
			}
		}
		if strings.Contains(out, "\n! ") || strings.Contains(errs, "\n| ") || strings.HasPrefix(out, "! ") ||
			strings.HasPrefix(errs, "| ") || strings.Contains(out+errs, "\n[exit") || strings.Contains(out+errs, "\n$ ") {
			return // output that imitates transcript markup
		}
		join := func(ls []string) string {
			if len(ls) == 0 {
				return ""
			}
			return strings.Join(ls, "\n") + "\n"
		}
		if w := out; w != "" && !strings.HasSuffix(w, "\n") {
			out = w + "\n"
		}
		if w := errs; w != "" && !strings.HasSuffix(w, "\n") {
			errs = w + "\n"
		}
		if join(gotOut) != out || join(gotErr) != errs {
			t.Fatalf("lost output: %q", tr)
		}
	})
}
