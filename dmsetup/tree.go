package dmsetup

import (
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

// treeOpts are dmsetup.c's _tree_switches and _tsym, set by
// _process_tree_options from -o.
type treeOpts struct {
	device, blkdevname, active, open, uuid, rw bool
	compact, inverted, truncate, targets       bool
	sym                                        *treeSymbols
}

// treeSymbols is one of dmsetup.c's drawing sets (_tsym_ascii, _tsym_utf,
// _tsym_vt100).
type treeSymbols struct {
	empty2, branch2, vert2, last2, single3, first3 string
}

var (
	treeASCII = &treeSymbols{"  ", "|-", "| ", "`-", "---", "-+-"}
	treeUTF   = &treeSymbols{"  ", "\u251c\u2500", "\u2502 ", "\u2514\u2500", "\u2500\u2500\u2500", "\u2500\u252c\u2500"}
	treeVT100 = &treeSymbols{"  ", "\033(0\017tq\033(B", "\033(0\017x\033(B ", "\033(0\017mq\033(B",
		"\033(0\017qqq\033(B", "\033(0\017qwq\033(B"}
)

// processTreeOptions is _process_tree_options: each comma-separated item
// is compared with the option names as a prefix of them (strncmp with the
// item's length), in dmsetup's order. The C locale gives ASCII drawing;
// stdout is never a terminal here, so lines are cut at 80 columns unless
// notrunc.
func (d *cmdCtx) processTreeOptions() bool {
	o := &treeOpts{device: true, truncate: true, sym: treeASCII}
	opts := d.strArg[optOptions]
	for s := opts; s != ""; {
		item, rest, more := strings.Cut(s, ",")
		is := func(name string) bool { return strings.HasPrefix(name, item) }
		switch {
		case is("device"):
			o.device = true
		case is("blkdevname"):
			o.blkdevname = true
		case is("nodevice"):
			o.device = false
		case is("status"), is("table"):
			// _display_tree_targets prints nothing; these only stop compact
			o.targets = true
		case is("active"):
			o.active = true
		case is("open"):
			o.open = true
		case is("uuid"):
			o.uuid = true
		case is("rw"):
			o.rw = true
		case is("utf"):
			o.sym = treeUTF
		case is("vt100"):
			o.sym = treeVT100
		case is("ascii"):
			o.sym = treeASCII
		case is("inverted"):
			o.inverted = true
		case is("compact"):
			o.compact = true
		case is("notrunc"):
			o.truncate = false
		default:
			d.errorf("Tree options not recognised: %s.", s)
			return false
		}
		if !more {
			break
		}
		s = rest
	}
	d.treeOpts = o
	return true
}

// lsNode is a struct dm_tree_node: uses are the devices its table
// uses, usedBy the devices using it, both in the order they were linked.
type lsNode struct {
	dev          dmsim.DevT
	name, uuid   string
	info         dmsim.DMInfo
	exists       bool
	uses, usedBy []*lsNode
}

// lsTree is a struct dm_tree built by _build_whole_deptree: every mapped
// device added under the root (dm_tree_add_dev), its dependencies after
// it, depth first (_add_dev).
type lsTree struct {
	root  lsNode
	nodes map[dmsim.DevT]*lsNode
}

func linkNodes(parent, child *lsNode) {
	parent.uses = append(parent.uses, child)
	child.usedBy = append(child.usedBy, parent)
}

func unlinkNodes(parent, child *lsNode) {
	drop := func(l []*lsNode, n *lsNode) []*lsNode {
		for i, x := range l {
			if x == n {
				return append(l[:i:i], l[i+1:]...)
			}
		}
		return l
	}
	parent.uses = drop(parent.uses, child)
	child.usedBy = drop(child.usedBy, parent)
}

// link is _link_tree_nodes: the root only holds devices nobody uses
// (above) and devices that use nothing (below).
func (t *lsTree) link(parent, child *lsNode) {
	if parent == &t.root {
		if t.numChildren(child, true) > 0 {
			return
		}
	} else {
		unlinkNodes(&t.root, child)
	}
	if child == &t.root {
		if t.numChildren(parent, false) > 0 {
			return
		}
	} else {
		unlinkNodes(parent, &t.root)
	}
	for _, c := range parent.uses {
		if c == child {
			return
		}
	}
	linkNodes(parent, child)
}

// numChildren is dm_tree_node_num_children: a node hanging on the root
// at the far end has none.
func (t *lsTree) numChildren(n *lsNode, inverted bool) int {
	if inverted {
		for _, c := range t.root.uses {
			if c == n {
				return 0
			}
		}
		return len(n.usedBy)
	}
	for _, c := range n.uses {
		if c == &t.root {
			return 0
		}
	}
	return len(n.uses)
}

// add is _add_dev.
func (t *lsTree) add(d *cmdCtx, parent *lsNode, dev dmsim.DevT) bool {
	n, ok := t.nodes[dev]
	isNew := !ok
	var deps []dmsim.DevT
	if isNew {
		n = &lsNode{dev: dev}
		if dev.Major == dmsim.DMMajor {
			dt := d.newTask(tDeps)
			dt.major, dt.minor = int(dev.Major), int(dev.Minor)
			if !dt.run() {
				return false
			}
			if dt.exists {
				n.exists, n.info, n.name, n.uuid = true, dt.info, dt.info.Name, dt.info.UUID
				deps = dt.deps
			}
		}
		t.nodes[dev] = n
	}
	t.link(parent, n)
	if !isNew {
		return true
	}
	if !n.exists || len(deps) == 0 {
		t.link(n, &t.root)
		return true
	}
	for _, dep := range deps {
		if !t.add(d, n, dep) {
			return false
		}
	}
	return true
}

// treePrinter holds _display_tree_node's drawing state (_tree_width,
// _tree_more, _cur_x, _last_char).
type treePrinter struct {
	o        *treeOpts
	b        strings.Builder
	width    [100]int
	more     [100]bool
	curX     int
	lastChar byte
}

const treeTermWidth = 80

// outChar is _out_char: columns count UTF-8 lead bytes; past the
// terminal width a line ends in "...".
func (p *treePrinter) outChar(c byte) {
	if c&0xc0 != 0x80 {
		p.curX++
	}
	if !p.o.truncate {
		p.b.WriteByte(c)
		return
	}
	if p.curX <= treeTermWidth {
		p.b.WriteByte(c)
	}
	if p.curX == treeTermWidth+1 && c&0xc0 != 0x80 {
		if p.lastChar != 0 || c&0x80 != 0 {
			p.b.WriteString("...")
		} else {
			p.lastChar = c
			p.curX--
		}
	}
}

func (p *treePrinter) outString(s string) {
	for i := 0; i < len(s); i++ {
		p.outChar(s[i])
	}
}

func (p *treePrinter) outNewline() {
	if p.lastChar != 0 && p.curX == treeTermWidth {
		p.b.WriteByte(p.lastChar)
	}
	p.lastChar = 0
	p.b.WriteByte('\n')
	p.curX = 1
}

// outPrefix is _out_prefix.
func (p *treePrinter) outPrefix(depth int) {
	for d := 0; d < depth; d++ {
		for x := p.width[d] + 1; x > 0; x-- {
			p.outChar(' ')
		}
		var s string
		switch {
		case d == depth-1 && !p.more[depth]:
			s = p.o.sym.last2
		case d == depth-1:
			s = p.o.sym.branch2
		case p.more[d+1]:
			s = p.o.sym.vert2
		default:
			s = p.o.sym.empty2
		}
		p.outString(s)
	}
}

func (o *treeOpts) printAttributes() bool { return o.active || o.open || o.rw || o.uuid }
func (o *treeOpts) printCompact() bool {
	return o.compact && !o.printAttributes() && !o.targets
}

// node is _display_tree_node.
func (p *treePrinter) node(d *cmdCtx, n *lsNode, depth int, last, hasChildren bool) {
	if depth+2 > 100 {
		return
	}
	o := p.o
	if n.name == "" && !o.device && !o.blkdevname {
		return
	}
	p.more[depth] = !last
	p.width[depth] = 0
	firstOnLine := p.curX == 1
	if !o.printCompact() || firstOnLine {
		p.outPrefix(depth)
	}
	offset := p.curX
	if o.printCompact() && !firstOnLine {
		if p.more[depth] {
			p.outString(o.sym.first3)
		} else {
			p.outString(o.sym.single3)
		}
	}
	p.outString(n.name)
	if o.blkdevname {
		if b, err := d.k.BdevByDevT(n.dev); err == nil && b != nil {
			// dm_tree_node_get_name is "" (not NULL) for other devices
			p.outString(" <")
			p.outString(b.Name())
			p.outChar('>')
		}
	}
	if o.device {
		p.outString(" (")
		p.outString(strconv.FormatUint(uint64(n.dev.Major), 10))
		p.outChar(':')
		p.outString(strconv.FormatUint(uint64(n.dev.Minor), 10))
		p.outChar(')')
	}
	if o.printAttributes() && n.exists {
		// _display_tree_attributes
		attr := 0
		sep := func() {
			if attr > 0 {
				p.outString(", ")
			} else {
				p.outString(" [")
			}
			attr++
		}
		if o.active {
			sep()
			if n.info.Suspended {
				p.outString("SUSPENDED")
			} else {
				p.outString("ACTIVE")
			}
		}
		if o.rw {
			sep()
			if n.info.ReadOnly {
				p.outString("RO")
			} else {
				p.outString("RW")
			}
		}
		if o.open {
			sep()
			p.outString(strconv.FormatUint(uint64(n.info.OpenCount), 10))
		}
		if o.uuid {
			sep()
			p.outString(n.uuid)
		}
		if attr > 0 {
			p.outChar(']')
		}
	}
	if o.printCompact() {
		p.width[depth] = p.curX - offset
	}
	if !o.printCompact() || !hasChildren {
		p.outNewline()
	}
}

func (n *lsNode) children(inverted bool) []*lsNode {
	if inverted {
		return n.usedBy
	}
	return n.uses
}

// walk is _display_tree_walk_children.
func (p *treePrinter) walk(d *cmdCtx, t *lsTree, n *lsNode, depth int) {
	kids := n.children(p.o.inverted)
	for i, c := range kids {
		has := t.numChildren(c, p.o.inverted) > 0
		p.node(d, c, depth, i == len(kids)-1, has)
		if has {
			p.walk(d, t, c, depth+1)
		}
	}
}

// tree is `dmsetup ls --tree` (_display_tree): the dependency tree of
// every mapped device, drawn from the root down, or from the bottom up
// with -o inverted.
func (d *cmdCtx) tree() bool {
	if d.treeOpts == nil && !d.processTreeOptions() {
		return false
	}
	t := &lsTree{nodes: map[dmsim.DevT]*lsNode{}}
	t.nodes[dmsim.DevT{}] = &t.root
	ok := d.processAll(false, func(e *dmsim.NameEntry) bool {
		return t.add(d, &t.root, e.Dev)
	})
	if !ok {
		return false
	}
	p := &treePrinter{o: d.treeOpts, curX: 1}
	p.walk(d, t, &t.root, 0)
	d.printf("%s", p.b.String())
	return true
}
