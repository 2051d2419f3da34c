package thinsync

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// Run is a range of pool blocks (virtual addresses of a thin device).
type Run struct {
	Begin, Length uint64
}

// Dump is what thinsync needs from `thin_dump -m --dev-id ID`: the
// superblock's facts and the device's mapped ranges (virtual blocks).
type Dump struct {
	Time, Transaction, BlockSize uint64
	Devs                         map[uint64]*DumpDev
}

// DumpDev is one <device>.
type DumpDev struct {
	ID, Transaction, CreationTime, SnapTime uint64
	Mapped                                  []Run
}

// Delta is `thin_delta -m` output: ranges by tag (same, different,
// left_only, right_only), virtual blocks.
type Delta struct {
	BlockSize uint64
	Ranges    map[string][]Run
}

func attrs(se xml.StartElement) map[string]string {
	m := make(map[string]string, len(se.Attr))
	for _, a := range se.Attr {
		m[a.Name.Local] = a.Value
	}
	return m
}

func num(m map[string]string, k string) (uint64, error) {
	v, ok := m[k]
	if !ok {
		return 0, fmt.Errorf("missing attribute %s", k)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad attribute %s=%q", k, v)
	}
	return n, nil
}

// ParseDump parses thin_dump's XML (0.9.0 and 1.x shapes: range_mapping,
// single_mapping, and 1.x's shared <def>/<ref> sections).
func ParseDump(out []byte) (*Dump, error) {
	d := &Dump{Devs: map[uint64]*DumpDev{}}
	dec := xml.NewDecoder(bytes.NewReader(out))
	defs := map[string][]Run{}
	var cur *[]Run // where mappings go: a device or a def
	var curDev *DumpDev
	var defName string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("thin_dump output: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			a := attrs(t)
			var e error
			switch t.Name.Local {
			case "superblock":
				if d.Time, e = num(a, "time"); e == nil {
					if d.Transaction, e = num(a, "transaction"); e == nil {
						d.BlockSize, e = num(a, "data_block_size")
					}
				}
			case "def":
				defName = a["name"]
				var runs []Run
				cur = &runs
			case "device":
				var dev DumpDev
				if dev.ID, e = num(a, "dev_id"); e != nil {
					break
				}
				dev.Transaction, _ = num(a, "transaction")
				dev.CreationTime, _ = num(a, "creation_time")
				dev.SnapTime, _ = num(a, "snap_time")
				curDev = &dev
				cur = &dev.Mapped
			case "range_mapping":
				var b, l uint64
				if b, e = num(a, "origin_begin"); e == nil {
					l, e = num(a, "length")
				}
				if e == nil && cur != nil {
					*cur = addRun(*cur, Run{b, l})
				}
			case "single_mapping":
				var b uint64
				if b, e = num(a, "origin_block"); e == nil && cur != nil {
					*cur = addRun(*cur, Run{b, 1})
				}
			case "ref":
				runs, ok := defs[a["name"]]
				if !ok {
					e = fmt.Errorf("ref to unknown def %q", a["name"])
				} else if cur != nil {
					for _, r := range runs {
						*cur = addRun(*cur, r)
					}
				}
			}
			if e != nil {
				return nil, fmt.Errorf("thin_dump output: <%s>: %v", t.Name.Local, e)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "def":
				if cur != nil {
					defs[defName] = *cur
				}
				cur = nil
			case "device":
				if curDev != nil {
					d.Devs[curDev.ID] = curDev
				}
				curDev, cur = nil, nil
			}
		}
	}
	if d.BlockSize == 0 {
		return nil, fmt.Errorf("thin_dump output: no superblock")
	}
	return d, nil
}

// addRun appends r, merging it with the last run when they touch.
func addRun(runs []Run, r Run) []Run {
	if r.Length == 0 {
		return runs
	}
	if n := len(runs); n > 0 && runs[n-1].Begin+runs[n-1].Length == r.Begin {
		runs[n-1].Length += r.Length
		return runs
	}
	return append(runs, r)
}

// deltaTags are the range tags of thin_delta (0.9.0 and 1.x).
var deltaTags = map[string]bool{"same": true, "different": true, "left_only": true, "right_only": true}

// ParseDelta parses thin_delta's XML (with or without --verbose, 0.9.0 and
// 1.x attributes).
func ParseDelta(out []byte) (*Delta, error) {
	d := &Delta{Ranges: map[string][]Run{}}
	dec := xml.NewDecoder(bytes.NewReader(out))
	sawDiff := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("thin_delta output: %v", err)
		}
		t, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		a := attrs(t)
		switch name := t.Name.Local; {
		case name == "superblock":
			bs, e := num(a, "data_block_size")
			if e != nil {
				return nil, fmt.Errorf("thin_delta output: <superblock>: %v", e)
			}
			d.BlockSize = bs
		case name == "diff":
			sawDiff = true
		case deltaTags[name]:
			b, e := num(a, "begin")
			var l uint64
			if e == nil {
				l, e = num(a, "length")
			}
			if e != nil {
				return nil, fmt.Errorf("thin_delta output: <%s>: %v", name, e)
			}
			d.Ranges[name] = addRun(d.Ranges[name], Run{b, l})
		}
	}
	if d.BlockSize == 0 || !sawDiff {
		return nil, fmt.Errorf("thin_delta output: no superblock or diff")
	}
	return d, nil
}
