// Package striped is the striped target of Linux 6.1
// (drivers/md/dm-stripe.c, version 1.6.0), built into dm_mod:
// `<start> <len> striped <#stripes> <chunk sectors> [<dev> <offset>]...`
// spreads chunks round-robin over the devices.
package striped

import (
	"fmt"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/table"
)

// Type is the striped target type.
var Type = &dmsim.TargetType{
	Name:    "striped",
	Version: [3]uint32{1, 6, 0},
	Ctr:     ctr,
}

func init() {
	dmsim.AddToModule("dm_mod", 2, Type)
}

// ioErrorThreshold is DM_IO_ERROR_THRESHOLD: events stop after this many
// errors on one stripe.
const ioErrorThreshold = 15

type stripe struct {
	dev           *dmsim.DMDev
	physicalStart uint64
	errors        int
}

type stripeC struct {
	ti          *dmsim.DMTarget
	stripes     uint32
	stripeWidth uint64
	chunkSize   uint32
	wq          *sim.Workqueue // dm_stripe_wq: trigger_event

	mu sync.Mutex // error counts
	st []stripe
}

// ctr is stripe_ctr(), with its checks in order.
func ctr(ti *dmsim.DMTarget, argv []string) (dmsim.Target, error) {
	if len(argv) < 2 {
		ti.Error = "Not enough arguments"
		return nil, linuxerr.EINVAL
	}
	stripes, err := table.Kstrtouint(argv[0], 10)
	if err != nil || stripes == 0 {
		ti.Error = "Invalid stripe count"
		return nil, linuxerr.EINVAL
	}
	chunk, err := table.Kstrtouint(argv[1], 10)
	if err != nil || chunk == 0 {
		ti.Error = "Invalid chunk_size"
		return nil, linuxerr.EINVAL
	}
	if ti.Len%uint64(stripes) != 0 {
		ti.Error = "Target length not divisible by number of stripes"
		return nil, linuxerr.EINVAL
	}
	width := ti.Len / uint64(stripes)
	if width%uint64(chunk) != 0 {
		ti.Error = "Target length not divisible by chunk size"
		return nil, linuxerr.EINVAL
	}
	// argc != 2 + 2 * stripes, in unsigned int arithmetic.
	if uint32(len(argv)) != 2+2*stripes {
		ti.Error = "Not enough destinations specified"
		return nil, linuxerr.EINVAL
	}
	if uint64(stripes) > uint64(len(argv)) {
		// Only reachable through the unsigned wrap above: the kernel's
		// allocation for that many stripes fails.
		ti.Error = "Memory allocation for striped context failed"
		return nil, linuxerr.ENOMEM
	}
	if err := ti.SetMaxIOLen(uint64(chunk)); err != nil {
		return nil, err
	}
	ti.NumFlushBios = uint(stripes)
	ti.NumDiscardBios = uint(stripes)
	sc := &stripeC{
		ti:          ti,
		stripes:     stripes,
		stripeWidth: width,
		chunkSize:   chunk,
		st:          make([]stripe, stripes),
		wq:          ti.Kernel().Clock.NewWorkqueue(),
	}
	for i := uint32(0); i < stripes; i++ {
		if err := sc.getStripe(i, argv[2+2*i:4+2*i]); err != nil {
			ti.Error = "Couldn't parse stripe destination"
			for j := i; j > 0; j-- {
				ti.PutDevice(sc.st[j-1].dev)
			}
			return nil, err
		}
	}
	return sc, nil
}

// getStripe is get_stripe(): "<dev> <offset>".
func (sc *stripeC) getStripe(i uint32, argv []string) error {
	start, ok := table.ScanULL(argv[1])
	if !ok {
		return linuxerr.EINVAL
	}
	dev, err := sc.ti.GetDevice(argv[0], sc.ti.Table.Mode())
	if err != nil {
		return err
	}
	sc.st[i] = stripe{dev: dev, physicalStart: start}
	return nil
}

func (sc *stripeC) Dtr() {
	for _, s := range sc.st {
		sc.ti.PutDevice(s.dev)
	}
	sc.wq.Stop()
}

// mapSector is stripe_map_sector(): which stripe holds a target sector,
// and where in that stripe.
func (sc *stripeC) mapSector(sector uint64) (uint32, uint64) {
	chunk := sector - sc.ti.Begin
	chunkOffset := chunk % uint64(sc.chunkSize)
	chunk /= uint64(sc.chunkSize)
	st := uint32(chunk % uint64(sc.stripes))
	chunk /= uint64(sc.stripes)
	return st, chunk*uint64(sc.chunkSize) + chunkOffset
}

