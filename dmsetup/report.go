package dmsetup

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
)

// The column report of `dmsetup -c` (info -c, splitname, ...): dmsetup's
// field table (tools/dmsetup.c _report_fields) on libdm's dm_report
// (libdm/libdm-report.c): field name matching, sort keys, the aligned,
// separated, name-prefixed and columns-as-rows layouts.

// objType is a report object type (dmsetup's report_type_t).
type objType uint32

// The object types of dmsetup's report, and libdm's implicit one.
const (
	drTask      objType = 1 << iota // DR_TASK: the info ioctl's name and uuid
	drInfo                          // DR_INFO: struct dm_info
	drDeps                          // DR_DEPS: a deps ioctl
	drTree                          // DR_TREE: the dependency tree of all devices
	drName                          // DR_NAME: the name split into its LVM parts
	drStats                         // DR_STATS: statistics counters
	drStatsMeta                     // DR_STATS_META: statistics regions
	drSpecial   objType = 1 << 31   // libdm's implicit fields (selected, help)
	typesAll    objType = ^objType(0)
)

// reportTypes is _report_types: the prefixes name the "<prefix>all" fields.
var reportTypes = []struct {
	id     objType
	prefix string
}{
	{drTask, "name_"}, {drInfo, "info_"}, {drDeps, "deps_"}, {drTree, "tree_"},
	{drName, "splitname_"}, {drStats, "stats_"}, {drStatsMeta, "region_"},
}

type fieldKind int

const (
	kindString fieldKind = iota
	kindNumber
)

// reportObj is struct dmsetup_report_obj: what the field functions read.
type reportObj struct {
	t     *task        // DR_TASK and DR_INFO (nil for splitname)
	deps  []dmsim.DevT // DR_DEPS
	node  *treeNode    // DR_TREE
	split *splitName   // DR_NAME
	row   *reportRow   // the special "selected" field
}

// has reports whether the object carries the data of type typ
// (_report_get_field_data's data_fn not returning NULL).
func (o *reportObj) has(typ objType) bool {
	switch typ {
	case drTask, drInfo:
		return o.t != nil
	case drDeps:
		return o.t != nil && o.deps != nil
	case drTree:
		return o.node != nil
	case drName:
		return o.split != nil
	case drSpecial:
		return o.row != nil
	}
	return false // statistics are not supported
}

