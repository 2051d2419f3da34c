package crash

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/script"
)

// devTable is one device-mapper device and its live table, as `dmsetup
// table` would print it.
type devTable struct {
	Name  string
	Dev   dmsim.DevT
	Specs []dmsim.TargetSpec
}

// quiesce is the machine between two command lines: every record of the
// disks' bio logs with Seq <= Seq completed before it, and these devices
// were live.
type quiesce struct {
	Seq    uint64
	Tables []devTable
	Item   int // the script item (a command) that ended here; -1 at boot
	// FUA is the write that command acknowledged with REQ_FUA, if it is
	// the test-only `fua-write DEV OFFSET LENGTH` and succeeded.
	FUA *fuaAck
}

// fuaAck is a write an application saw complete with REQ_FUA: it must
// survive any crash after that.
type fuaAck struct {
	Dev         string
	Off, Length uint64
	// Seq: the records up to Seq completed before the acknowledgement
	// (fua-write prints it; else the command's end).
	Seq uint64
}

// diskTrace is one disk during one boot: its image when the boot started
// and the bios it executed.
type diskTrace struct {
	Name    string
	Sectors uint64
	Base    io.ReaderAt
	Log     []dmsim.BioRecord
}

// bootTrace is what a workload recorded during one boot.
type bootTrace struct {
	Boot     int
	Disks    []diskTrace
	Quiesces []quiesce // [0] is the boot itself
	// hash is an FNV-1a hash of every record of every disk (the trace
	// hash of the report).
	Hash uint64

	// durable is, per disk, its durable image at an instant (enumerate).
	durable []func(at uint64) *dmsim.CrashImage

	histories poolCache // per metadata location: the commits (meta.go)
	histMu    sync.Mutex
	hist      map[int]map[uint64][]written // per disk: sectorHistory
	// checkedMeta: readChecked\'s results by metadata content
	checkedMeta map[string]*checked
}

// workload runs a script's lines with bio logs on every disk and hands
// each boot's trace to fn once the boot ends (at `# reboot`, at a `#
// crash:` directive, or at the end of the script), while the images still
// hold that boot's end. It stops at the first `# crash:` directive.
func workload(ctx context.Context, s *scenario.Script, fn func(b *bootTrace, crash *scenario.Item) error) error {
	return workloadOut(ctx, s, nil, fn)
}

// workloadOut is workload writing the transcript to out (if not nil).
func workloadOut(ctx context.Context, s *scenario.Script, out io.Writer, fn func(b *bootTrace, crash *scenario.Item) error) error {
	dir, err := os.MkdirTemp("", "dmsim-crash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var specs []dmsim.DiskSpec
	for _, d := range s.Disks {
		p := filepath.Join(dir, d.Name+".img")
		f, err := os.Create(p)
		if err == nil {
			err = dmsim.TruncateImage(f, d.Size)
			f.Close()
		}
		if err != nil {
			return err
		}
		specs = append(specs, dmsim.DiskSpec{Path: p, Size: d.Size, NoDiscard: !d.Discard, BioLog: true})
	}
	m, err := script.Boot(specs, script.DiskEnv(s.Disks))
	if err != nil {
		return err
	}
	defer m.Close()
	boot := 0
	qs := []quiesce{{Seq: 0, Tables: liveTables(m.Kernel), Item: -1}}
	end := func(crash *scenario.Item) error {
		b := &bootTrace{Boot: boot, Quiesces: qs}
		for i, d := range m.Kernel.Disks() {
			b.Disks = append(b.Disks, diskTrace{Name: s.Disks[i].Name, Sectors: d.Size()})
		}
		// The bases must be read while the kernel still holds the images.
		for i, d := range m.Kernel.Disks() {
			b.Disks[i].Log = d.BioLog()
			b.Disks[i].Base = &baseCache{r: d.BaseImage(), m: map[int64][]byte{}}
		}
		b.Hash = traceHash(b)
		return fn(b, crash)
	}
	for i, it := range s.Items {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch it.Kind {
		case scenario.Comment:
			if out != nil {
				fmt.Fprintln(out, it.Text)
			}
		case scenario.Reboot:
			if out != nil {
				fmt.Fprintln(out, it.Text)
			}
			m.Halt()
			if err := end(nil); err != nil {
				return err
			}
			if err := m.Reboot(); err != nil {
				return err
			}
			boot++
			qs = []quiesce{{Seq: 0, Tables: liveTables(m.Kernel), Item: -1}}
		case scenario.Crash:
			if out != nil {
				fmt.Fprintln(out, it.Text)
			}
			m.Halt()
			return end(&s.Items[i])
		case scenario.Command:
			r := m.RunLine(ctx, it.Cmd)
			if out != nil {
				script.FormatCommand(out, it, r)
			}
			if r.Stall != nil {
				return fmt.Errorf("%s:%d: %v", s.Name, it.Line, r.Stall)
			}
			q := quiesce{Seq: lastSeq(m.Kernel), Tables: liveTables(m.Kernel), Item: i}
			if f := strings.Fields(it.Cmd); len(f) == 4 && f[0] == "fua-write" && r.Status == 0 {
				off, _ := strconv.ParseUint(f[2], 10, 64)
				n, _ := strconv.ParseUint(f[3], 10, 64)
				q.FUA = &fuaAck{Dev: f[1], Off: off, Length: n, Seq: q.Seq}
				fmt.Sscanf(string(r.Stdout), "fua-write: acknowledged after bio %d", &q.FUA.Seq)
			}
			qs = append(qs, q)
		}
	}
	m.Halt()
	return end(nil)
}

// lastSeq is the Seq of the newest record of any disk.
func lastSeq(k *dmsim.Kernel) uint64 {
	var s uint64
	for _, d := range k.Disks() {
		if l := d.BioLog(); len(l) > 0 {
			s = max(s, l[len(l)-1].Seq)
		}
	}
	return s
}

// liveTables lists the device-mapper devices with a live table, by device
// number (creation order for the minors the core hands out).
func liveTables(k *dmsim.Kernel) []devTable {
	api := k.Ioctl()
	var out []devTable
	for _, e := range api.ListDevices() {
		info, st, err := api.TableStatus(dmsim.DevRef{Name: e.Name}, dmsim.StatusTable, dmsim.IoctlFlags{})
		if err != nil || !info.LivePresent || len(st) == 0 {
			continue
		}
		t := devTable{Name: e.Name, Dev: e.Dev}
		for _, x := range st {
			t.Specs = append(t.Specs, dmsim.TargetSpec{Start: x.Start, Length: x.Length, Type: x.Type, Params: x.Params})
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b devTable) int { return int(a.Dev.Minor) - int(b.Dev.Minor) })
	return out
}