// mapRangeSector is stripe_map_range_sector(): the position on stripe
// target of the first of its sectors at or after sector.
func (sc *stripeC) mapRangeSector(sector uint64, target uint32) uint64 {
	st, r := sc.mapSector(sector)
	if st == target {
		return r
	}
	r -= r % uint64(sc.chunkSize)
	if target < st {
		r += uint64(sc.chunkSize)
	}
	return r
}

// Map is stripe_map(): the n-th copy of a flush goes to stripe n; the
// n-th copy of a discard covers stripe n's share of the range (or is
// completed at once if it has none); reads and writes, split at chunk
// boundaries by the core, go to their stripe.
func (sc *stripeC) Map(bio *dmsim.Bio) dmsim.MapResult {
	if bio.Op == dmsim.OpFlush || bio.Flags&dmsim.ReqPreflush != 0 && bio.Size() == 0 {
		bio.Dev = sc.st[bio.TargetBioNr].dev.Bdev
		return dmsim.MapRemapped
	}
	if bio.Op == dmsim.OpDiscard {
		n := uint32(bio.TargetBioNr)
		begin := sc.mapRangeSector(bio.Sector, n)
		end := sc.mapRangeSector(bio.Sector+bio.Size(), n)
		if begin < end {
			bio.Dev = sc.st[n].dev.Bdev
			bio.Sector = begin + sc.st[n].physicalStart
			bio.Sectors = end - begin
			return dmsim.MapRemapped
		}
		bio.Endio(nil)
		return dmsim.MapSubmitted
	}
	st, r := sc.mapSector(bio.Sector)
	bio.Sector = r + sc.st[st].physicalStart
	bio.Dev = sc.st[st].dev.Bdev
	return dmsim.MapRemapped
}

// EndIO is stripe_end_io(): an I/O error (other than EOPNOTSUPP) counts
// against the stripe whose device failed it, marking it 'D' in the status,
// and raises a table event while the count is under the threshold.
func (sc *stripeC) EndIO(bio *dmsim.Bio, err error) (error, bool) {
	if err == nil || linuxerr.ToErrno(err) == linuxerr.EOPNOTSUPP || bio.Dev == nil {
		return err, false
	}
	dev := bio.Dev.Dev().String()
	sc.mu.Lock()
	trigger := false
	for i := range sc.st {
		if sc.st[i].dev.Name == dev {
			sc.st[i].errors++
			if sc.st[i].errors < ioErrorThreshold {
				trigger = true
			}
		}
	}
	sc.mu.Unlock()
	if trigger {
		sc.wq.Queue(sc.ti.Event)
	}
	return err, false
}

// Status is stripe_status(): INFO "<#stripes> <dev>... 1 <A|D>...";
// TABLE "<#stripes> <chunk> <dev> <offset>...".
func (sc *stripeC) Status(typ dmsim.StatusType, _ dmsim.StatusFlags) string {
	var b strings.Builder
	switch typ {
	case dmsim.StatusInfo:
		fmt.Fprintf(&b, "%d ", sc.stripes)
		for _, s := range sc.st {
			fmt.Fprintf(&b, "%s ", s.dev.Name)
		}
		b.WriteString("1 ")
		sc.mu.Lock()
		for _, s := range sc.st {
			if s.errors > 0 {
				b.WriteByte('D')
			} else {
				b.WriteByte('A')
			}
		}
		sc.mu.Unlock()
	case dmsim.StatusTable:
		fmt.Fprintf(&b, "%d %d", sc.stripes, sc.chunkSize)
		for _, s := range sc.st {
			fmt.Fprintf(&b, " %s %d", s.dev.Name, s.physicalStart)
		}
	}
	return b.String()
}

// IterateDevices is stripe_iterate_devices(): each stripe's device, from
// its offset, for the stripe width.
func (sc *stripeC) IterateDevices(fn func(dev *dmsim.DMDev, start, length uint64) error) error {
	for _, s := range sc.st {
		if err := fn(s.dev, s.physicalStart, sc.stripeWidth); err != nil {
			return err
		}
	}
	return nil
}

// IOHints is stripe_io_hints(): io_min one chunk, io_opt a full stripe.
func (sc *stripeC) IOHints(l *dmsim.QueueLimits) {
	chunkBytes := sc.chunkSize << 9
	l.IOMin = chunkBytes
	if l.IOMin < l.LogicalBlockSize {
		l.IOMin = l.LogicalBlockSize
	}
	if l.IOMin < l.PhysicalBlockSize {
		l.IOMin = l.PhysicalBlockSize
	}
	l.IOOpt = chunkBytes * sc.stripes
}
