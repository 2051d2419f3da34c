package thintools

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/thinmeta"
)

const deltaUsage = `Usage: thin_delta [options] <device or file>
Options:
  {--thin1, --snap1}
  {--thin2, --snap2}
  {-m, --metadata-snap} [block#]
  {--verbose}
  {-h|--help}
  {-V|--version}
`

// ThinDelta is thin_delta 0.9.0.
func ThinDelta(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		die := func(msg string) int {
			io.WriteString(t.err, msg+"\n"+deltaUsage)
			return 1
		}
		var snap1, snap2, snapLoc *uint64
		snap, verbose := false, false
		parse := func(s, desc string) (*uint64, bool) {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, false
			}
			return &v, true
		}
		g, rc, done := t.options("hVm::", []getopt.Option{
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
			{Name: "thin1", HasArg: getopt.RequiredArgument, Val: 1},
			{Name: "snap1", HasArg: getopt.RequiredArgument, Val: 1},
			{Name: "thin2", HasArg: getopt.RequiredArgument, Val: 2},
			{Name: "snap2", HasArg: getopt.RequiredArgument, Val: 2},
			{Name: "metadata-snap", HasArg: getopt.OptionalArgument, Val: 'm'},
			{Name: "verbose", HasArg: getopt.NoArgument, Val: 4},
		}, deltaUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 1, 2:
				v, ok := parse(g.Optarg, "")
				if !ok {
					return die(fmt.Sprintf("Couldn't parse thin id %d: '%s'", c, g.Optarg))
				}
				if c == 1 {
					snap1 = v
				} else {
					snap2 = v
				}
			case 'm':
				snap = true
				if g.HasOptarg {
					v, ok := parse(g.Optarg, "")
					if !ok {
						return die(fmt.Sprintf("Couldn't parse metadata snapshot block: '%s'", g.Optarg))
					}
					snapLoc = v
				}
			case 4:
				verbose = true
			default:
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
		}
		ops := g.Operands()
		if len(ops) == 0 {
			return die("No input device provided.")
		}
		if snap1 == nil {
			return die("--snap1 not specified.")
		}
		if snap2 == nil {
			return die("--snap2 not specified.")
		}
		if err := t.delta(ops[0], *snap1, *snap2, snap, snapLoc, verbose); err != nil {
			t.out.Flush()
			return die(err.Error())
		}
		return 0
	})
}

// extent is a run of consecutive virtual blocks mapped to consecutive data
// blocks.
type extent struct{ v, d, n uint64 }

func collectExtents(im *image, root uint64) ([]extent, error) {
	var ex []extent
	dmg, err := walkMappings(im, root, func(v, d uint64, _ uint32) error {
		if k := len(ex) - 1; k >= 0 && ex[k].v+ex[k].n == v && ex[k].d+ex[k].n == d {
			ex[k].n++
		} else {
			ex = append(ex, extent{v, d, 1})
		}
		return nil
	}, true)
	if err != nil {
		return nil, err
	}
	if dmg != nil {
		return nil, toolError("damage in mapping tree, please run thin_check")
	}
	return ex, nil
}

// lookup1 finds key in a one-level tree, validating the nodes on the way
// (btree::lookup).
func (im *image) lookup1(root, key uint64) ([]byte, bool, error) {
	b := root
	for depth := 0; depth < 64; depth++ {
		n, err := im.node(b)
		if err != nil {
			return nil, false, err
		}
		nr := n.NrEntries()
		if vs := n.ValueSize(); vs != 8 {
			return nil, false, errorf("value size mismatch: expected 8, but got %d (block %d).", vs, b)
		}
		if !thinmeta.Sane(n, 8) {
			return nil, false, errorf("bad nr_entries: %d < %d (block %d)", nr, n.MaxEntries(), b)
		}
		// largest key <= target
		lo, hi := -1, nr
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if n.Key(mid) <= key {
				lo = mid
			} else {
				hi = mid
			}
		}
		if n.IsInternal() {
			if lo < 0 {
				return nil, false, nil
			}
			b = n.Value64(lo)
			continue
		}
		if lo < 0 || n.Key(lo) != key {
			return nil, false, nil
		}
		return n.Value(lo), true, nil
	}
	return nil, false, toolError("btree too deep")
}

