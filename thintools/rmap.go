package thintools

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dmsim/dmsim/internal/getopt"
)

const rmapUsage = `Usage: thin_rmap [options] {device|file}
Options:
  {-h|--help}
  {-V|--version}
  {--region <block range>}*
Where:
  <block range> is of the form <begin>..<one-past-the-end>
  for example 5..45 denotes blocks 5 to 44 inclusive, but not block 45
`

type region struct{ begin, end uint64 }

func parseRegion(s string) (region, error) {
	b, rest, ok := cutULL(s)
	if !ok || !strings.HasPrefix(rest, "..") {
		return region{}, toolError("badly formed region (no dots)")
	}
	e, _, ok := cutULL(rest[2:])
	if !ok {
		return region{}, toolError("badly formed region (couldn't parse numbers)")
	}
	if e <= b {
		return region{}, toolError("badly formed region (end <= begin)")
	}
	return region{b, e}, nil
}

// cutULL is strtoull returning the unparsed rest.
func cutULL(s string) (uint64, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	v, _ := parseULL(s[:i])
	return v, s[i:], true
}

// ThinRmap is thin_rmap 0.9.0.
func ThinRmap(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		var regions []region
		g, rc, done := t.options("hV", []getopt.Option{
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
			{Name: "region", HasArg: getopt.RequiredArgument, Val: 1},
		}, rmapUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 1:
				r, err := parseRegion(g.Optarg)
				if err != nil {
					io.WriteString(t.err, err.Error())
					return 1
				}
				regions = append(regions, r)
			default:
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
		}
		in, ok := t.input(g, rmapUsage, false)
		if !ok {
			return 1
		}
		if len(regions) == 0 {
			io.WriteString(t.err, "No regions provided.\n"+rmapUsage)
			return 1
		}
		if err := t.rmap(in, regions); err != nil {
			io.WriteString(t.err, err.Error())
			return 1
		}
		return 0
	})
}

type rmapRun struct {
	dbegin, dend, dev, vbegin uint64
}

func (t *tool) rmap(path string, regions []region) error {
	im, err := t.openImage(path, false, true)
	if err != nil {
		return err
	}
	defer im.close()
	sb, err := im.openMetadata(false, nil)
	if err != nil {
		return err
	}
	// merge the regions into a sorted set of disjoint intervals
	sort.Slice(regions, func(i, j int) bool { return regions[i].begin < regions[j].begin })
	var set []region
	for _, r := range regions {
		if k := len(set) - 1; k >= 0 && r.begin <= set[k].end {
			if r.end > set[k].end {
				set[k].end = r.end
			}
			continue
		}
		set = append(set, r)
	}
	in := func(b uint64) bool {
		i := sort.Search(len(set), func(i int) bool { return set[i].end > b })
		return i < len(set) && set[i].begin <= b
	}
	const damageMsg = "Damage in mapping tree, please run thin_check.\n"
	top, dmg, err := readTopLevel(im, sb.DataMappingRoot)
	if err != nil {
		return err
	}
	if dmg != nil {
		return toolError(damageMsg)
	}
	var runs []rmapRun
	cur := -1
	for _, r := range top {
		dmg, err := walkMappings(im, r.root, func(v, d uint64, _ uint32) error {
			if !in(d) {
				return nil
			}
			if cur >= 0 {
				c := &runs[cur]
				if c.dev == r.id && c.dend == d && c.vbegin+(c.dend-c.dbegin) == v {
					c.dend++
					return nil
				}
			}
			runs = append(runs, rmapRun{d, d + 1, r.id, v})
			cur = len(runs) - 1
			return nil
		}, true)
		if err != nil {
			return err
		}
		if dmg != nil {
			return toolError(damageMsg)
		}
	}
	stdSort(runs, func(x, y rmapRun) bool { return x.dbegin < y.dbegin })
	for _, r := range runs {
		fmt.Fprintf(t.out, "data %d..%d -> thin(%d) %d..%d\n", r.dbegin, r.dend, r.dev, r.vbegin, r.vbegin+(r.dend-r.dbegin))
	}
	return nil
}
