package thintools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
)

const restoreUsage = `Usage: thin_restore [options]
Options:
  {-h|--help}
  {-i|--input} <input xml file>
  {-o|--output} <output device or file>
  {--transaction-id} <natural>
  {--data-block-size} <natural>
  {--nr-data-blocks} <natural>
  {-q|--quiet}
  {-V|--version}
`

const outputHelp = `

The output file should either be a block device,
or an existing file.  The file needs to be large
enough to hold the metadata.
`

// restoreOverrides are thin_restore's --transaction-id, --data-block-size
// and --nr-data-blocks.
type restoreOverrides struct {
	transID, dataBlockSize, nrDataBlocks *uint64
}

// ThinRestore is thin_restore 0.9.0.
func ThinRestore(ctx context.Context, args []string, env *Env) int {
	return run(args, env, func(t *tool) int {
		var in, out string
		var hasIn, hasOut bool
		var ov restoreOverrides
		g := newGetopt(t.prog, t.args, "hi:o:qV", []longOpt{
			{"help", noArg, 'h'},
			{"input", reqArg, 'i'},
			{"output", reqArg, 'o'},
			{"quiet", noArg, 'q'},
			{"version", noArg, 'V'},
			{"transaction-id", reqArg, 1},
			{"data-block-size", reqArg, 2},
			{"nr-data-blocks", reqArg, 3},
		}, t.err)
		for {
			c := g.Next()
			if c == -1 {
				break
			}
			switch c {
			case 'h':
				io.WriteString(t.out, restoreUsage)
				return 0
			case 'i':
				in, hasIn = g.Optarg, true
			case 'o':
				out, hasOut = g.Optarg, true
			case 'q':
			case 'V':
				io.WriteString(t.out, Version+"\n")
				return 0
			case 1, 2, 3:
				v, err := strconv.ParseUint(g.Optarg, 10, 64)
				if err != nil {
					desc := map[int]string{1: "transaction id", 2: "data block size", 3: "nr data blocks"}[c]
					fmt.Fprintf(t.err, "couldn't parse %s: '%s'\n", desc, g.Optarg)
					return 1
				}
				switch c {
				case 1:
					ov.transID = &v
				case 2:
					ov.dataBlockSize = &v
				case 3:
					ov.nrDataBlocks = &v
				}
			default:
				io.WriteString(t.err, restoreUsage)
				return 1
			}
		}
		if !hasIn {
			io.WriteString(t.err, "No input file provided.\n\n"+restoreUsage)
			return 1
		}
		if !hasOut {
			io.WriteString(t.err, "No output file provided.\n\n"+restoreUsage)
			return 1
		}
		if err := t.restore(in, out, &ov); err != nil {
			fmt.Fprintf(t.err, "%s\n", err)
			return 1
		}
		return 0
	})
}

func (t *tool) restore(in, out string, ov *restoreOverrides) error {
	f, err := t.fs.Open(in)
	if err != nil {
		return toolError("Couldn't stat file")
	}
	defer f.Close()
	dev, err := t.fs.OpenDevice(out, true)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return toolError("Output file does not exist." + trimNL(outputHelp))
		}
		return openError(err)
	}
	defer closeDev(dev)
	if dev.Size() < 8*blockSize {
		return toolError("Output file too small." + trimNL(outputHelp))
	}
	// thin_restore zeroes the superblock first: a failed restore leaves no
	// valid metadata behind.
	if _, err := dev.WriteAt(make([]byte, blockSize), 0); err != nil {
		return toolError("couldn't zero superblock")
	}
	nr := uint64(dev.Size()) / blockSize
	if nr > maxMetaBlocks {
		nr = maxMetaBlocks
	}
	md, err := parseMetadataXML(f, ov, nr*uint64(maxEntries(8)))
	if err != nil {
		return err
	}
	return writeMetadata(dev, md, nr)
}

func trimNL(s string) string { return s[:len(s)-1] }

// xmlDevice is one device read from the XML.
type xmlDevice struct {
	id       uint64
	details  deviceDetails
	mappings map[uint64]uint64 // vblock -> block_time, while parsing
	// keys and vals are the mappings in vblock order (finish()).
	keys, vals []uint64
}

// finish sorts the mappings for the writer.
func (d *xmlDevice) finish() {
	d.keys = make([]uint64, 0, len(d.mappings))
	for k := range d.mappings {
		d.keys = append(d.keys, k)
	}
	sort.Slice(d.keys, func(i, j int) bool { return d.keys[i] < d.keys[j] })
	d.vals = make([]uint64, len(d.keys))
	for i, k := range d.keys {
		d.vals[i] = d.mappings[k]
	}
	d.mappings = nil
}

// xmlMetadata is what thin_restore builds from the XML.
type xmlMetadata struct {
	uuid          string
	time          uint32
	transID       uint64
	flags         uint32
	version       uint32
	dataBlockSize uint32
	nrDataBlocks  uint64
	metadataSnap  uint64
	devices       []*xmlDevice
}

const badCast = "bad lexical cast: source type value could not be interpreted as target"

func attrU64(ev xmlEvent, name string) (uint64, error) {
	s, ok := ev.attrs[name]
	if !ok {
		return 0, errorf("could not find attribute: %s", name)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, toolError(badCast)
	}
	return v, nil
}

