package thintools

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/internal/getopt"
)

var lsFields = []string{
	"DEV", "MAPPED_BLOCKS", "EXCLUSIVE_BLOCKS", "SHARED_BLOCKS",
	"MAPPED_SECTORS", "EXCLUSIVE_SECTORS", "SHARED_SECTORS",
	"MAPPED_BYTES", "EXCLUSIVE_BYTES", "SHARED_BYTES",
	"MAPPED", "EXCLUSIVE", "SHARED",
	"TRANSACTION", "CREATE_TIME", "SNAP_TIME",
}

var lsUsage = func() string {
	var b strings.Builder
	b.WriteString(`Usage: thin_ls [options] {metadata device}
Options:
  {-h|--help}
  {-m|--metadata-snap}
  {--no-headers}
  {-o|--format <fields>}
  {-V|--version}

where <fields> is a comma separated list from:
`)
	for _, f := range lsFields {
		b.WriteString("  " + f + "\n")
	}
	return b.String()
}()

// parseLsFields splits like getline(in, item, ','): a trailing comma adds
// no field, an empty item is an unknown field.
func parseLsFields(s string) ([]string, error) {
	var out []string
	items := strings.Split(s, ",")
	if len(items) > 0 && items[len(items)-1] == "" {
		items = items[:len(items)-1]
	}
	for _, it := range items {
		ok := false
		for _, f := range lsFields {
			if it == f {
				ok = true
			}
		}
		if !ok {
			return nil, toolError("unknown field")
		}
		out = append(out, it)
	}
	return out, nil
}

// formatDiskUnit renders a size in sectors as the tools' format_disk_unit:
// whole units, switching up from bytes only past 8 KiB, rounding the last
// step.
func formatDiskUnit(sectors uint64) string {
	n := sectors * 512
	i := 0
	for n > 1024*1024 {
		n /= 1024
		i++
	}
	if n > 8*1024 {
		n = uint64(math.Round(float64(n) / 1024))
		i++
	}
	units := []string{"", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	return strconv.FormatUint(n, 10) + units[i]
}

// ThinLs is thin_ls 0.9.0.
func ThinLs(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		fields := []string{"DEV", "MAPPED", "CREATE_TIME", "SNAP_TIME"}
		headers, snap := true, false
		g, rc, done := t.options("hmo:V", []getopt.Option{
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "metadata-snap", HasArg: getopt.NoArgument, Val: 'm'},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
			{Name: "format", HasArg: getopt.RequiredArgument, Val: 'o'},
			{Name: "no-headers", HasArg: getopt.NoArgument, Val: 1},
		}, lsUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 'm':
				snap = true
			case 'o':
				f, err := parseLsFields(g.Optarg)
				if err != nil {
					fmt.Fprintf(t.err, "%s\n", err)
					return 1
				}
				fields = f
			case 1:
				headers = false
			default:
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
		}
		in, ok := t.input(g, lsUsage, false)
		if !ok {
			return 1
		}
		if err := t.ls(in, fields, headers, snap); err != nil {
			fmt.Fprintf(t.err, "%s\n", err)
			return 1
		}
		return 0
	})
}

func (t *tool) ls(path string, fields []string, headers, snap bool) error {
	im, err := t.openImage(path, false, !snap)
	if err != nil {
		return err
	}
	defer im.close()
	sb, err := im.openMetadata(snap, nil)
	if err != nil {
		return err
	}
	devs, dmg, err := readDetails(im, sb.DeviceDetailsRoot)
	if err != nil {
		return err
	}
	if dmg != nil {
		return toolError(msgDamage)
	}
	needExclusive := false
	for _, f := range fields {
		if strings.Contains(f, "EXCLUSIVE") || strings.Contains(f, "SHARED") {
			needExclusive = true
		}
	}
	bs := uint64(sb.DataBlockSize)
	var grid [][]string
	if headers {
		grid = append(grid, fields)
	}
	var users map[uint64]uint8 // data block -> 1 exclusive, 2 shared
	var roots map[uint64]uint64
	if needExclusive {
		top, dmg, err := readTopLevel(im, sb.DataMappingRoot)
		if err != nil {
			return err
		}
		if dmg != nil {
			return toolError(msgDamage)
		}
		roots = map[uint64]uint64{}
		for _, r := range top {
			roots[r.id] = r.root
		}
		users = map[uint64]uint8{}
		for _, d := range devs {
			r, ok := roots[d.id]
			if !ok {
				return toolError("couldn't find mapping tree root")
			}
			dmg, err := walkMappings(im, r, func(_, db uint64, _ uint32) error {
				if users[db] == 0 {
					users[db] = 1
				} else {
					users[db] = 2
				}
				return nil
			}, true)
			if err != nil {
				return err
			}
			if dmg != nil {
				return toolError(msgDamage)
			}
		}
	}
	for _, d := range devs {
		var exclusive uint64
		if needExclusive {
			dmg, err := walkMappings(im, roots[d.id], func(_, db uint64, _ uint32) error {
				if users[db] == 1 {
					exclusive++
				}
				return nil
			}, true)
			if err != nil {
				return err
			}
			if dmg != nil {
				return toolError(msgDamage)
			}
		}
		mapped := d.d.MappedBlocks
		shared := mapped - exclusive
		var row []string
		for _, f := range fields {
			var s string
			switch f {
			case "DEV":
				s = itoa(d.id)
			case "MAPPED_BLOCKS":
				s = itoa(mapped)
			case "EXCLUSIVE_BLOCKS":
				s = itoa(exclusive)
			case "SHARED_BLOCKS":
				s = itoa(shared)
			case "MAPPED_SECTORS":
				s = itoa(mapped * bs)
			case "EXCLUSIVE_SECTORS":
				s = itoa(exclusive * bs)
			case "SHARED_SECTORS":
				s = itoa(shared * bs)
			case "MAPPED_BYTES":
				s = itoa(mapped * bs * 512)
			case "EXCLUSIVE_BYTES":
				s = itoa(exclusive * bs * 512)
			case "SHARED_BYTES":
				s = itoa(shared * bs * 512)
			case "MAPPED":
				s = formatDiskUnit(mapped * bs)
			case "EXCLUSIVE":
				s = formatDiskUnit(exclusive * bs)
			case "SHARED":
				s = formatDiskUnit(shared * bs)
			case "TRANSACTION":
				s = itoa(d.d.TransactionID)
			case "CREATE_TIME":
				s = itoa(uint64(d.d.CreationTime))
			case "SNAP_TIME":
				s = itoa(uint64(d.d.SnapshottedTime))
			}
			row = append(row, s)
		}
		grid = append(grid, row)
	}
	// grid_layout: right-justified columns, each followed by a space.
	var widths []int
	for _, row := range grid {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	for _, row := range grid {
		for i, c := range row {
			t.out.WriteString(strings.Repeat(" ", widths[i]-len(c)))
			t.out.WriteString(c)
			t.out.WriteByte(' ')
		}
		t.out.WriteByte('\n')
	}
	return nil
}