type fieldDef struct {
	typ     objType
	kind    fieldKind
	heading string
	width   int
	id      string
	value   func(d *cmdCtx, o *reportObj) (string, bool)
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

func strField(s string) func(*cmdCtx, *reportObj) (string, bool) {
	return func(*cmdCtx, *reportObj) (string, bool) { return s, true }
}

// fieldDefs is _report_fields, in its order (the order of "all" fields).
var fieldDefs = []fieldDef{
	{drTask, kindString, "Name", 16, "name", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.t.info.Name, true }},
	{drTask, kindString, "MangledName", 16, "mangled_name", func(d *cmdCtx, o *reportObj) (string, bool) {
		return d.mangled(o.t.info.Name, "name", dmNameLen)
	}},
	{drTask, kindString, "UnmangledName", 16, "unmangled_name", func(d *cmdCtx, o *reportObj) (string, bool) {
		return d.answerUnmangled(o.t.info.Name, "name")
	}},
	{drTask, kindString, "UUID", 32, "uuid", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.t.info.UUID, true }},
	{drTask, kindString, "MangledUUID", 32, "mangled_uuid", func(d *cmdCtx, o *reportObj) (string, bool) {
		return d.mangled(o.t.info.UUID, "UUID", dmUUIDLen)
	}},
	{drTask, kindString, "UnmangledUUID", 32, "unmangled_uuid", func(d *cmdCtx, o *reportObj) (string, bool) {
		return d.answerUnmangled(o.t.info.UUID, "UUID")
	}},
	{drTask, kindNumber, "RAhead", 6, "read_ahead", func(d *cmdCtx, o *reportObj) (string, bool) {
		ra, ok := d.readAhead(o.t.info.Name, o.t.info.Dev)
		if !ok {
			ra = 0
		}
		return num(int64(ra)), true
	}},

	{drInfo, kindString, "BlkDevName", 16, "blkdevname", func(d *cmdCtx, o *reportObj) (string, bool) {
		return d.blkDevName(o.t.info.Dev)
	}},
	{drInfo, kindString, "Stat", 4, "attr", func(_ *cmdCtx, o *reportObj) (string, bool) {
		i := &o.t.info
		b := []byte("---w")
		if i.LivePresent {
			b[0] = 'L'
		}
		if i.InactivePresent {
			b[1] = 'I'
		}
		if i.Suspended {
			b[2] = 's'
		}
		if i.ReadOnly {
			b[3] = 'r'
		}
		return string(b), true
	}},
	{drInfo, kindString, "Tables", 6, "tables_loaded", func(_ *cmdCtx, o *reportObj) (string, bool) {
		i := &o.t.info
		switch {
		case i.LivePresent && i.InactivePresent:
			return "Both", true
		case i.LivePresent:
			return "Live", true
		case i.InactivePresent:
			return "Inactive", true
		}
		return "None", true
	}},
	{drInfo, kindString, "Suspended", 9, "suspended", func(_ *cmdCtx, o *reportObj) (string, bool) {
		if o.t.info.Suspended {
			return "Suspended", true
		}
		return "Active", true
	}},
	{drInfo, kindString, "Read-only", 9, "readonly", func(_ *cmdCtx, o *reportObj) (string, bool) {
		if o.t.info.ReadOnly {
			return "Read-only", true
		}
		return "Writeable", true
	}},
	{drInfo, kindString, "DevNo", 5, "devno", func(_ *cmdCtx, o *reportObj) (string, bool) {
		return devnoString(o.t.info.Dev), true
	}},
	{drInfo, kindNumber, "Maj", 3, "major", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(o.t.info.Dev.Major)), true }},
	{drInfo, kindNumber, "Min", 3, "minor", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(o.t.info.Dev.Minor)), true }},
	{drInfo, kindNumber, "Open", 4, "open", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(o.t.info.OpenCount)), true }},
	{drInfo, kindNumber, "Targ", 4, "segments", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(o.t.info.TargetCount)), true }},
	{drInfo, kindNumber, "Event", 6, "events", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(o.t.info.EventNr)), true }},

	{drDeps, kindNumber, "#Devs", 5, "device_count", func(_ *cmdCtx, o *reportObj) (string, bool) { return num(int64(len(o.deps))), true }},
	{drTree, kindString, "DevNamesUsed", 16, "devs_used", func(_ *cmdCtx, o *reportObj) (string, bool) {
		return o.node.names(o.node.uses), true
	}},
	{drDeps, kindString, "DevNosUsed", 16, "devnos_used", func(_ *cmdCtx, o *reportObj) (string, bool) {
		s := make([]string, len(o.deps))
		for i, dev := range o.deps {
			s[i] = devnoString(dev)
		}
		return strings.Join(s, ","), true
	}},
	{drDeps, kindString, "BlkDevNamesUsed", 16, "blkdevs_used", func(d *cmdCtx, o *reportObj) (string, bool) {
		s := make([]string, len(o.deps))
		for i, dev := range o.deps {
			n, ok := d.blkDevName(dev)
			if !ok {
				return "", false
			}
			s[i] = n
		}
		return strings.Join(s, ","), true
	}},
	{drTree, kindNumber, "#Refs", 5, "device_ref_count", func(_ *cmdCtx, o *reportObj) (string, bool) {
		return num(int64(len(o.node.usedBy))), true
	}},
	{drTree, kindString, "RefNames", 8, "names_using_dev", func(_ *cmdCtx, o *reportObj) (string, bool) {
		return o.node.names(o.node.usedBy), true
	}},
	{drTree, kindString, "RefDevNos", 9, "devnos_using_dev", func(_ *cmdCtx, o *reportObj) (string, bool) {
		s := make([]string, len(o.node.usedBy))
		for i, p := range o.node.usedBy {
			s[i] = devnoString(p.dev)
		}
		return strings.Join(s, ","), true
	}},

	{drName, kindString, "Subsys", 6, "subsystem", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.split.subsystem, true }},
	{drName, kindString, "VG", 4, "vg_name", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.split.vg, true }},
	{drName, kindString, "LV", 4, "lv_name", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.split.lv, true }},
	{drName, kindString, "LVLayer", 7, "lv_layer", func(_ *cmdCtx, o *reportObj) (string, bool) { return o.split.layer, true }},
}

