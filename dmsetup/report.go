package dmsetup

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

// The `-c` column report (libdm's dm_report as dmsetup info -c uses it).

type fieldKind int

const (
	kindString fieldKind = iota
	kindNumber
)

type fieldDef struct {
	id      string
	heading string
	width   int
	kind    fieldKind
	group   string // name_, info_, deps_
	value   func(d *cmdCtx, t *task) (string, bool)
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

var fieldDefs = []fieldDef{
	{"name", "Name", 16, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.Name, true }},
	{"mangled_name", "MangledName", 16, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.Name, true }},
	{"unmangled_name", "UnmangledName", 16, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.Name, true }},
	{"uuid", "UUID", 32, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.UUID, true }},
	{"mangled_uuid", "MangledUUID", 32, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.UUID, true }},
	{"unmangled_uuid", "UnmangledUUID", 32, kindString, "name_", func(_ *cmdCtx, t *task) (string, bool) { return t.info.UUID, true }},
	{"read_ahead", "RAhead", 6, kindNumber, "name_", func(d *cmdCtx, t *task) (string, bool) {
		ra, ok := d.readAhead(t.info.Name, t.info.Dev)
		if !ok {
			ra = 0
		}
		return num(int64(ra)), true
	}},
	{"blkdevname", "BlkDevName", 16, kindString, "info_", func(d *cmdCtx, t *task) (string, bool) {
		if b, err := d.k.BdevByDevT(t.info.Dev); err == nil && b != nil {
			return b.Name(), true
		}
		d.errorf("Could not resolve block device name for %d:%d.", t.info.Dev.Major, t.info.Dev.Minor)
		return "", false
	}},
	{"attr", "Stat", 4, kindString, "info_", func(_ *cmdCtx, t *task) (string, bool) {
		b := []byte("----")
		if t.info.LivePresent {
			b[0] = 'L'
		}
		if t.info.InactivePresent {
			b[1] = 'I'
		}
		if t.info.Suspended {
			b[2] = 's'
		}
		b[3] = 'w'
		if t.info.ReadOnly {
			b[3] = 'r'
		}
		return string(b), true
	}},
	{"tables_loaded", "Tables", 6, kindString, "info_", func(_ *cmdCtx, t *task) (string, bool) {
		switch {
		case t.info.LivePresent && t.info.InactivePresent:
			return "Both", true
		case t.info.LivePresent:
			return "Live", true
		case t.info.InactivePresent:
			return "Inactive", true
		}
		return "None", true
	}},
	{"suspended", "Suspended", 9, kindString, "info_", func(_ *cmdCtx, t *task) (string, bool) {
		if t.info.Suspended {
			return "Suspended", true
		}
		return "Active", true
	}},
	{"readonly", "Read-only", 9, kindString, "info_", func(_ *cmdCtx, t *task) (string, bool) {
		if t.info.ReadOnly {
			return "Read-only", true
		}
		return "Writeable", true
	}},
	{"devno", "DevNo", 5, kindString, "info_", func(_ *cmdCtx, t *task) (string, bool) {
		return fmt.Sprintf("%d:%d", t.info.Dev.Major, t.info.Dev.Minor), true
	}},
	{"major", "Maj", 3, kindNumber, "info_", func(_ *cmdCtx, t *task) (string, bool) { return num(int64(t.info.Dev.Major)), true }},
	{"minor", "Min", 3, kindNumber, "info_", func(_ *cmdCtx, t *task) (string, bool) { return num(int64(t.info.Dev.Minor)), true }},
	{"open", "Open", 4, kindNumber, "info_", func(_ *cmdCtx, t *task) (string, bool) { return num(int64(t.info.OpenCount)), true }},
	{"segments", "Targ", 4, kindNumber, "info_", func(_ *cmdCtx, t *task) (string, bool) { return num(int64(t.info.TargetCount)), true }},
	{"events", "Event", 6, kindNumber, "info_", func(_ *cmdCtx, t *task) (string, bool) { return num(int64(t.info.EventNr)), true }},
	{"device_count", "#Devs", 5, kindNumber, "deps_", func(d *cmdCtx, t *task) (string, bool) {
		deps, ok := d.depsOf(t)
		return num(int64(len(deps))), ok
	}},
	{"devnos_used", "DevNosUsed", 16, kindString, "deps_", func(d *cmdCtx, t *task) (string, bool) {
		deps, ok := d.depsOf(t)
		var s []string
		for _, dev := range deps {
			s = append(s, dev.String())
		}
		return strings.Join(s, ","), ok
	}},
	{"blkdevs_used", "BlkDevNamesUsed", 16, kindString, "deps_", func(d *cmdCtx, t *task) (string, bool) {
		deps, ok := d.depsOf(t)
		var s []string
		for _, dev := range deps {
			if b, err := d.k.BdevByDevT(dev); err == nil && b != nil {
				s = append(s, b.Name())
			} else {
				s = append(s, dev.String())
			}
		}
		return strings.Join(s, ","), ok
	}},
}

func (d *cmdCtx) depsOf(t *task) ([]dmsim.DevT, bool) {
	dt := d.newTask(tDeps)
	dt.major, dt.minor = int(t.info.Dev.Major), int(t.info.Dev.Minor)
	d.applyCommon(dt)
	if !dt.run() || !dt.exists {
		d.errorf("Cannot get deps for %d:%d.", t.info.Dev.Major, t.info.Dev.Minor)
		return nil, false
	}
	return dt.deps, true
}

