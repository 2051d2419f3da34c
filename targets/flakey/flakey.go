// Package flakey is the flakey target of Linux 6.1 (drivers/md/dm-flakey.c,
// version 1.5.0), module dm_flakey:
//
//	<start> <len> flakey <dev> <offset> <up interval> <down interval> \
//	    [<#feature args> [drop_writes | error_writes |
//	     corrupt_bio_byte <Nth byte> <r|w> <value> <flags>]...]
//
// It maps like linear, but for <down interval> seconds after every <up
// interval> seconds (counted from the table load, in jiffies of the virtual
// clock) it fails I/O, drops or fails writes, or corrupts one byte of
// matching bios. The random_read_corrupt, random_write_corrupt and
// error_reads features came after 6.1 and are "Unrecognised" here.
//
// What the Debian 6.1.0-56 module does, as recorded (scripts/flakey-basic.sh)
// and as its imports show: a write is corrupted in place, in the
// submitter's pages (no clone: the module allocates no bios or pages); a
// read is corrupted at completion through the bio's iterator as it stands
// then, so only when the device below left it alone (6.1 has no fix that
// saves the iterator at map time).
package flakey

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/table"
)

// Type is the flakey target type.
var Type = &dmsim.TargetType{
	Name:    "flakey",
	Version: [3]uint32{1, 5, 0},
	Ctr:     ctr,
}

func init() {
	dmsim.RegisterModule(&dmsim.Module{
		Name:    "dm_flakey",
		Aliases: []string{"dm-flakey"},
		Targets: []*dmsim.TargetType{Type},
	})
}

// Bits of bi_opf that corrupt_bio_byte's <flags> mask is compared with
// (include/linux/blk_types.h in 6.1): the operation in the low byte, then
// the request flags. dmsim bios carry only these of them.
const (
	reqOpRead     = 0
	reqOpWrite    = 1
	reqOpDiscard  = 3
	reqFUA        = 1 << 17
	reqPreflush   = 1 << 18
	directionRead = 0 // READ
	directionWrit = 1 // WRITE
)

// opf is the bio's bi_opf as far as dmsim models it. An empty flush is a
// REQ_OP_WRITE with REQ_PREFLUSH at the bio level.
func opf(b *dmsim.Bio) uint32 {
	var v uint32
	switch b.Op {
	case dmsim.OpRead:
		v = reqOpRead
	case dmsim.OpWrite:
		v = reqOpWrite
	case dmsim.OpFlush:
		v = reqOpWrite | reqPreflush
	case dmsim.OpDiscard:
		v = reqOpDiscard
	}
	if b.Flags&dmsim.ReqFUA != 0 {
		v |= reqFUA
	}
	if b.Flags&dmsim.ReqPreflush != 0 {
		v |= reqPreflush
	}
	return v
}

// isWrite is bio_data_dir(bio) == WRITE: op_is_write(), so discards and
// flushes count as writes.
func isWrite(b *dmsim.Bio) bool { return b.Op != dmsim.OpRead }

type flakeyC struct {
	ti        *dmsim.DMTarget
	clock     *sim.Clock
	dev       *dmsim.DMDev
	startTime uint64 // jiffies at construction
	start     uint64
	up, down  uint32

	dropWrites, errorWrites bool
	corruptByte             uint32 // 1-based; 0: off
	corruptRW               uint32 // directionRead or directionWrit
	corruptValue            uint32
	corruptFlags            uint32
}

var featureArgs = []table.Arg{
	{Min: 0, Max: 6, Error: "Invalid number of feature args"},
	{Min: 1, Max: ^uint32(0), Error: "Invalid corrupt bio byte"},
	{Min: 0, Max: 255, Error: "Invalid corrupt value to write into bio byte (0-255)"},
	{Min: 0, Max: ^uint32(0), Error: "Invalid corrupt bio flags mask"},
}

func fail(ti *dmsim.DMTarget, text string) error {
	ti.Error = text
	return linuxerr.EINVAL
}