// statsFields are the DR_STATS and DR_STATS_META fields: dmsim knows their
// names but has no statistics (@stats_* messages).
var statsFields = []struct {
	typ     objType
	kind    fieldKind
	heading string
	width   int
	id      string
}{
	{drStats, kindNumber, "#Reads", 6, "read_count"},
	{drStats, kindNumber, "#RdMrgs", 7, "reads_merged_count"},
	{drStats, kindNumber, "#RdSectors", 10, "read_sector_count"},
	{drStats, kindNumber, "AccRdTime", 11, "read_time"},
	{drStats, kindNumber, "#Writes", 7, "write_count"},
	{drStats, kindNumber, "#WrMrgs", 7, "writes_merged_count"},
	{drStats, kindNumber, "#WrSectors", 10, "write_sector_count"},
	{drStats, kindNumber, "AccWrTime", 11, "write_time"},
	{drStats, kindNumber, "#InProg", 7, "in_progress_count"},
	{drStats, kindNumber, "IoTicks", 7, "io_ticks"},
	{drStats, kindNumber, "QueueTicks", 10, "queue_ticks"},
	{drStats, kindNumber, "RdTicks", 7, "read_ticks"},
	{drStats, kindNumber, "WrTicks", 7, "write_ticks"},
	{drStats, kindNumber, "RMrg/s", 6, "reads_merged_per_sec"},
	{drStats, kindNumber, "WMrg/s", 6, "writes_merged_per_sec"},
	{drStats, kindNumber, "R/s", 3, "reads_per_sec"},
	{drStats, kindNumber, "W/s", 3, "writes_per_sec"},
	{drStats, kindNumber, "RSz/s", 5, "read_size_per_sec"},
	{drStats, kindNumber, "WSz/s", 5, "write_size_per_sec"},
	{drStats, kindNumber, "AvgRqSz", 7, "avg_request_size"},
	{drStats, kindNumber, "QSize", 5, "queue_size"},
	{drStats, kindNumber, "AWait", 5, "await"},
	{drStats, kindNumber, "RdAWait", 7, "read_await"},
	{drStats, kindNumber, "WrAWait", 7, "write_await"},
	{drStats, kindNumber, "Throughput", 10, "throughput"},
	{drStats, kindNumber, "SvcTm", 5, "service_time"},
	{drStats, kindNumber, "Util%", 5, "util"},
	{drStats, kindString, "Histogram Counts", 16, "hist_count"},
	{drStats, kindString, "Histogram Counts", 16, "hist_count_bounds"},
	{drStats, kindString, "Histogram Counts", 16, "hist_count_ranges"},
	{drStats, kindString, "Histogram%", 10, "hist_percent"},
	{drStats, kindString, "Histogram%", 10, "hist_percent_bounds"},
	{drStats, kindString, "Histogram%", 10, "hist_percent_ranges"},
	{drStats, kindNumber, "IntervalNs", 10, "interval_ns"},
	{drStats, kindNumber, "Interval", 8, "interval"},
	{drStatsMeta, kindNumber, "RgID", 4, "region_id"},
	{drStatsMeta, kindNumber, "RgStart", 7, "region_start"},
	{drStatsMeta, kindNumber, "RgSize", 6, "region_len"},
	{drStatsMeta, kindNumber, "ArID", 4, "area_id"},
	{drStatsMeta, kindNumber, "ArStart", 7, "area_start"},
	{drStatsMeta, kindNumber, "ArSize", 6, "area_len"},
	{drStatsMeta, kindNumber, "ArOff", 5, "area_offset"},
	{drStatsMeta, kindNumber, "#Areas", 6, "area_count"},
	{drStatsMeta, kindNumber, "GrpID", 5, "group_id"},
	{drStatsMeta, kindString, "ProgID", 6, "program_id"},
	{drStatsMeta, kindString, "UserData", 8, "user_data"},
	{drStatsMeta, kindString, "Precise", 7, "precise"},
	{drStatsMeta, kindString, "#Bins", 9, "hist_bins"},
	{drStatsMeta, kindString, "Histogram Bounds", 16, "hist_bounds"},
	{drStatsMeta, kindString, "Histogram Ranges", 16, "hist_ranges"},
	{drStatsMeta, kindString, "Name", 16, "stats_name"},
	{drStatsMeta, kindString, "ObjType", 7, "obj_type"},
}

func init() {
	for _, f := range statsFields {
		fieldDefs = append(fieldDefs, fieldDef{f.typ, f.kind, f.heading, f.width, f.id, nil})
	}
}

// implicitFields is libdm's _implicit_special_report_fields_with_selection.
var implicitFields = []fieldDef{
	{drSpecial, kindNumber, "Selected", 8, "selected", strField("1")},
	{drSpecial, kindNumber, "Help", 8, "help", strField("")},
	{drSpecial, kindNumber, "Help", 8, "?", strField("")},
}

func devnoString(dev dmsim.DevT) string { return fmt.Sprintf("%d:%d", dev.Major, dev.Minor) }

