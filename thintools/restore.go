package thintools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/dmsim/dmsim/internal/getopt"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/persistent-data/transaction"
	"github.com/dmsim/dmsim/thinmeta"
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
		_, rc, done := t.options("hi:o:qV", []getopt.Option{
			{Name: "help", HasArg: getopt.NoArgument, Val: 'h'},
			{Name: "input", HasArg: getopt.RequiredArgument, Val: 'i'},
			{Name: "output", HasArg: getopt.RequiredArgument, Val: 'o'},
			{Name: "quiet", HasArg: getopt.NoArgument, Val: 'q'},
			{Name: "version", HasArg: getopt.NoArgument, Val: 'V'},
			{Name: "transaction-id", HasArg: getopt.RequiredArgument, Val: 1},
			{Name: "data-block-size", HasArg: getopt.RequiredArgument, Val: 2},
			{Name: "nr-data-blocks", HasArg: getopt.RequiredArgument, Val: 3},
		}, restoreUsage, func(g *getopt.Parser, c int) int {
			switch c {
			case 'i':
				in, hasIn = g.Optarg, true
			case 'o':
				out, hasOut = g.Optarg, true
			case 'q':
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
				return badOption
			}
			return moreOptions
		})
		if done {
			return rc
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
	dev, err := t.fs.OpenDevice(out, true, true)
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
	if nr := uint64(dev.Size()) / blockSize; nr > spacemap.MetadataMaxBlocks {
		fmt.Fprintf(t.err, "truncating metadata device to %d 4k blocks\n", spacemap.MetadataMaxBlocks)
	}
	var opts []block.Option
	if isHostFile(dev) {
		// a host file: write the leaves thin_restore fills in runs
		opts = append(opts, block.Coalesce(restoreWriteRun))
	}
	r, err := thinmeta.NewRestorer(blockDevice{dev}, opts...)
	if err != nil {
		return zeroSuperblock(dev, restoreError(err))
	}
	if err := restoreXML(f, ov, r); err != nil {
		r.Close() // the tools' block cache writes its dirty blocks back
		return zeroSuperblock(dev, err)
	}
	return nil
}

// zeroSuperblock is thin_restore's answer to a failed restore: the block
// cache has written what it held, then the superblock is zeroed, so no
// valid metadata is left behind. (Only then: on Linux 6.1 the bio log of a
// successful restore onto a disk writes the superblock once, last.)
func zeroSuperblock(dev Device, err error) error {
	if _, werr := dev.WriteAt(make([]byte, blockSize), 0); werr != nil {
		return toolError("couldn't zero superblock")
	}
	return err
}

// restoreWriteRun is the most blocks one write of thin_restore's block
// cache carries on a host file (256 KiB).
const restoreWriteRun = 64

func trimNL(s string) string { return s[:len(s)-1] }

// restoreError is what thin_restore prints for a failed write.
func restoreError(err error) error {
	if err == nil {
		return nil // before ae, which escapes to the heap
	}
	var ae *transaction.AllocError
	switch {
	case errors.As(err, &ae) && errors.Is(err, linuxerr.ENOSPC):
		return errorf("transaction_manager::%s() couldn't allocate new block", ae.Op)
	case errors.Is(err, linuxerr.EEXIST):
		return toolError("Device already exists")
	case errors.Is(err, linuxerr.ENODATA):
		// a data block without a bitmap (nr_data_blocks wrapped around)
		return toolError("Couldn't lookup bitmap")
	}
	return err
}

// blockDevice is thin_restore's device for the block manager. Its flushes
// do nothing: 0.9.0 writes with O_DIRECT and never syncs, and on Linux 6.1
// the bio log of a restore onto a disk has no flush in it (the pool's
// first commit is what makes it durable).
type blockDevice struct{ Device }

func (d blockDevice) Flush() error { return nil }

const badCast = "bad lexical cast: source type value could not be interpreted as target"

func attrU64(ev xmlEvent, name string) (uint64, error) {
	s, ok := ev.attrs.get(name)
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
	if _, ok := ev.attrs.get(name); !ok {
		return def, nil
	}
	return attrU32(ev, name)
}

