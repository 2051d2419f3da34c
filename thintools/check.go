package thintools

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/thinmeta"
)

const checkUsage = `Usage: thin_check [options] {device|file}
Options:
  {-q|--quiet}
  {-h|--help}
  {-V|--version}
  {-m|--metadata-snap}
  {--auto-repair}
  {--override-mapping-root}
  {--clear-needs-check-flag}
  {--ignore-non-fatal-errors}
  {--skip-mappings}
  {--super-block-only}
`

type checkOpts struct {
	quiet, snap, autoRepair, clearNeedsCheck, ignoreNonFatal bool
	skipMappings, sbOnly                                     bool
	overrideRoot                                             *uint64
}

// errLevel is the tools' error_state.
type errLevel int

const (
	noError errLevel = iota
	nonFatal
	fatal
)

// nested is base::nested_output: messages indented two spaces per level.
type nested struct {
	w     io.Writer
	level int
	off   bool
}

func (n *nested) say(format string, a ...any) {
	if n.off {
		return
	}
	fmt.Fprintf(n.w, "%s%s\n", strings.Repeat(" ", 2*n.level), fmt.Sprintf(format, a...))
}

// The option handlers' results besides an exit code: carry on with the
// next option, or an option the tool does not know.
const (
	moreOptions = -1
	badOption   = -2
)

// options is the getopt loop the tools share: -h prints usage (exit 0), -V
// the version (exit 0), and any other option goes to opt, which returns
// moreOptions, badOption (usage on stderr, exit 1) or an exit code. done
// says the tool ends now with rc.
func (t *tool) options(short string, long []getopt.Option, usage string, opt func(g *getopt.Parser, c int) int) (g *getopt.Parser, rc int, done bool) {
	g = getopt.New(t.prog, t.args, short, long, t.err)
	for {
		c := g.Next()
		switch c {
		case getopt.End:
			return g, 0, false
		case 'h':
			io.WriteString(t.out, usage)
			return g, 0, true
		case 'V':
			io.WriteString(t.out, Version+"\n")
			return g, 0, true
		}
		switch rc := opt(g, c); rc {
		case moreOptions:
		case badOption:
			io.WriteString(t.err, usage)
			return g, 1, true
		default:
			return g, rc, true
		}
	}
}

// input is the input file operand the readers take: the first operand, or
// (unless quiet) "No input file provided." and the usage on stderr.
func (t *tool) input(g *getopt.Parser, usage string, quiet bool) (string, bool) {
	ops := g.Operands()
	if len(ops) == 0 {
		if !quiet {
			io.WriteString(t.err, "No input file provided.\n"+usage)
		}
		return "", false
	}
	return ops[0], true
}

// ThinCheck is thin_check 0.9.0.
func ThinCheck(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		var o checkOpts
		g, rc, done := t.options("qhVm", []getopt.Option{
			{Name: "quiet", HasArg: getopt.NoArgument, Val: 'q'},
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
			{Name: "metadata-snap", HasArg: getopt.NoArgument, Val: 'm'},
			{Name: "super-block-only", HasArg: getopt.NoArgument, Val: 1},
			{Name: "skip-mappings", HasArg: getopt.NoArgument, Val: 2},
			{Name: "ignore-non-fatal-errors", HasArg: getopt.NoArgument, Val: 3},
			{Name: "clear-needs-check-flag", HasArg: getopt.NoArgument, Val: 4},
			{Name: "override-mapping-root", HasArg: getopt.RequiredArgument, Val: 5},
			{Name: "auto-repair", HasArg: getopt.NoArgument, Val: 6},
		}, checkUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 'q':
				o.quiet = true
			case 'm':
				o.snap = true
			case 1:
				o.sbOnly = true
			case 2:
				o.skipMappings = true
			case 3:
				o.ignoreNonFatal = true
			case 4:
				o.clearNeedsCheck = true
			case 5:
				v, _ := parseULL(g.Optarg)
				o.overrideRoot = &v
			case 6:
				o.autoRepair = true
			default:
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
		}
		if o.snap && (o.clearNeedsCheck || o.autoRepair) {
			io.WriteString(t.err, "cannot perform fix within metadata snap\n"+checkUsage)
			return 1
		}
		in, ok := t.input(g, checkUsage, o.quiet)
		if !ok {
			return 1
		}
		rc, err := t.check(in, &o)
		if err != nil {
			if !o.quiet {
				fmt.Fprintf(t.err, "%s\n", err)
			}
			return 1
		}
		return rc
	})
}