func (t *tool) delta(path string, id1, id2 uint64, snap bool, snapLoc *uint64, verbose bool) error {
	im, err := t.openImage(path, false, !snap)
	if err != nil {
		return err
	}
	defer im.close()
	sb, err := im.openMetadata(snap, snapLoc)
	if err != nil {
		return err
	}
	var roots [2]uint64
	for i, id := range []uint64{id1, id2} {
		v, ok, err := im.lookup1(sb.DataMappingRoot, id)
		if err != nil {
			return err
		}
		if !ok {
			return errorf("Unable to find mapping tree for snap%d (%d)", i+1, id)
		}
		roots[i] = le.Uint64(v)
	}
	left, err := collectExtents(im, roots[0])
	if err != nil {
		return err
	}
	right, err := collectExtents(im, roots[1])
	if err != nil {
		return err
	}
	w := t.out
	fmt.Fprintf(w, "<superblock uuid=\"\" time=\"%d\" transaction=\"%d\" data_block_size=\"%d\" nr_data_blocks=\"%d\"",
		sb.Time, sb.TransID, sb.DataBlockSize, sb.DataSpaceMap().NrBlocks)
	if sb.HeldRoot != 0 {
		fmt.Fprintf(w, " metadata_snap=\"%d\"", sb.HeldRoot)
	}
	fmt.Fprintf(w, ">\n  <diff left=\"%d\" right=\"%d\">\n", id1, id2)
	var e diffEmitter
	if verbose {
		e = &verboseDiff{w: w}
	} else {
		e = &simpleDiff{w: w}
	}
	diffExtents(left, right, e)
	e.complete()
	w.WriteString("  </diff>\n</superblock>\n")
	return nil
}

const (
	diffLeftOnly = iota
	diffRightOnly
	diffDiffer
	diffSame
)

var diffTags = []string{"left_only", "right_only", "different", "same"}

type diffEmitter interface {
	emit(kind int, v, ld, rd, n uint64)
	complete()
}

// diffExtents walks both devices' extents in virtual block order.
func diffExtents(left, right []extent, e diffEmitter) {
	var l, r extent
	li, ri := 0, 0
	for {
		if l.n == 0 && li < len(left) {
			l = left[li]
			li++
		}
		if r.n == 0 && ri < len(right) {
			r = right[ri]
			ri++
		}
		switch {
		case l.n == 0 && r.n == 0:
			return
		case r.n == 0:
			e.emit(diffLeftOnly, l.v, l.d, 0, l.n)
			l.n = 0
		case l.n == 0:
			e.emit(diffRightOnly, r.v, 0, r.d, r.n)
			r.n = 0
		case l.v < r.v:
			n := min(l.n, r.v-l.v)
			e.emit(diffLeftOnly, l.v, l.d, 0, n)
			l = consume(l, n)
		case r.v < l.v:
			n := min(r.n, l.v-r.v)
			e.emit(diffRightOnly, r.v, 0, r.d, n)
			r = consume(r, n)
		default:
			n := min(l.n, r.n)
			if l.d != r.d {
				e.emit(diffDiffer, l.v, l.d, r.d, n)
			} else {
				e.emit(diffSame, l.v, l.d, r.d, n)
			}
			l, r = consume(l, n), consume(r, n)
		}
	}
}

func consume(x extent, n uint64) extent { return extent{x.v + n, x.d + n, x.n - n} }

type simpleDiff struct {
	w      interface{ WriteString(string) (int, error) }
	active bool
	kind   int
	v, end uint64
}

func (s *simpleDiff) emit(kind int, v, _, _, n uint64) {
	if s.active && s.kind == kind && v == s.end {
		s.end += n
		return
	}
	s.complete()
	s.active, s.kind, s.v, s.end = true, kind, v, v+n
}

func (s *simpleDiff) complete() {
	if !s.active {
		return
	}
	s.w.WriteString(fmt.Sprintf("    <%s begin=\"%d\" length=\"%d\"/>\n", diffTags[s.kind], s.v, s.end-s.v))
	s.active = false
}

type verboseDiff struct {
	w      interface{ WriteString(string) (int, error) }
	active bool
	kind   int
}

func (d *verboseDiff) emit(kind int, v, ld, rd, n uint64) {
	if !d.active || d.kind != kind {
		d.complete()
		d.active, d.kind = true, kind
		d.w.WriteString("    <" + diffTags[kind] + ">\n")
	}
	switch kind {
	case diffLeftOnly, diffSame:
		d.w.WriteString(fmt.Sprintf("      <range begin=\"%d\" data_begin=\"%d\" length=\"%d\"/>\n", v, ld, n))
	case diffRightOnly:
		d.w.WriteString(fmt.Sprintf("      <range begin=\"%d\" data_begin=\"%d\" length=\"%d\"/>\n", v, rd, n))
	case diffDiffer:
		d.w.WriteString(fmt.Sprintf("      <range begin=\"%d\" left_data_begin=\"%d\" right_data_begin=\"%d\" length=\"%d\"/>\n", v, ld, rd, n))
	}
}

func (d *verboseDiff) complete() {
	if d.active {
		d.w.WriteString("    </" + diffTags[d.kind] + ">\n")
		d.active = false
	}
}
