package script

import (
	"fmt"
	"strings"
)

// UnifiedDiff returns a unified diff (3 lines of context) from a to b, or
// "" if they are equal.
func UnifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	x := strings.SplitAfter(a, "\n")
	y := strings.SplitAfter(b, "\n")
	if x[len(x)-1] == "" {
		x = x[:len(x)-1]
	}
	if y[len(y)-1] == "" {
		y = y[:len(y)-1]
	}
	ops := lcsDiff(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	var changes []int
	for i, op := range ops {
		if op.kind != ' ' {
			changes = append(changes, i)
		}
	}
	for k := 0; k < len(changes); {
		start := max(0, changes[k]-ctx)
		last := changes[k]
		k++
		for k < len(changes) && changes[k]-last <= 2*ctx {
			last = changes[k]
			k++
		}
		end := min(len(ops), last+ctx+1)
		aStart, bStart := ops[start].ai+1, ops[start].bi+1
		aLen, bLen := 0, 0
		var h strings.Builder
		for _, op := range ops[start:end] {
			switch op.kind {
			case ' ':
				aLen++
				bLen++
			case '-':
				aLen++
			case '+':
				bLen++
			}
			line := op.text
			if !strings.HasSuffix(line, "\n") {
				line += "\n\\ No newline at end of file\n"
			}
			h.WriteString(string(op.kind) + line)
		}
		if aLen == 0 {
			aStart--
		}
		if bLen == 0 {
			bStart--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n%s", aStart, aLen, bStart, bLen, h.String())
	}
	return out.String()
}

type diffOp struct {
	kind   byte // ' ', '-', '+'
	text   string
	ai, bi int // positions in a and b the op is at
}

// lcsDiff is a longest-common-subsequence line diff.
func lcsDiff(a, b []string) []diffOp {
	n, m := len(a), len(b)
	// trim common prefix and suffix to keep the table small
	pre := 0
	for pre < n && pre < m && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < n-pre && suf < m-pre && a[n-1-suf] == b[m-1-suf] {
		suf++
	}
	ac, bc := a[pre:n-suf], b[pre:m-suf]
	lcs := make([][]int32, len(ac)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(bc)+1)
	}
	for i := len(ac) - 1; i >= 0; i-- {
		for j := len(bc) - 1; j >= 0; j-- {
			if ac[i] == bc[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	for i := 0; i < pre; i++ {
		ops = append(ops, diffOp{' ', a[i], i, i})
	}
	i, j := 0, 0
	for i < len(ac) || j < len(bc) {
		switch {
		case i < len(ac) && j < len(bc) && ac[i] == bc[j]:
			ops = append(ops, diffOp{' ', ac[i], pre + i, pre + j})
			i++
			j++
		case i < len(ac) && (j == len(bc) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', ac[i], pre + i, pre + j})
			i++
		default:
			ops = append(ops, diffOp{'+', bc[j], pre + i, pre + j})
			j++
		}
	}
	for k := 0; k < suf; k++ {
		ops = append(ops, diffOp{' ', a[n-suf+k], n - suf + k, m - suf + k})
	}
	return ops
}
