package thintools

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/thinmeta"
)

const dumpUsage = `Usage: thin_dump [options] {device|file}
Options:
  {-h|--help}
  {-f|--format} {xml|human_readable|custom}
  {-r|--repair}
  {-m|--metadata-snap} [block#]
  {-o <xml file>}
  {--dev-id} <dev-id>
  {--skip-mappings}
  {-V|--version}
`

// parseULL is strtoull(s, &end, 10) as the tools use it: leading blanks and
// a sign are accepted, parsing stops at the first non-digit, and ok is
// false only when no digit was read.
func parseULL(s string) (uint64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	j := i
	var v uint64
	overflow := false
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		d := uint64(s[j] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		v = v*10 + d
		j++
	}
	if j == i {
		return 0, false
	}
	if overflow {
		return ^uint64(0), true
	}
	if neg {
		v = -v
	}
	return v, true
}

type dumpOpts struct {
	format       string
	repair       bool
	snap         bool
	snapLoc      *uint64
	devID        *uint64
	skipMappings bool
}

// ThinDump is thin_dump 0.9.0.
func ThinDump(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		var o dumpOpts
		o.format = "xml"
		var output string
		hasOutput := false
		g, rc, done := t.options("hm::o:f:rV", []getopt.Option{
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "metadata-snap", HasArg: getopt.OptionalArgument, Val: 'm'},
			{Name: "output", HasArg: getopt.RequiredArgument, Val: 'o'},
			{Name: "format", HasArg: getopt.RequiredArgument, Val: 'f'},
			{Name: "repair", HasArg: getopt.NoArgument, Val: 'r'},
			{Name: "dev-id", HasArg: getopt.RequiredArgument, Val: 1},
			{Name: "skip-mappings", HasArg: getopt.NoArgument, Val: 2},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
		}, dumpUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 'f':
				o.format = g.Optarg
			case 'r':
				o.repair = true
			case 'm':
				o.snap = true
				if g.HasOptarg {
					v, ok := parseULL(g.Optarg)
					if !ok {
						io.WriteString(t.err, "couldn't parse <metadata-snap>\n"+dumpUsage)
						return 1
					}
					o.snapLoc = &v
				}
			case 'o':
				output, hasOutput = g.Optarg, true
			case 1:
				v, ok := parseULL(g.Optarg)
				if !ok {
					io.WriteString(t.err, "couldn't parse <dev-id>\n"+dumpUsage)
					return 1
				}
				o.devID = &v
			case 2:
				o.skipMappings = true
			default:
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
		}
		in, ok := t.input(g, dumpUsage, false)
		if !ok {
			return 1
		}
		w := t.out
		if hasOutput {
			f, err := t.fs.Create(output)
			if err != nil {
				// an ofstream that failed to open swallows output
				f = nopWriteCloser{io.Discard}
			}
			defer f.Close()
			bw := bufio.NewWriter(f)
			defer bw.Flush()
			w = bw
		}
		if err := t.dump(in, w, &o); err != nil {
			fmt.Fprintf(t.err, "%s\n", err)
			return 1
		}
		return 0
	})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (t *tool) dump(path string, w *bufio.Writer, o *dumpOpts) error {
	var e emitter
	switch {
	case o.format == "xml":
		e = &xmlEmitter{w: w}
	case o.format == "human_readable":
		e = &humanEmitter{w: w}
	case strings.HasPrefix(o.format, "custom="):
		return toolError(o.format[7:] + ": cannot open shared object file: No such file or directory")
	default:
		return errorf("unknown format '%s'", o.format)
	}
	im, err := t.openImage(path, false, !o.snap)
	if err != nil {
		return err
	}
	defer im.close()
	sb, err := im.openMetadata(o.snap, o.snapLoc)
	if err != nil {
		return err
	}
	return dumpMetadata(im, sb, e, o, t.err)
}

// dumpMetadata is metadata_dump(): details first, then the superblock, then
// each device of the mapping tree's top level with its mappings.
func dumpMetadata(im *image, sb *thinmeta.Superblock, e emitter, o *dumpOpts, stderr io.Writer) error {
	devs, dmg, err := readDetails(im, sb.DeviceDetailsRoot)
	if err != nil {
		return err
	}
	if dmg != nil {
		return toolError(msgDamageRepair)
	}
	details := map[uint64]thinmeta.DeviceDetails{}
	for _, d := range devs {
		details[d.id] = d.d
	}
	e.beginSuperblock(sb, dataNrBlocks(sb))
	roots, dmg, err := readTopLevel(im, sb.DataMappingRoot)
	if err != nil {
		return err
	}
	if dmg != nil {
		return toolError(msgDamageRepair)
	}
	for _, r := range roots {
		if o.devID != nil && *o.devID != r.id {
			continue
		}
		d, ok := details[r.id]
		if !ok {
			return errorf("mappings present for device %d, but it isn't present in device tree", r.id)
		}
		e.beginDevice(r.id, d)
		if !o.skipMappings {
			rb := &runBuilder{e: e}
			dmg, err := walkMappings(im, r.root, func(v, d uint64, t uint32) error {
				rb.add(v, d, t)
				return nil
			}, true)
			if err != nil {
				return err
			}
			rb.flush()
			if dmg != nil {
				io.WriteString(stderr, msgDamageRepair)
				e.endDevice()
				return toolError(msgDamageRepair)
			}
		}
		e.endDevice()
	}
	e.endSuperblock()
	return nil
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