// restoreXML reads thin_dump XML the way 0.9.0's restore emitter consumes
// it, writing through r as it goes; the superblock is committed at the end.
func restoreXML(in io.Reader, ov *restoreOverrides, r *thinmeta.Restorer) error {
	var s interface{ next() (xmlEvent, error) } = newXMLScanner(in)
	if isHostFile(in) {
		// a host file: parse on a second core (never inside the
		// simulation, whose files belong to its virtual machine)
		ra := newXMLReadAhead(newXMLScanner(in))
		defer ra.close()
		s = ra
	}
	var hdr *thinmeta.PoolHeader
	inDevice := false
	mapping := func(v, d uint64, t uint32) error {
		if d >= hdr.NrDataBlocks {
			return errorf("mapping beyond end of data device (%d >= %d)", d, hdr.NrDataBlocks)
		}
		if !inDevice {
			return toolError("missing device")
		}
		return restoreError(r.Map(v, d, t))
	}
	for {
		ev, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !ev.start {
			if ev.name == "device" && inDevice {
				inDevice = false
				if err := r.EndDevice(); err != nil {
					return restoreError(err)
				}
			}
			continue
		}
		if ev.name != "superblock" && ev.name != "device" && ev.name != "range_mapping" && ev.name != "single_mapping" {
			return toolError("unknown tag type")
		}
		if ev.name != "superblock" && hdr == nil {
			return toolError("missing superblock")
		}
		if ev.fast {
			// a mapping read on the scanner's fast path: the numbers the
			// attributes hold
			if hdr == nil {
				return toolError("missing superblock")
			}
			ob, db, n, tm := ev.nums[0], ev.nums[1], ev.nums[2], uint32(ev.nums[3])
			for i := uint64(0); i < n; i++ {
				if err := mapping(ob+i, db+i, tm); err != nil {
					return err
				}
			}
			continue
		}
		switch ev.name {
		case "superblock":
			h, err := superblockAttrs(ev, ov)
			if err != nil {
				return err
			}
			hdr = h
			if err := r.BeginSuperblock(*h); err != nil {
				return restoreError(err)
			}
		case "device":
			var id uint64
			var d thinmeta.DeviceDetails
			var e error
			get := func(f func() error) {
				if e == nil {
					e = f()
				}
			}
			get(func() (err error) { id, err = attrU64(ev, "dev_id"); return })
			get(func() (err error) { d.MappedBlocks, err = attrU64(ev, "mapped_blocks"); return })
			get(func() (err error) { d.TransactionID, err = attrU64(ev, "transaction"); return })
			get(func() (err error) { d.CreationTime, err = attrU32(ev, "creation_time"); return })
			get(func() (err error) { d.SnapshottedTime, err = attrU32(ev, "snap_time"); return })
			if e != nil {
				return e
			}
			if inDevice {
				if err := r.EndDevice(); err != nil {
					return restoreError(err)
				}
			}
			if err := r.BeginDevice(id, d); err != nil {
				return restoreError(err)
			}
			inDevice = true
		case "range_mapping":
			ob, err := attrU64(ev, "origin_begin")
			if err != nil {
				return err
			}
			db, err := attrU64(ev, "data_begin")
			if err != nil {
				return err
			}
			n, err := attrU64(ev, "length")
			if err != nil {
				return err
			}
			tm, err := attrU32(ev, "time")
			if err != nil {
				return err
			}
			for i := uint64(0); i < n; i++ {
				if err := mapping(ob+i, db+i, tm); err != nil {
					return err
				}
			}
		case "single_mapping":
			ob, err := attrU64(ev, "origin_block")
			if err != nil {
				return err
			}
			db, err := attrU64(ev, "data_block")
			if err != nil {
				return err
			}
			tm, err := attrU32(ev, "time")
			if err != nil {
				return err
			}
			if err := mapping(ob, db, tm); err != nil {
				return err
			}
		}
	}
	if hdr == nil {
		return toolError("missing superblock")
	}
	return restoreError(r.Commit())
}

// superblockAttrs reads <superblock>'s attributes, with the command line's
// overrides.
func superblockAttrs(ev xmlEvent, ov *restoreOverrides) (*thinmeta.PoolHeader, error) {
	h := &thinmeta.PoolHeader{}
	var e error
	get := func(f func() error) {
		if e == nil {
			e = f()
		}
	}
	if u, ok := ev.attrs.get("uuid"); ok {
		copy(h.UUID[:], u)
	} else {
		e = toolError("could not find attribute: uuid")
	}
	get(func() (err error) { h.Time, err = attrU32(ev, "time"); return })
	get(func() (err error) { h.TransID, err = attrU64(ev, "transaction"); return })
	get(func() (err error) { h.Flags, err = optU32(ev, "flags", 0); return })
	get(func() (err error) { h.Version, err = optU32(ev, "version", 1); return })
	get(func() (err error) { h.DataBlockSize, err = attrU32(ev, "data_block_size"); return })
	get(func() (err error) { h.NrDataBlocks, err = attrU64(ev, "nr_data_blocks"); return })
	get(func() (err error) {
		if _, ok := ev.attrs.get("metadata_snap"); ok {
			h.HeldRoot, err = attrU64(ev, "metadata_snap")
		}
		return
	})
	if e != nil {
		return nil, e
	}
	if ov.transID != nil {
		h.TransID = *ov.transID
	}
	if ov.dataBlockSize != nil {
		h.DataBlockSize = uint32(*ov.dataBlockSize)
	}
	if ov.nrDataBlocks != nil {
		h.NrDataBlocks = *ov.nrDataBlocks
	}
	return h, nil
}
