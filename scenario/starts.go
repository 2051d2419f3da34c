package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A starts file records the pace at which a recording's guest ran a
// script: for each command, by its index in Script.Items, the guest's
// monotonic clock when the command started (on its boot's clock, which
// starts again at each `# reboot`). The recorder writes it beside the
// kernel's bio logs (logs/NAME.starts); dmsim replays a script at that
// pace (package script, Options.CommandStarts).
//
//	# dmsim command starts: ITEM NANOSECONDS
//	4 1830127733
//	5 1834511203

// startsHeader is a starts file's first line.
const startsHeader = "# dmsim command starts: ITEM NANOSECONDS"

// FormatStarts encodes command start times (item index -> time) as a
// starts file, in item order.
func FormatStarts(starts map[int]time.Duration) []byte {
	items := make([]int, 0, len(starts))
	for i := range starts {
		items = append(items, i)
	}
	sort.Ints(items)
	var b bytes.Buffer
	b.WriteString(startsHeader + "\n")
	for _, i := range items {
		fmt.Fprintf(&b, "%d %d\n", i, starts[i].Nanoseconds())
	}
	return b.Bytes()
}

// ParseStarts decodes a starts file. Lines starting with # are comments.
func ParseStarts(b []byte) (map[int]time.Duration, error) {
	starts := map[int]time.Duration{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("starts line %d: want ITEM NANOSECONDS, got %q", n, line)
		}
		item, err := strconv.Atoi(f[0])
		if err != nil || item < 0 {
			return nil, fmt.Errorf("starts line %d: bad item %q", n, f[0])
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ns < 0 {
			return nil, fmt.Errorf("starts line %d: bad time %q", n, f[1])
		}
		if _, dup := starts[item]; dup {
			return nil, fmt.Errorf("starts line %d: item %d twice", n, item)
		}
		starts[item] = time.Duration(ns)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return starts, nil
}
