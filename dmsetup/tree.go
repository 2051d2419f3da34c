package dmsetup

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

// tree is `dmsetup ls --tree` with the ASCII drawing the C locale gives:
// every device not used by another mapped device is a root, and below each
// device come the devices its table uses.
func (d *cmdCtx) tree() bool {
	list := d.newTask(tList)
	if !list.run() {
		return false
	}
	names := map[dmsim.DevT]string{}
	deps := map[dmsim.DevT][]dmsim.DevT{}
	used := map[dmsim.DevT]bool{}
	for _, e := range list.names {
		names[e.Dev] = e.Name
		t := d.newTask(tDeps)
		t.major, t.minor = int(e.Dev.Major), int(e.Dev.Minor)
		if !t.run() || !t.exists {
			return false
		}
		deps[e.Dev] = t.deps
		for _, dep := range t.deps {
			used[dep] = true
		}
	}
	var b strings.Builder
	var walk func(dev dmsim.DevT, prefix string, depth int, last bool)
	walk = func(dev dmsim.DevT, prefix string, depth int, last bool) {
		if depth > 0 {
			b.WriteString(prefix)
			if last {
				b.WriteString(" `-")
			} else {
				b.WriteString(" |-")
			}
		}
		if n, ok := names[dev]; ok {
			fmt.Fprintf(&b, "%s (%d:%d)\n", n, dev.Major, dev.Minor)
		} else {
			// a device that is not a mapped device has an empty name: " (M:m)"
			fmt.Fprintf(&b, " (%d:%d)\n", dev.Major, dev.Minor)
		}
		children := deps[dev]
		childPrefix := prefix
		if depth > 0 {
			if last {
				childPrefix += "   "
			} else {
				childPrefix += " | "
			}
		}
		for i, c := range children {
			walk(c, childPrefix, depth+1, i == len(children)-1)
		}
	}
	for _, e := range list.names {
		if !used[e.Dev] {
			walk(e.Dev, "", 0, true)
		}
	}
	if len(list.names) == 0 {
		return true
	}
	d.printf("%s", b.String())
	return true
}
