package busybox

import (
	"io"
	"strings"

	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("tr", "translate or delete characters", tr, "-d", "-s", "-c")
}

// trSet expands a tr SET: escapes, ranges a-z, [:class:] and [c*n].
func trSet(s string) []byte {
	s, _ = unescape(s, false)
	var out []byte
	classes := map[string]func(byte) bool{
		"alnum":  func(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' },
		"alpha":  isAlpha,
		"digit":  func(c byte) bool { return c >= '0' && c <= '9' },
		"lower":  func(c byte) bool { return c >= 'a' && c <= 'z' },
		"upper":  func(c byte) bool { return c >= 'A' && c <= 'Z' },
		"space":  func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' },
		"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
		"punct":  func(c byte) bool { return c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9') },
		"xdigit": isHex,
		"cntrl":  func(c byte) bool { return c < 32 || c == 127 },
		"print":  func(c byte) bool { return c >= 32 && c < 127 },
		"graph":  func(c byte) bool { return c > 32 && c < 127 },
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '[' && i+1 < len(s) && s[i+1] == ':' {
			if end := strings.Index(s[i:], ":]"); end > 0 {
				if f, ok := classes[s[i+2:i+end]]; ok {
					for c := 0; c < 256; c++ {
						if f(byte(c)) {
							out = append(out, byte(c))
						}
					}
					i += end + 1
					continue
				}
			}
		}
		if i+2 < len(s) && s[i+1] == '-' {
			for c := int(s[i]); c <= int(s[i+2]); c++ {
				out = append(out, byte(c))
			}
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// tr is busybox tr: translate, delete (-d) and squeeze (-s) bytes.
func tr(p *userland.Proc) int {
	o, args, ok := getopt(p, "cdsC")
	if !ok {
		return 1
	}
	if len(args) < 1 || (!o.has('d') && !o.has('s') && len(args) < 2) {
		return showUsage(p)
	}
	set1 := trSet(args[0])
	var set2 []byte
	if len(args) > 1 {
		set2 = trSet(args[1])
	}
	in1 := [256]bool{}
	for _, c := range set1 {
		in1[c] = true
	}
	if o.has('c') || o.has('C') {
		var comp []byte
		for c := 0; c < 256; c++ {
			if !in1[c] {
				comp = append(comp, byte(c))
			}
			in1[c] = !in1[c]
		}
		set1 = comp
	}
	var mapTo [256]int
	for i := range mapTo {
		mapTo[i] = -1
	}
	if !o.has('d') && len(set2) > 0 {
		for i, c := range set1 {
			j := min(i, len(set2)-1)
			mapTo[c] = int(set2[j])
		}
	}
	squeeze := [256]bool{}
	if o.has('s') {
		sq := set1
		if len(args) > 1 && (o.has('d') || len(set2) > 0) {
			sq = set2
		}
		for _, c := range sq {
			squeeze[c] = true
		}
	}
	data, _ := io.ReadAll(p.Stdin)
	out := make([]byte, 0, len(data))
	last := -1
	for _, c := range data {
		if o.has('d') && in1[c] {
			continue
		}
		if mapTo[c] >= 0 {
			c = byte(mapTo[c])
		}
		if o.has('s') && squeeze[c] && last == int(c) {
			continue
		}
		out = append(out, c)
		last = int(c)
	}
	if _, err := p.Stdout.Write(out); err != nil {
		return 1
	}
	return 0
}