// blkDevName is dm_device_get_name with prefer_kernel_name set: the name
// /sys/dev/block/M:m links to. A mapped device that never had a table has
// no block device yet.
func (d *cmdCtx) blkDevName(dev dmsim.DevT) (string, bool) {
	if b, err := d.k.BdevByDevT(dev); err == nil && b != nil {
		return b.Name(), true
	}
	d.errorf("Could not resolve block device name for %d:%d.", dev.Major, dev.Minor)
	return "", false
}

const (
	defaultReportOptions   = "name,major,minor,attr,open,segments,events,uuid"
	splitnameReportOptions = "vg_name,lv_name,lv_layer"
)

// reportField is libdm's struct field_properties: one field of the report.
type reportField struct {
	def      *fieldDef
	implicit bool
	hidden   bool // only a sort key
	sortKey  bool
	desc     bool
	width    int
}

type cell struct {
	s   string
	num uint64
}

type reportRow struct {
	cells []cell // in the order of report.fields
}

// report is a struct dm_report with dmsetup's options.
type report struct {
	types       objType // rh->report_types
	fieldPrefix string
	fields      []*reportField // field_props: sort-only fields first
	keys        []*reportField // sort keys in order
	rows        []*reportRow

	sep      string
	aligned  bool
	headings bool
	prefixes bool
	quoted   bool
	asRows   bool

	alreadyReported bool // help was shown: nothing else is reported
	tree            *depTree
}

// prefixOf is _find_type(...)->prefix for the report's initial type.
func prefixOf(t objType) string {
	for _, rt := range reportTypes {
		if rt.id == t {
			return rt.prefix
		}
	}
	return ""
}

// newReport is _report_init with dm_report_init_with_selection.
func (d *cmdCtx) newReport(cmd *command) (*report, bool) {
	r := &report{sep: " ", aligned: true, headings: true, quoted: true}
	options := defaultReportOptions
	var initial objType
	if cmd.name == "splitname" {
		options = splitnameReportOptions
		initial = drName
	}
	if d.switches.given(optNoHeadings) {
		r.sep, r.aligned, r.headings = ":", false, false
	}
	if d.switches.given(optRows) {
		r.asRows = true
	}
	if d.switches.given(optUnquoted) {
		r.quoted = false
	}
	if d.switches.given(optNamePrefixes) {
		r.aligned, r.prefixes = false, true
	}
	if o, ok := d.strArg[optOptions]; ok && d.switches.given(optOptions) {
		if strings.Contains(o, "help") {
			r.headings = false
		}
		if strings.HasPrefix(o, "+") {
			options += "," + o[1:]
		} else {
			options = o
		}
	}
	keys := ""
	if k, ok := d.strArg[optSort]; ok && d.switches.given(optSort) {
		keys = k
		if cmd.name == "status" || cmd.name == "table" {
			d.errorf("--sort is not yet supported with status and table.")
			return nil, false
		}
	}
	if s, ok := d.strArg[optSeparator]; ok && d.switches.given(optSeparator) {
		r.sep, r.aligned = s, false
	}
	if r.asRows {
		r.aligned = false
	}
	r.types = initial
	r.fieldPrefix = prefixOf(initial)
	// Like dm_report_init, parse twice: first only to learn the types
	// ("all" expands to the types seen so far), then to add the fields.
	for _, typesOnly := range []bool{true, false} {
		if !r.parseFields(d, options, typesOnly) || !r.parseKeys(d, keys, typesOnly) {
			return nil, false
		}
	}
	for _, f := range r.fields {
		if f.implicit && f.def.id != "selected" {
			io.WriteString(d.p.Stderr, fieldsText)
			r.alreadyReported = true
			break
		}
	}
	if r.types&drTree != 0 {
		if r.tree = d.buildDepTree(); r.tree == nil {
			d.errorf("Internal device dependency tree creation failed.")
			return nil, false
		}
	}
	return r, true
}

// canonicalField is _get_canonical_field_name: the name without its
// underscores, at most 31 characters. rest is the whole remaining option
// string, which the error message prints from where the name got too long.
func (d *cmdCtx) canonicalField(name, rest string) (string, bool) {
	var b []byte
	for i := 0; i < len(name); i++ {
		if name[i] == '_' {
			continue
		}
		if len(b)+1 >= 32 {
			d.errorf("%s: field name too long.", rest[i:])
			return "", false
		}
		b = append(b, name[i])
	}
	return string(b), true
}

func canonicalID(id string) string { return strings.ReplaceAll(id, "_", "") }