const defaultReportOptions = "name,major,minor,attr,open,segments,events,uuid"

type report struct {
	fields   []*fieldDef
	widths   []int
	rows     [][]string
	sep      string
	aligned  bool
	headings bool
	prefixes bool
	sortKeys []sortKey
	visible  int // fields shown; the rest only sort
}

type sortKey struct {
	field int
	desc  bool
}

func lookupField(name string) []*fieldDef {
	name = strings.ToLower(name)
	var out []*fieldDef
	for _, g := range []string{"name_", "info_", "deps_"} {
		if name == g+"all" {
			for i := range fieldDefs {
				if fieldDefs[i].group == g {
					out = append(out, &fieldDefs[i])
				}
			}
			return out
		}
	}
	for i := range fieldDefs {
		f := &fieldDefs[i]
		if f.id == name || f.group+f.id == name {
			return []*fieldDef{f}
		}
	}
	return nil
}

// newReport is _report_init for the info command.
func (d *cmdCtx) newReport(cmd *command) (*report, bool) {
	r := &report{sep: " ", aligned: true, headings: true}
	options := defaultReportOptions
	if d.switches.given(optNoHeadings) {
		r.sep, r.aligned, r.headings = ":", false, false
	}
	if d.switches.given(optNamePrefixes) {
		r.aligned, r.prefixes = false, true
	}
	if o, ok := d.strArg[optOptions]; ok && d.switches.given(optOptions) {
		if strings.Contains(o, "help") {
			io.WriteString(d.p.Stderr, fieldsText)
			return nil, false
		}
		if strings.HasPrefix(o, "+") {
			options += "," + o[1:]
		} else {
			options = o
		}
	}
	if s, ok := d.strArg[optSeparator]; ok && d.switches.given(optSeparator) {
		r.sep, r.aligned = s, false
	}
	for _, f := range strings.Split(options, ",") {
		if f == "" {
			continue
		}
		defs := lookupField(f)
		if defs == nil {
			io.WriteString(d.p.Stderr, fieldsText)
			d.errorf("Unrecognised field: %s", f)
			return nil, false
		}
		r.fields = append(r.fields, defs...)
	}
	r.visible = len(r.fields)
	if keys, ok := d.strArg[optSort]; ok && d.switches.given(optSort) {
		if cmd.name == "status" || cmd.name == "table" {
			d.errorf("--sort is not yet supported with status and table.")
			return nil, false
		}
		for _, k := range strings.Split(keys, ",") {
			desc := false
			switch {
			case strings.HasPrefix(k, "-"):
				desc, k = true, k[1:]
			case strings.HasPrefix(k, "+"):
				k = k[1:]
			}
			defs := lookupField(k)
			if len(defs) != 1 {
				io.WriteString(d.p.Stderr, fieldsText)
				d.errorf("Unrecognised field: %s", k)
				return nil, false
			}
			idx := -1
			for i, f := range r.fields {
				if f == defs[0] {
					idx = i
				}
			}
			if idx < 0 {
				r.fields = append(r.fields, defs[0]) // hidden sort column
				idx = len(r.fields) - 1
			}
			r.sortKeys = append(r.sortKeys, sortKey{field: idx, desc: desc})
		}
	}
	r.widths = make([]int, len(r.fields))
	for i, f := range r.fields {
		r.widths[i] = max(f.width, len(f.heading))
	}
	return r, true
}

func (r *report) addRow(d *cmdCtx, t *task) bool {
	row := make([]string, len(r.fields))
	for i, f := range r.fields {
		v, ok := f.value(d, t)
		if !ok {
			return false
		}
		row[i] = v
		r.widths[i] = max(r.widths[i], len(v))
	}
	r.rows = append(r.rows, row)
	return true
}

func (r *report) output(w io.Writer) {
	if len(r.rows) == 0 {
		return
	}
	if len(r.sortKeys) > 0 {
		sort.SliceStable(r.rows, func(a, b int) bool {
			for _, k := range r.sortKeys {
				x, y := r.rows[a][k.field], r.rows[b][k.field]
				if x == y {
					continue
				}
				less := x < y
				if r.fields[k.field].kind == kindNumber {
					xi, _ := strconv.ParseInt(x, 10, 64)
					yi, _ := strconv.ParseInt(y, 10, 64)
					less = xi < yi
				}
				if k.desc {
					return !less
				}
				return less
			}
			return false
		})
	}
	var b strings.Builder
	if r.headings {
		for i, f := range r.fields[:r.visible] {
			if i > 0 {
				b.WriteString(r.sep)
			}
			if r.aligned {
				fmt.Fprintf(&b, "%-*s", r.widths[i], f.heading)
			} else {
				b.WriteString(f.heading)
			}
		}
		b.WriteString("\n")
	}
	for _, row := range r.rows {
		for i, f := range r.fields[:r.visible] {
			if i > 0 {
				b.WriteString(r.sep)
			}
			v := row[i]
			switch {
			case r.prefixes:
				fmt.Fprintf(&b, "DM_%s='%s'", strings.ToUpper(f.id), v)
			case !r.aligned:
				b.WriteString(v)
			case f.kind == kindNumber:
				fmt.Fprintf(&b, "%*s", r.widths[i], v)
			default:
				fmt.Fprintf(&b, "%-*s", r.widths[i], v)
			}
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}