// parseFeatures is parse_features(). The count of feature arguments is an
// unsigned int that corrupt_bio_byte decrements four times without
// checking it, so a group that is too short wraps it and parsing goes on
// with the arguments after the group (or stops with "Insufficient feature
// arguments"). Arguments after the features are ignored. A missing
// direction is rejected ("dm flakey: fix a crash with invalid table line",
// in 6.1.y).
func (fc *flakeyC) parseFeatures(ti *dmsim.DMTarget, as *table.ArgSet) error {
	if len(as.Argv) == 0 {
		return nil
	}
	argc, err := featureArgs[0].ReadGroup(as, &ti.Error)
	if err != nil {
		return err
	}
	for argc != 0 {
		name, ok := as.Shift()
		argc--
		if !ok {
			return fail(ti, "Insufficient feature arguments")
		}
		switch {
		case table.Strcasecmp(name, "drop_writes"):
			if fc.dropWrites {
				return fail(ti, "Feature drop_writes duplicated")
			}
			fc.dropWrites = true
			if fc.errorWrites {
				return fail(ti, "Feature drop_writes conflicts with feature error_writes")
			}
		case table.Strcasecmp(name, "error_writes"):
			if fc.errorWrites {
				return fail(ti, "Feature error_writes duplicated")
			}
			fc.errorWrites = true
			if fc.dropWrites {
				return fail(ti, "Feature error_writes conflicts with feature drop_writes")
			}
		case table.Strcasecmp(name, "corrupt_bio_byte"):
			if argc == 0 {
				return fail(ti, "Feature corrupt_bio_byte requires parameters")
			}
			if fc.corruptByte, err = featureArgs[1].Read(as, &ti.Error); err != nil {
				return err
			}
			argc--
			dir, ok := as.Shift()
			switch {
			case ok && table.Strcasecmp(dir, "w"):
				fc.corruptRW = directionWrit
			case ok && table.Strcasecmp(dir, "r"):
				fc.corruptRW = directionRead
			default:
				return fail(ti, "Invalid corrupt bio direction (r or w)")
			}
			argc--
			if fc.corruptValue, err = featureArgs[2].Read(as, &ti.Error); err != nil {
				return err
			}
			argc--
			if fc.corruptFlags, err = featureArgs[3].Read(as, &ti.Error); err != nil {
				return err
			}
			argc--
		default:
			return fail(ti, "Unrecognised flakey feature requested")
		}
	}
	if fc.dropWrites && fc.corruptRW == directionWrit {
		return fail(ti, "drop_writes is incompatible with corrupt_bio_byte with the WRITE flag set")
	}
	if fc.errorWrites && fc.corruptRW == directionWrit {
		return fail(ti, "error_writes is incompatible with corrupt_bio_byte with the WRITE flag set")
	}
	return nil
}

// ctr is flakey_ctr(). Both intervals are read with the up interval's
// dm_arg, so a bad down interval is reported as "Invalid up interval"; the
// sum is 32-bit. The device is looked up last.
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	if len(argv) < 4 {
		return nil, fail(ti, "Invalid argument count")
	}
	k := ti.Kernel()
	fc := &flakeyC{ti: ti, clock: k.Clock, startTime: k.Clock.Jiffies()}
	as := &table.ArgSet{Argv: argv}
	devname, _ := as.Shift()
	s, _ := as.Shift()
	var ok bool
	if fc.start, ok = table.ScanULL(s); !ok {
		return nil, fail(ti, "Invalid device sector")
	}
	interval := table.Arg{Min: 0, Max: ^uint32(0), Error: "Invalid up interval"}
	var err error
	if fc.up, err = interval.Read(as, &ti.Error); err != nil {
		return nil, err
	}
	if fc.down, err = interval.Read(as, &ti.Error); err != nil {
		return nil, err
	}
	if fc.up+fc.down == 0 {
		return nil, fail(ti, "Total (up + down) interval is zero")
	}
	if fc.up+fc.down < fc.up {
		return nil, fail(ti, "Interval overflow")
	}
	if err := fc.parseFeatures(ti, as); err != nil {
		return nil, err
	}
	fc.dev, err = ti.GetDevice(devname, ti.Table.Mode())
	if err != nil {
		ti.Error = "Device lookup failed"
		return nil, err
	}
	ti.NumFlushBios = 1
	ti.NumDiscardBios = 1
	return fc, nil
}

func (fc *flakeyC) Dtr() { fc.ti.PutDevice(fc.dev) }

// isDown reports whether the device is in its down interval: whole seconds
// of jiffies since the constructor ran, modulo up+down (flakey_map()).
func (fc *flakeyC) isDown() bool {
	elapsed := uint32((fc.clock.Jiffies() - fc.startTime) / sim.HZ)
	return elapsed%(fc.up+fc.down) >= fc.up
}

// submittedDown is the per-bio data flakey_map() leaves for
// flakey_end_io(): the bio was mapped while down.
type submittedDown struct{}

// mapBio is flakey_map_bio(): linear remapping (an empty flush keeps its
// sector).
func (fc *flakeyC) mapBio(bio *dmsim.Bio) {
	bio.Dev = fc.dev.Bdev
	if bio.Size() != 0 {
		bio.Sector = fc.start + (bio.Sector - fc.ti.Begin)
	}
}

func (fc *flakeyC) flagsMatch(bio *dmsim.Bio) bool {
	return opf(bio)&fc.corruptFlags == fc.corruptFlags
}