// getField is _get_field: implicit fields first, then dmsetup's, by
// canonical name, ignoring case. (libdm's match with the type prefix never
// matches: it compares the prefix with the field's own name.)
func (r *report) getField(d *cmdCtx, name, rest string) (*fieldDef, bool, bool) {
	if name == "" {
		return nil, false, false
	}
	canon, ok := d.canonicalField(name, rest)
	if !ok {
		return nil, false, false
	}
	for i := range implicitFields {
		if strings.EqualFold(implicitFields[i].id, canon) {
			return &implicitFields[i], true, true
		}
	}
	for i := range fieldDefs {
		if strings.EqualFold(canonicalID(fieldDefs[i].id), canon) {
			return &fieldDefs[i], false, true
		}
	}
	return nil, false, false
}

// allMatch is _all_match: "all" and "<type prefix>all".
func (r *report) allMatch(d *cmdCtx, name, rest string) objType {
	var types objType
	unprefixed := false
	if strings.EqualFold(name, "all") {
		if r.fieldPrefix == "" {
			if r.types != 0 {
				return r.types
			}
			return typesAll
		}
		unprefixed = true
		name, rest = r.fieldPrefix, r.fieldPrefix
		types = r.types
	}
	canon, ok := d.canonicalField(name, rest)
	if !ok {
		return types
	}
	for _, t := range reportTypes {
		p := strings.TrimSuffix(t.prefix, "_")
		if len(canon) < len(p) || !strings.EqualFold(canon[:len(p)], p) {
			continue
		}
		if (unprefixed && len(canon) == len(p)) || strings.EqualFold(canon[len(p):], "all") {
			types |= t.id
		}
	}
	return types
}

// addField is _add_field: sort-only fields go first.
func (r *report) addField(def *fieldDef, implicit, hidden bool) *reportField {
	f := &reportField{def: def, implicit: implicit, hidden: hidden, width: def.width}
	if hidden {
		r.fields = append([]*reportField{f}, r.fields...)
	} else {
		r.fields = append(r.fields, f)
	}
	return f
}

// items splits a field or key list at commas, skipping runs of commas; an
// empty item remains where the list ends in commas. rest is the list from
// the item on.
func items(list string, fn func(item, rest string) bool) bool {
	for i := 0; i < len(list); {
		for i < len(list) && list[i] == ',' {
			i++
		}
		j := i
		for j < len(list) && list[j] != ',' {
			j++
		}
		if !fn(list[i:j], list[i:]) {
			return false
		}
		i = j
	}
	return true
}

// parseFields is _parse_fields with _field_match.
func (r *report) parseFields(d *cmdCtx, list string, typesOnly bool) bool {
	return items(list, func(name, rest string) bool {
		if def, implicit, ok := r.getField(d, name, rest); ok {
			if typesOnly {
				r.types |= def.typ
			} else {
				r.addField(def, implicit, false)
			}
			return true
		}
		if name != "" {
			if t := r.allMatch(d, name, rest); t != 0 {
				if typesOnly {
					r.types |= t
					return true
				}
				for i := range fieldDefs {
					if fieldDefs[i].typ&t != 0 {
						r.addField(&fieldDefs[i], false, false)
					}
				}
				return true
			}
		}
		io.WriteString(d.p.Stderr, fieldsText)
		d.errorf("Unrecognised field: %s", name)
		return false
	})
}

// parseKeys is _parse_keys with _key_match and _add_sort_key.
func (r *report) parseKeys(d *cmdCtx, list string, typesOnly bool) bool {
	return items(list, func(key, rest string) bool {
		name, desc := key, false
		if name != "" && (name[0] == '+' || name[0] == '-') {
			desc = name[0] == '-'
			name, rest = name[1:], rest[1:]
			if name == "" {
				d.errorf("dm_report: Missing sort field name")
			}
		}
		def, implicit, ok := r.getField(d, name, rest)
		if !ok {
			io.WriteString(d.p.Stderr, fieldsText)
			d.errorf("dm_report: Unrecognised field: %s", key)
			return false
		}
		var found *reportField
		for _, f := range r.fields {
			if f.def == def {
				found = f
				break
			}
		}
		if typesOnly {
			if found == nil {
				r.types |= def.typ
			}
			return true
		}
		if found == nil {
			found = r.addField(def, implicit, true)
		}
		if found.sortKey {
			fmt.Fprintf(d.p.Stderr, "dm_report: Ignoring duplicate sort field: %s.\n", def.id)
			return true
		}
		found.sortKey, found.desc = true, desc
		r.keys = append(r.keys, found)
		return true
	})
}

// objectTypes is the report type dmsetup learns from dm_report_init: the
// types of all fields and keys, without libdm's implicit one.
func (r *report) objectTypes() objType { return r.types &^ drSpecial }

