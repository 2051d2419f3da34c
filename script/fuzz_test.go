package script

import (
	"strings"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

// FuzzTranscriptLines: SplitLines and FormatCommand keep every byte of
// output, one "| " or "! " line per output line.
func FuzzTranscriptLines(f *testing.F) {
	f.Add("a\nb", "err\n", 0)
	f.Add("", "", 3)
	f.Add("\n\n", "x", 255)
	f.Fuzz(func(t *testing.T, out, errs string, status int) {
		var b strings.Builder
		FormatCommand(&b, scenario.Item{Kind: scenario.Command, Cmd: "c"}, Result{Stdout: []byte(out), Stderr: []byte(errs), Status: status})
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