// corrupt is corrupt_bio_data(): byte N (1-based) of the bio's data, if
// the bio is that long, becomes the value.
func (fc *flakeyC) corrupt(data []byte) {
	if i := uint64(fc.corruptByte) - 1; i < uint64(len(data)) {
		data[i] = byte(fc.corruptValue)
	}
}

// Map is flakey_map(). While up, bios are remapped as linear does. While
// down: with no features everything fails (EIO); reads otherwise go
// through (flakey_end_io() may corrupt them); writes (and discards and
// flushes) are completed unwritten with drop_writes, fail with
// error_writes, and go through with corrupt_bio_byte, a matching write
// being corrupted in place: the submitter's own pages change (6.1 has no
// "dm flakey: clone pages on write bio before corrupting them").
func (fc *flakeyC) Map(bio *dmsim.Bio) dmsim.MapResult {
	if !fc.isDown() {
		fc.mapBio(bio)
		return dmsim.MapRemapped
	}
	bio.Private = submittedDown{}
	if !isWrite(bio) {
		if fc.corruptByte == 0 && !fc.dropWrites && !fc.errorWrites {
			return dmsim.MapKill
		}
		fc.mapBio(bio)
		return dmsim.MapRemapped
	}
	switch {
	case fc.dropWrites:
		bio.Endio(nil)
		return dmsim.MapSubmitted
	case fc.errorWrites:
		bio.Endio(linuxerr.EIO)
		return dmsim.MapSubmitted
	case fc.corruptByte == 0:
		return dmsim.MapKill
	}
	if fc.corruptRW == directionWrit && fc.flagsMatch(bio) && bio.Op == dmsim.OpWrite {
		fc.corrupt(bio.Data) // corrupt_bio_data(): bio_has_data()
	}
	fc.mapBio(bio)
	return dmsim.MapRemapped
}

// EndIO is flakey_end_io(): a read that succeeded while down is corrupted
// when corrupt_bio_byte asks for reads and its flags match; without
// features it fails (map already killed those).
//
// corrupt_bio_data() walks the completed bio from its iterator as it
// stands at completion (6.1 has no "dm-flakey: make corrupting read bios
// work"). A blk-mq driver has advanced it to the end, so bio_has_data() is
// false and nothing is corrupted; a bio-based device leaves it alone and
// the byte is corrupted. Recorded: reads over a virtio disk or a loop
// device come back intact, over a RAM disk or another dm device corrupted.
func (fc *flakeyC) EndIO(bio *dmsim.Bio, err error) (error, bool) {
	if _, down := bio.Private.(submittedDown); err == nil && down && !isWrite(bio) {
		if fc.corruptByte != 0 {
			if fc.corruptRW == directionRead && fc.flagsMatch(bio) && !advancesIter(fc.dev.Bdev) {
				fc.corrupt(bio.Data)
			}
		} else if !fc.dropWrites && !fc.errorWrites {
			err = linuxerr.EIO
		}
	}
	return err, false
}

// advancesIter reports whether dev completes a bio with its iterator
// advanced past all its data: blk-mq drivers do (blk_update_request()
// calls bio_advance() on each bio of a request: virtio disks, loop
// devices); bio-based drivers iterate over a copy (brd_submit_bio(), and
// device-mapper, which maps clones of the bio).
func advancesIter(dev dmsim.BlockDevice) bool {
	switch dev.(type) {
	case *dmsim.Disk, *dmsim.LoopDev:
		return true
	}
	return false
}

// Status is flakey_status(): nothing for INFO; for TABLE the arguments
// back, each followed by a space, the feature count always present.
func (fc *flakeyC) Status(typ dmsim.StatusType, _ dmsim.StatusFlags) string {
	if typ != dmsim.StatusTable {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %d %d ", fc.dev.Name, fc.start, fc.up, fc.down)
	n := 0
	if fc.dropWrites {
		n++
	}
	if fc.errorWrites {
		n++
	}
	if fc.corruptByte > 0 {
		n += 5
	}
	fmt.Fprintf(&b, "%d ", n)
	if fc.dropWrites {
		b.WriteString("drop_writes ")
	} else if fc.errorWrites {
		b.WriteString("error_writes ")
	}
	if fc.corruptByte > 0 {
		dir := 'r'
		if fc.corruptRW == directionWrit {
			dir = 'w'
		}
		fmt.Fprintf(&b, "corrupt_bio_byte %d %c %d %d ", fc.corruptByte, dir, fc.corruptValue, fc.corruptFlags)
	}
	return b.String()
}

// IterateDevices is flakey_iterate_devices().
func (fc *flakeyC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	return fn(fc.dev, fc.start, fc.ti.Len)
}