// addObject is _do_report_object: every field's function in turn; the
// first that fails drops the row.
func (r *report) addObject(d *cmdCtx, o *reportObj) bool {
	if r.alreadyReported {
		return true
	}
	row := &reportRow{cells: make([]cell, len(r.fields))}
	o.row = row
	for i, f := range r.fields {
		if !o.has(f.def.typ) {
			d.errorf("_do_report_object: no data assigned to field %s", f.def.id)
			return false
		}
		v, ok := "", false
		if f.def.value != nil {
			v, ok = f.def.value(d, o)
		}
		if !ok {
			d.errorf("_do_report_object: report function failed for field %s", f.def.id)
			return false
		}
		c := cell{s: v}
		if f.def.kind == kindNumber {
			n, _ := strconv.ParseInt(v, 10, 64)
			c.num = uint64(n)
		}
		row.cells[i] = c
	}
	r.rows = append(r.rows, row)
	return true
}

// displayInfoCols is _display_info_cols: the objects the report's types
// need, then the row. A failure fails the command (after the other
// devices, when all are listed).
func (d *cmdCtx) displayInfoCols(t *task) bool {
	r := d.report
	types := r.objectTypes()
	o := &reportObj{t: t}
	dev := t.info.Dev
	if types&drTree != 0 && r.tree != nil {
		if o.node = r.tree.nodes[dev]; o.node == nil {
			d.errorf("Cannot find node %d:%d.", dev.Major, dev.Minor)
			return false
		}
	}
	if types&drDeps != 0 {
		dt := d.newTask(tDeps)
		dt.major, dt.minor = int(dev.Major), int(dev.Minor)
		d.applyCommon(dt)
		if !dt.run() || !dt.exists {
			d.errorf("Cannot get deps for %d:%d.", dev.Major, dev.Minor)
			return false
		}
		o.deps = dt.deps
		if o.deps == nil {
			o.deps = []dmsim.DevT{}
		}
	}
	if types&drName != 0 {
		o.split = splitDeviceName(t.info.UUID, t.info.Name, true)
	}
	if types&(drStats|drStatsMeta) != 0 {
		// dmsim has no statistics regions: a device without regions
		// reports no row, and that is no error.
		return true
	}
	return r.addObject(d, o)
}

func (r *report) visible() []int {
	var v []int
	for i, f := range r.fields {
		if !f.hidden {
			v = append(v, i)
		}
	}
	return v
}

// formatField is _output_field_basic_fmt.
func (r *report) formatField(b *strings.Builder, f *reportField, v string) {
	if r.prefixes {
		b.WriteString("DM_" + strings.ToUpper(f.def.id) + "=")
		if r.quoted {
			b.WriteByte('\'')
		}
	}
	switch {
	case !r.aligned:
		b.WriteString(v)
	case f.def.kind == kindNumber:
		b.WriteString(padBytes(v, f.width, true))
	default:
		b.WriteString(padBytes(v, f.width, false))
	}
	if r.prefixes && r.quoted {
		b.WriteByte('\'')
	}
}

// padBytes pads v with spaces to width bytes, as C's printf("%*s") and
// "%-*s" do: they count bytes, not characters, so UTF-8 names get less
// padding than Go's fmt would give them.
func padBytes(v string, width int, right bool) string {
	if len(v) >= width {
		return v
	}
	pad := strings.Repeat(" ", width-len(v))
	if right {
		return pad + v
	}
	return v + pad
}

