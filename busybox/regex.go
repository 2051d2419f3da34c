package busybox

import "strings"

// breToGo converts a POSIX basic regular expression to Go syntax.
func breToGo(re string) string {
	var b strings.Builder
	inBracket := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if inBracket {
			b.WriteByte(c)
			if c == ']' {
				inBracket = false
			}
			continue
		}
		switch c {
		case '[':
			inBracket = true
			b.WriteByte(c)
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case '\\':
			if i+1 >= len(re) {
				b.WriteString(`\\`)
				continue
			}
			i++
			switch re[i] {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte(re[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(re[i])
			}
		case '(', ')', '{', '}', '|', '+', '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '*':
			if b.Len() == 0 || strings.HasSuffix(b.String(), "^") {
				b.WriteString(`\*`)
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