func attrU32(ev xmlEvent, name string) (uint32, error) {
	v, err := attrU64(ev, name)
	if err != nil {
		return 0, err
	}
	if v > 0xffffffff {
		return 0, toolError(badCast)
	}
	return uint32(v), nil
}

func optU32(ev xmlEvent, name string, def uint32) (uint32, error) {
	if _, ok := ev.attrs[name]; !ok {
		return def, nil
	}
	return attrU32(ev, name)
}

// parseMetadataXML reads thin_dump XML the way 0.9.0's restore emitter
// consumes it. capacity bounds the number of mappings (what the output
// device could hold): past it the restore fails as the tools do when they
// run out of metadata blocks, instead of exhausting memory.
func parseMetadataXML(r io.Reader, ov *restoreOverrides, capacity uint64) (*xmlMetadata, error) {
	s := newXMLScanner(r)
	var total uint64
	var md *xmlMetadata
	var cur *xmlDevice
	ids := map[uint64]bool{}
	addMapping := func(v, d uint64, t uint32) error {
		if d >= md.nrDataBlocks {
			return errorf("mapping beyond end of data device (%d >= %d)", d, md.nrDataBlocks)
		}
		if cur == nil {
			return toolError("missing device")
		}
		if total++; total > capacity {
			return toolError(errNoSpace)
		}
		cur.mappings[v] = d<<24 | uint64(t&0xffffff)
		return nil
	}
	for {
		ev, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !ev.start {
			if ev.name == "device" {
				cur = nil
			}
			continue
		}
		switch ev.name {
		case "superblock":
			md = &xmlMetadata{}
			var e error
			get := func(f func() error) {
				if e == nil {
					e = f()
				}
			}
			if u, ok := ev.attrs["uuid"]; ok {
				md.uuid = u
			} else {
				e = toolError("could not find attribute: uuid")
			}
			get(func() (err error) { md.time, err = attrU32(ev, "time"); return })
			get(func() (err error) { md.transID, err = attrU64(ev, "transaction"); return })
			get(func() (err error) { md.flags, err = optU32(ev, "flags", 0); return })
			get(func() (err error) { md.version, err = optU32(ev, "version", 1); return })
			get(func() (err error) { md.dataBlockSize, err = attrU32(ev, "data_block_size"); return })
			get(func() (err error) { md.nrDataBlocks, err = attrU64(ev, "nr_data_blocks"); return })
			get(func() (err error) {
				if _, ok := ev.attrs["metadata_snap"]; ok {
					md.metadataSnap, err = attrU64(ev, "metadata_snap")
				}
				return
			})
			if e != nil {
				return nil, e
			}
			if ov.transID != nil {
				md.transID = *ov.transID
			}
			if ov.dataBlockSize != nil {
				md.dataBlockSize = uint32(*ov.dataBlockSize)
			}
			if ov.nrDataBlocks != nil {
				md.nrDataBlocks = *ov.nrDataBlocks
			}
		case "device":
			if md == nil {
				return nil, toolError("missing superblock")
			}
			d := &xmlDevice{mappings: map[uint64]uint64{}}
			var e error
			get := func(f func() error) {
				if e == nil {
					e = f()
				}
			}
			get(func() (err error) { d.id, err = attrU64(ev, "dev_id"); return })
			get(func() (err error) { d.details.mappedBlocks, err = attrU64(ev, "mapped_blocks"); return })
			get(func() (err error) { d.details.transactionID, err = attrU64(ev, "transaction"); return })
			get(func() (err error) { d.details.creationTime, err = attrU32(ev, "creation_time"); return })
			get(func() (err error) { d.details.snapTime, err = attrU32(ev, "snap_time"); return })
			if e != nil {
				return nil, e
			}
			if ids[d.id] {
				return nil, toolError("Device already exists")
			}
			ids[d.id] = true
			md.devices = append(md.devices, d)
			cur = d
		case "range_mapping":
			if md == nil {
				return nil, toolError("missing superblock")
			}
			ob, err := attrU64(ev, "origin_begin")
			if err != nil {
				return nil, err
			}
			db, err := attrU64(ev, "data_begin")
			if err != nil {
				return nil, err
			}
			n, err := attrU64(ev, "length")
			if err != nil {
				return nil, err
			}
			tm, err := attrU32(ev, "time")
			if err != nil {
				return nil, err
			}
			for i := uint64(0); i < n; i++ {
				if err := addMapping(ob+i, db+i, tm); err != nil {
					return nil, err
				}
			}
		case "single_mapping":
			if md == nil {
				return nil, toolError("missing superblock")
			}
			ob, err := attrU64(ev, "origin_block")
			if err != nil {
				return nil, err
			}
			db, err := attrU64(ev, "data_block")
			if err != nil {
				return nil, err
			}
			tm, err := attrU32(ev, "time")
			if err != nil {
				return nil, err
			}
			if err := addMapping(ob, db, tm); err != nil {
				return nil, err
			}
		default:
			return nil, toolError("unknown tag type")
		}
	}
	if md == nil {
		return nil, toolError("missing superblock")
	}
	sort.Slice(md.devices, func(i, j int) bool { return md.devices[i].id < md.devices[j].id })
	for _, d := range md.devices {
		d.finish()
	}
	return md, nil
}