// output is dm_report_output (after dm_report_column_headings).
func (r *report) output(w io.Writer) {
	if len(r.rows) == 0 {
		return
	}
	// _recalculate_fields
	for _, row := range r.rows {
		for i, c := range row.cells {
			r.fields[i].width = max(r.fields[i].width, len(c.s))
		}
	}
	r.sortRows()
	vis := r.visible()
	var b strings.Builder
	if r.asRows {
		// _output_as_rows: a line per field, its heading first.
		for _, i := range vis {
			f := r.fields[i]
			if r.headings {
				b.WriteString(f.def.heading + r.sep)
			}
			for j, row := range r.rows {
				r.formatField(&b, f, row.cells[i].s)
				if j < len(r.rows)-1 {
					b.WriteString(r.sep)
				}
			}
			b.WriteString("\n")
		}
		io.WriteString(w, b.String())
		return
	}
	if r.headings {
		for k, i := range vis {
			f := r.fields[i]
			if r.aligned {
				h := f.def.heading
				if len(h) > f.width {
					h = h[:f.width]
				}
				b.WriteString(padBytes(h, f.width, false))
			} else {
				b.WriteString(f.def.heading)
			}
			if k < len(vis)-1 {
				b.WriteString(r.sep)
			}
		}
		b.WriteString("\n")
	}
	for _, row := range r.rows {
		for k, i := range vis {
			if k > 0 {
				b.WriteString(r.sep)
			}
			r.formatField(&b, r.fields[i], row.cells[i].s)
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

// sortRows is _sort_rows with _row_compare: numbers as numbers, the rest
// as strings; glibc's qsort is a merge sort here, so equal rows keep their
// order.
func (r *report) sortRows() {
	if len(r.keys) == 0 {
		return
	}
	idx := map[*reportField]int{}
	for i, f := range r.fields {
		idx[f] = i
	}
	sort.SliceStable(r.rows, func(a, b int) bool {
		for _, k := range r.keys {
			x, y := r.rows[a].cells[idx[k]], r.rows[b].cells[idx[k]]
			var cmp int
			if k.def.kind == kindNumber {
				switch {
				case x.num < y.num:
					cmp = -1
				case x.num > y.num:
					cmp = 1
				}
			} else {
				cmp = strings.Compare(x.s, y.s)
			}
			if cmp == 0 {
				continue
			}
			if k.desc {
				return cmp > 0
			}
			return cmp < 0
		}
		return false
	})
}

// splitName is struct dm_split_name.
type splitName struct {
	subsystem, vg, lv, layer string
}

// splitDeviceName is _get_split_name: the subsystem is the uuid's part
// before the first dash (or, for splitname, the whole subsystem argument);
// names of the LVM subsystem split into VG, LV and layer.
func splitDeviceName(uuid, name string, atDash bool) *splitName {
	s := &splitName{subsystem: uuid}
	if atDash {
		if i := strings.IndexByte(uuid, '-'); i >= 0 {
			s.subsystem = uuid[:i]
		} else {
			s.subsystem = ""
		}
	}
	if s.subsystem == "LVM" {
		s.vg, s.lv, s.layer = splitLVMName(name)
	}
	return s
}

// splitLVMName is dm_split_lvm_name: components are separated by single
// dashes, a doubled dash stands for a dash, and a dash at the very end is
// kept.
func splitLVMName(name string) (vg, lv, layer string) {
	var parts [3]string
	rest := name
	for k := range parts {
		var b []byte
		i := 0
		next := ""
		for i < len(rest) {
			if rest[i] == '-' && i+1 < len(rest) {
				if rest[i+1] != '-' {
					next = rest[i+1:]
					break
				}
				i++
			}
			b = append(b, rest[i])
			i++
		}
		parts[k], rest = string(b), next
	}
	return parts[0], parts[1], parts[2]
}

// splitname is _splitname: the report of one name, split.
func (d *cmdCtx) splitname(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	subsystem := "LVM"
	if argc == 2 {
		subsystem = argv[1]
	}
	return d.report.addObject(d, &reportObj{split: splitDeviceName(subsystem, argv[0], false)})
}

// ---- the dependency tree (libdm's dm_tree as dmsetup builds it) ----

type treeNode struct {
	dev    dmsim.DevT
	name   string // "" for the root and for devices that are not mapped
	uses   []*treeNode
	usedBy []*treeNode
}

// names lists the nodes' names, skipping nameless ones (_dm_tree_names).
func (n *treeNode) names(list []*treeNode) string {
	var s []string
	for _, c := range list {
		if c.name != "" {
			s = append(s, c.name)
		}
	}
	return strings.Join(s, ",")
}

type depTree struct {
	root  *treeNode
	nodes map[dmsim.DevT]*treeNode
}

func linked(parent, child *treeNode) bool {
	for _, c := range parent.uses {
		if c == child {
			return true
		}
	}
	return false
}

// link is _link_tree_nodes between two devices. (libdm also hangs the
// devices nobody uses and the ones that use nothing on its root node; no
// report field counts those links: a device nobody uses has 0 references.)
func (t *depTree) link(parent, child *treeNode) {
	if parent == t.root || linked(parent, child) {
		return
	}
	parent.uses = append(parent.uses, child)
	child.usedBy = append(child.usedBy, parent)
}

// addTreeDev is _add_dev: a device, then what its live table uses.
func (d *cmdCtx) addTreeDev(t *depTree, parent *treeNode, dev dmsim.DevT) bool {
	n := t.nodes[dev]
	isNew := n == nil
	var deps []dmsim.DevT
	exists := false
	if isNew {
		n = &treeNode{dev: dev}
		if dev.Major == dmsim.DMMajor { // dm_is_dm_major
			dt := d.newTask(tDeps)
			dt.major, dt.minor = int(dev.Major), int(dev.Minor)
			if !dt.run() {
				return false
			}
			if exists = dt.exists; exists {
				n.name = dt.info.Name
				deps = dt.deps
			}
		}
		t.nodes[dev] = n
	}
	t.link(parent, n)
	if !isNew {
		return true
	}
	if !exists || len(deps) == 0 {
		return true
	}
	for _, dep := range deps {
		if !d.addTreeDev(t, n, dep) {
			return false
		}
	}
	return true
}

// buildDepTree is _build_whole_deptree: every device, as _process_all
// lists them (it prints "No devices found" when there are none).
func (d *cmdCtx) buildDepTree() *depTree {
	t := &depTree{root: &treeNode{}, nodes: map[dmsim.DevT]*treeNode{}}
	t.nodes[dmsim.DevT{}] = t.root
	ok := d.processAll(false, func(e *dmsim.NameEntry) bool {
		return d.addTreeDev(t, t.root, e.Dev)
	})
	if !ok {
		return nil
	}
	return t
}

// ---- name mangling (libdm-common.c) ----

// whitelisted is _is_whitelisted_char: what udev allows in names unencoded.
func whitelisted(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte("#+-.:=@_", c) >= 0
}

// manglingMode is dm_get_name_mangling_mode: --manglename, or auto.
func (d *cmdCtx) manglingMode() string {
	if d.cmdName == "mangle" {
		// dmsetup mangle sees names and uuids as the kernel has them
		return "none"
	}
	if m, ok := d.strArg[optMangleName]; ok {
		return strings.ToLower(m)
	}
	return "auto"
}

// mangled is dm_task_get_name_mangled / _uuid_mangled (mangle_string):
// characters off the whitelist become \xNN; in auto mode (and none, which
// mangles as auto here) a string already mangled is kept, and a mixture is
// an error.
func (d *cmdCtx) mangled(s, what string, bufLen int) (string, bool) {
	mode := d.manglingMode()
	const (
		mixedMsg   = "The %s \"%s\" contains mixed mangled and unmangled characters or it's already mangled improperly."
		tooLongMsg = "Mangled form of the %s too long for \"%s\"."
	)
	fail := func(msg string) (string, bool) {
		d.errorf(msg, what, s)
		return "", false
	}
	const unknown, no, yes = -1, 0, 1
	need := unknown
	var b []byte
	for i := 0; i < len(s); i++ {
		if mode != "hex" && s[i] == '\\' && i+1 < len(s) && s[i+1] == 'x' {
			if len(s)-i < 4 || need == yes {
				return fail(mixedMsg)
			}
			if bufLen-len(b) < 4 {
				return fail(tooLongMsg)
			}
			b = append(b, s[i:i+4]...)
			i += 3
			need = no
			continue
		}
		if whitelisted(s[i]) {
			if bufLen-len(b) < 1 {
				return fail(tooLongMsg)
			}
			b = append(b, s[i])
			continue
		}
		if mode != "hex" && need == no {
			return fail(mixedMsg)
		}
		if bufLen-len(b) < 4 {
			return fail(tooLongMsg)
		}
		b = append(b, fmt.Sprintf("\\x%02x", s[i])...)
		need = yes
	}
	if bufLen-len(b) < 1 {
		return fail(tooLongMsg)
	}
	if need == yes {
		return string(b), true
	}
	return s, true
}

// answerUnmangled is dm_task_get_name_unmangled / _uuid_unmangled: unless
// the mode is none, the ioctl's answer is already unmangled.
func (d *cmdCtx) answerUnmangled(s, what string) (string, bool) {
	if d.manglingMode() != "none" {
		return s, true
	}
	return d.unmangled(s, what)
}

// unmangled is unmangle_string as dm_task_get_name_unmangled / _uuid_unmangled use it
// (unmangle_string): \xNN sequences decoded; unless the mode is none, a
// character off the whitelist is an error.
func (d *cmdCtx) unmangled(s, what string) (string, bool) {
	strict := d.manglingMode() != "none"
	var b []byte
	changed := false
	for i := 0; i < len(s); i++ {
		if strict && !whitelisted(s[i]) && s[i] != '\\' {
			d.errorf("The %s \"%s\" should be mangled but it contains blacklisted characters.", what, s)
			return "", false
		}
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == 'x' {
			code, n := 0, 0
			for n < 2 && i+2+n < len(s) {
				v, err := strconv.ParseUint(s[i+2+n:i+3+n], 16, 8)
				if err != nil {
					break
				}
				code = code*16 + int(v)
				n++
			}
			if n == 0 {
				break // sscanf found no hex digits: the rest is dropped
			}
			b = append(b, byte(code))
			i += 3
			changed = true
			continue
		}
		b = append(b, s[i])
	}
	if changed {
		return string(b), true
	}
	return s, true
}
