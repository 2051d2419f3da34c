package dmsim

import (
	"strings"
	"testing"
)

// A record whose text does not fit is cut and stays unread until the next
// printk finalizes it.
func TestPrintkLongLine(t *testing.T) {
	cases := []struct {
		name     string
		n        int
		cut      bool
		wantText int
	}{
		{"fits", logTextMax - 1, false, logTextMax - 1},
		{"newline lost", logTextMax, true, logTextMax},
		{"cut", 5000, true, logTextMax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l KernelLog
			l.Printk(KernWarning, "%s", strings.Repeat("m", c.n))
			got := l.ReadClear()
			if c.cut != (len(got) == 0) {
				t.Fatalf("after the long line: %d lines visible, cut=%v", len(got), c.cut)
			}
			l.Printk(KernErr, "next")
			got = append(got, l.ReadClear()...)
			if len(got) != 2 || len(got[0].Text) != c.wantText || got[0].Level != KernWarning || got[1].Text != "next" {
				t.Fatalf("lines %d, first %d bytes, want 2 and %d", len(got), len(got[0].Text), c.wantText)
			}
		})
	}
}