func (t *tool) check(path string, o *checkOpts) (int, error) {
	im, err := t.openImage(path, o.clearNeedsCheck || o.autoRepair, !o.snap)
	if err != nil {
		return 1, err
	}
	defer im.close()
	if im.NrBlocks < 1 {
		return 1, toolError("Metadata device/file too small.  Is this binary metadata?")
	}
	out := &nested{w: t.err, off: o.quiet}
	if o.snap {
		live, err := im.superblock(0)
		if err == nil && live.HeldRoot == 0 {
			return 1, toolError("No metadata snapshot found.")
		}
	}
	out.say("examining superblock")
	sb, err := im.superblock(0)
	if err != nil {
		out.level++
		out.say("superblock is corrupt")
		out.level++
		out.say("%s", err)
		return 1, nil
	}
	if !o.quiet {
		fmt.Fprintf(t.out, "TRANSACTION_ID=%d\nMETADATA_FREE_BLOCKS=%d\n", sb.TransID, im.NrBlocks-1)
		t.out.Flush() // endl
	}
	root := sb
	if o.snap {
		if root, err = im.superblock(sb.HeldRoot); err != nil {
			return 1, err
		}
	}
	mappingRoot := root.DataMappingRoot
	if o.overrideRoot != nil {
		mappingRoot = *o.overrideRoot
	}
	level := noError
	complete := false
	if !o.sbOnly {
		out.say("examining devices tree")
		out.level++
		w := newWalker(im, thinmeta.DetailsSize, nil, func(d damage) {
			out.say("missing devices: %s", d.keys)
			out.level++
			out.say("%s", d.desc)
			out.level--
			level = fatal
		})
		err := w.walk(root.DeviceDetailsRoot)
		out.level--
		if err != nil {
			return 1, err
		}
		if o.skipMappings {
			out.say("examining top level of mapping tree")
		} else {
			out.say("examining mapping tree")
		}
		out.level++
		roots, dmg, err := readTopLevel(im, mappingRoot)
		if err != nil {
			return 1, err
		}
		if dmg != nil {
			out.say("missing all mappings for devices: %s", dmg.keys)
			out.level++
			out.say("%s", dmg.desc)
			out.level--
			level = fatal
		}
		if !o.skipMappings {
			for i, r := range walkDevices(im, roots) {
				for _, d := range r.damage {
					out.say("thin device %d is missing mappings %s", roots[i].id, d.keys)
					out.level++
					out.say("%s", d.desc)
					out.level--
					level = fatal
				}
				if r.err != nil {
					return 1, r.err
				}
			}
		}
		out.level--
		if !o.skipMappings && !o.snap && o.overrideRoot == nil && level == noError {
			out.say("checking space map counts")
			out.level++
			l, err := checkMetadataCounts(im, sb, out)
			out.level--
			if err != nil {
				return 1, err
			}
			if l > level {
				level = l
			}
			complete = true
		}
	}
	rc := 0
	if o.ignoreNonFatal {
		if level == fatal {
			rc = 1
		}
	} else if level != noError {
		rc = 1
	}
	if o.clearNeedsCheck {
		if rc == 0 {
			if err := clearNeedsCheck(im); err != nil {
				return 1, err
			}
			out.level = 0
			out.say("cleared needs_check flag")
		} else if !complete {
			out.level = 0
			out.say("metadata has not been fully examined")
		}
	}
	return rc, nil
}

func clearNeedsCheck(im *image) error {
	p0, err := im.Raw(0)
	if err != nil {
		return toolText(err)
	}
	p := append([]byte(nil), p0...)
	le.PutUint32(p[4:], le.Uint32(p[4:])&^thinmeta.NeedsCheckFlag)
	le.PutUint32(p, block.Checksum(p[4:], thinmeta.SuperblockCsumXor))
	if _, err := im.dev.WriteAt(p, 0); err != nil {
		return errorf("couldn't write superblock: %v", err)
	}
	// No sync: 0.9.0's block cache writes the superblock back and never
	// flushes (on 6.1 its bio log has the write and no flush; the pool's
	// next commit makes it durable).
	im.Invalidate()
	return nil
}

// checkMetadataCounts compares the metadata space map's count of every
// block with the references the structures hold (thinmeta's recount).
func checkMetadataCounts(im *image, sb *thinmeta.Superblock, out *nested) (errLevel, error) {
	rc, err := im.RecountMetadata(sb, nil)
	if err != nil {
		return fatal, toolText(err)
	}
	level := noError
	for b, expected := range rc.Expected {
		if actual := rc.Actual[b]; actual != expected {
			out.say("metadata reference counts differ for block %d, expected %d, but got %d", b, expected, actual)
			if expected > actual {
				level = fatal
			} else if level < nonFatal {
				level = nonFatal
			}
		}
	}
	return level, nil
}

// deviceWalk is what the walk of one device's mapping tree found.
type deviceWalk struct {
	damage []damage
	err    error
}

// walkDevices walks each device's mapping tree, as thin_check's mapping
// pass does; the caller reports the results in device order. A host
// device's trees are walked in parallel, each goroutine with its own view
// of the image.
func walkDevices(im *image, roots []devRoot) []deviceWalk {
	res := make([]deviceWalk, len(roots))
	walkOne := func(im *image, i int) {
		w := newWalker(im, 8, nil, func(d damage) {
			res[i].damage = append(res[i].damage, d)
		})
		res[i].err = w.walk(roots[i].root)
	}
	workers := min(runtime.GOMAXPROCS(0), len(roots))
	if !isHostFile(im.dev) || workers < 2 {
		for i := range roots {
			if walkOne(im, i); res[i].err != nil {
				break // the devices after it are not walked
			}
		}
		return res
	}
	forks := make([]*image, workers)
	var wg sync.WaitGroup
	var next atomic.Int64 // the next device to walk: a worker slowed down takes fewer
	for g := range forks {
		forks[g] = &image{im.Fork(), im.dev}
		wg.Add(1)
		go func(f *image) {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(roots); i = int(next.Add(1) - 1) {
				walkOne(f, i)
			}
		}(forks[g])
	}
	wg.Wait()
	for _, f := range forks {
		im.Join(f.Image)
	}
	return res
}
