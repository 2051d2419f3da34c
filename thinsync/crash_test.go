package thinsync_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/thinsync"
)

// The receive crash sweep (every cut by default; DMSIM_SWEEP=N checks
// every Nth). An incremental of 256 granules (64 KiB, all changed) is
// received with resume state, on disks with a volatile write cache and a
// bio log. Then, for every write and flush the receiver's disks executed,
// a power cut right after it is replayed: once keeping only what a flush
// made durable, once keeping every completed write. Each cut boots a
// fresh machine on in-memory images of that crash state (shared,
// copy-on-write) and checks that the published base is untouched, that a
// published thin 2 reads the source's image, and that --resume (or a fresh
// receive, when the state says nothing was started) ends at the source's
// image. The images are compared byte for byte as cat writes them (md5sum
// of both images was a third of the sweep's CPU time). The cuts run in
// parallel, one machine per core.

const sweepRecv = "thinsync recv --pool pool2 --id 2 --base 1 --state $DISK_state -i $DISK_xfer"

var sweepEnv = []string{"DISK_meta2=/dev/vda", "DISK_data2=/dev/vdb", "DISK_state=/dev/vdc", "DISK_xfer=/dev/vdd"}

const sweepPool = `dmsetup create pool2 --table "0 73728 thin-pool $DISK_meta2 $DISK_data2 128 0"`

type sweepDisk struct {
	name string
	size int64
}

var sweepDisks = []sweepDisk{{"meta2", 4 << 20}, {"data2", 36 << 20}, {"state", 1 << 20}, {"xfer", 20 << 20}}

// sweepBuild makes the images: pool2 with the published base (thin 1), the
// stream of the incremental on xfer, an empty state disk. It returns the
// base's and the source's images.
func sweepBuild(t *testing.T, dir string) (baseImg, srcImg []byte) {
	disks := []script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 36 << 20}}
	for _, d := range sweepDisks {
		disks = append(disks, script.Disk{Name: d.name, Size: d.size})
	}
	m, err := script.NewMachine(script.Config{Dir: dir, CommandTime: -1, Disks: disks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Halt()
	run(t, m, `dmsetup create pool --table "0 73728 thin-pool $DISK_meta $DISK_data 128 0"`, sweepPool,
		`dmsetup message pool 0 "create_thin 0"`, `dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"`,
		"yes a | head -c 16777216 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
		"thinsync send --pool pool --id 1 --size 32768 | thinsync recv --pool pool2 --id 1",
		"seq 1 3000000 | head -c 16777216 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin",
		"thinsync send --pool pool --id 2 --base 1 --size 32768 --checkpoint 1048576 -o $DISK_xfer",
		`dmsetup create b1 --readonly --table "0 32768 thin /dev/mapper/pool2 1"`)
	return image(t, m, "/dev/mapper/b1"), image(t, m, "/dev/mapper/thin")
}

// cmpWriter compares what is written to it with want, as it comes.
type cmpWriter struct {
	want []byte
	n    int
	bad  bool
}

func (c *cmpWriter) Write(p []byte) (int, error) {
	if !c.bad && (len(p) > len(c.want)-c.n || !bytes.Equal(p, c.want[c.n:c.n+len(p)])) {
		c.bad = true
	}
	c.n += len(p)
	return len(p), nil
}

func (c *cmpWriter) equal() bool { return !c.bad && c.n == len(c.want) }

// image reads a whole device.
func image(t testing.TB, m *script.Machine, dev string) []byte {
	t.Helper()
	r, err := m.Run("cat " + dev)
	if err != nil {
		t.Fatal(err)
	}
	return r.Stdout
}

// event is one write, discard or flush of a logged disk.
type event struct {
	disk int
	rec  dmsim.BioRecord
}

// durable reports how many of a disk's records (in order) a cut after
// them keeps when only flushed writes survive.
func durable(recs []dmsim.BioRecord) int {
	n := 0
	for i, r := range recs {
		switch {
		case r.Op == dmsim.OpFlush:
			n = i + 1
		case r.Flags&dmsim.ReqPreflush != 0:
			n = i
		}
		if r.Op == dmsim.OpWrite && r.Flags&dmsim.ReqFUA != 0 {
			n = i + 1
		}
	}
	return n
}

// sweepPage is the granularity of the sweep's in-memory images.
const sweepPage = 4096

// pageVersion is a page's content after record number after (counting
// from 0) of a disk's log.
type pageVersion struct {
	after int
	data  []byte
}

// diskHistory is a disk's image before its log and every version of each
// page the log changed: the image after any prefix of the log is read
// from it without copying anything.
type diskHistory struct {
	base  []byte
	pages map[int64][]pageVersion
}

func newHistory(base []byte, recs []dmsim.BioRecord) *diskHistory {
	h := &diskHistory{base: base, pages: map[int64][]pageVersion{}}
	cur := map[int64][]byte{}
	for i, r := range recs {
		var data []byte
		switch r.Op {
		case dmsim.OpWrite:
			data = r.Data()
		case dmsim.OpDiscard:
			data = make([]byte, r.Sectors*dmsim.SectorSize)
		default:
			continue
		}
		off := int64(r.Sector) * dmsim.SectorSize
		for n := 0; n < len(data); {
			pos := off + int64(n)
			pg, o := pos/sweepPage, int(pos%sweepPage)
			k := min(sweepPage-o, len(data)-n)
			b, ok := cur[pg]
			if !ok {
				b = append([]byte(nil), base[pg*sweepPage:(pg+1)*sweepPage]...)
				cur[pg] = b
			}
			copy(b[o:], data[n:n+k])
			h.pages[pg] = append(h.pages[pg], pageVersion{i, append([]byte(nil), b...)})
			n += k
		}
	}
	return h
}

// page returns page pg after the first n records (read-only).
func (h *diskHistory) page(pg int64, n int) []byte {
	vs := h.pages[pg]
	j := sort.Search(len(vs), func(i int) bool { return vs[i].after >= n })
	if j == 0 {
		return h.base[pg*sweepPage : (pg+1)*sweepPage]
	}
	return vs[j-1].data
}

// cutDisk is a crash state's disk (the history after its first n records)
// for a machine booted on it: the machine's own writes go to pages of its
// own, so every machine shares the history and none copies a disk.
type cutDisk struct {
	h    *diskHistory
	n    int
	mu   sync.Mutex
	over map[int64][]byte
}

func newCutDisk(h *diskHistory, n int) *cutDisk {
	return &cutDisk{h: h, n: n, over: map[int64][]byte{}}
}

func (c *cutDisk) size() int64 { return int64(len(c.h.base)) }

func (c *cutDisk) ReadAt(p []byte, off int64) (int, error)  { return c.do(p, off, false) }
func (c *cutDisk) WriteAt(p []byte, off int64) (int, error) { return c.do(p, off, true) }

// do reads or writes p at off, page by page.
func (c *cutDisk) do(p []byte, off int64, write bool) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size() && write {
			return n, io.ErrShortWrite
		} else if pos >= c.size() {
			return n, io.EOF
		}
		pg, o := pos/sweepPage, int(pos%sweepPage)
		b, ok := c.over[pg]
		switch {
		case ok:
		case write:
			b = append([]byte(nil), c.h.page(pg, c.n)...)
			c.over[pg] = b
		default:
			b = c.h.page(pg, c.n)
		}
		if write {
			n += copy(b[o:], p[n:])
		} else {
			n += copy(p[n:], b[o:])
		}
	}
	return n, nil
}

func (c *cutDisk) Punch(off, n int64) error {
	_, err := c.WriteAt(make([]byte, n), off)
	return err
}

func (c *cutDisk) Truncate(int64) error { return nil }
func (c *cutDisk) Close() error         { return nil }

// sweepCut is one distinct crash state: how many records of each logged
// disk survive.
type sweepCut struct {
	k    int // events before the cut
	keep [3]int
}

func TestCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("boots hundreds of machines")
	}
	dir := t.TempDir()
	baseImg, srcImg := sweepBuild(t, dir)
	hist := make([]*diskHistory, len(sweepDisks))
	for i, d := range sweepDisks {
		b, err := os.ReadFile(filepath.Join(dir, d.name+".img"))
		if err != nil {
			t.Fatal(err)
		}
		hist[i] = newHistory(b, nil)
	}
	scratch := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		scratch = "/dev/shm"
	}
	bootCut := func(keep [3]int, cache bool) (*script.Machine, error) {
		var specs []dmsim.DiskSpec
		for i, d := range sweepDisks {
			n := 0
			if i < 3 {
				n = keep[i]
			}
			specs = append(specs, dmsim.DiskSpec{Image: newCutDisk(hist[i], n), Size: d.size,
				VolatileCache: cache && i < 3, BioLog: cache && i < 3})
		}
		return script.BootIn(scratch, specs, sweepEnv)
	}

	// The logged receive, on the built images.
	mb, err := bootCut([3]int{}, true)
	if err != nil {
		t.Fatal(err)
	}
	run(t, mb, sweepPool, sweepRecv)
	var events []int // the disk of each record, in order
	perDisk := make([][]dmsim.BioRecord, 3)
	var all []event
	for i := 0; i < 3; i++ {
		for _, r := range mb.Kernel.Disks()[i].BioLog() {
			if r.Op != dmsim.OpRead {
				all = append(all, event{i, r})
				perDisk[i] = append(perDisk[i], r)
			}
		}
	}
	mb.Halt()
	sort.Slice(all, func(a, b int) bool { return all[a].rec.Seq < all[b].rec.Seq })
	for _, e := range all {
		events = append(events, e.disk)
	}
	for i := 0; i < 3; i++ {
		hist[i] = newHistory(hist[i].base, perDisk[i])
	}
	t.Logf("%d writes, discards and flushes on the receiver's disks", len(events))

	// Every cut by default; DMSIM_SWEEP=N checks every Nth (plus the last).
	stride := 1
	if n, err := strconv.Atoi(os.Getenv("DMSIM_SWEEP")); err == nil && n > 1 {
		stride = n
	}
	seen := map[[3]int]bool{}
	var cuts []sweepCut
	var n [3]int
	for k := 0; k <= len(events); k++ {
		if k > 0 {
			n[events[k-1]]++
		}
		if k%stride != 0 && k != len(events) {
			continue
		}
		for _, keepAll := range []bool{false, true} {
			var keep [3]int
			for d := 0; d < 3; d++ {
				keep[d] = n[d]
				if !keepAll {
					keep[d] = durable(perDisk[d][:n[d]])
				}
			}
			if !seen[keep] {
				seen[keep] = true
				cuts = append(cuts, sweepCut{k, keep})
			}
		}
	}

	// checkCut boots a machine on a crash state and finishes the receive.
	checkCut := func(c sweepCut) (phase string, err error) {
		stateImg := make([]byte, sweepDisks[2].size)
		newCutDisk(hist[2], c.keep[2]).ReadAt(stateImg, 0)
		st := thinsync.ParseState(stateImg)
		where := fmt.Sprintf("cut after %d of %d events (keep %v, state %v)", c.k, len(events), c.keep, st)
		m, err := bootCut(c.keep, false)
		if err != nil {
			return "", err
		}
		defer m.Halt()
		sh := func(line string) (string, error) {
			r, err := m.Run(line)
			if err != nil {
				return "", fmt.Errorf("%s: %s: %v", where, line, err)
			}
			return string(r.Stdout), nil
		}
		same := func(dev string, want []byte) (bool, error) {
			c := &cmpWriter{want: want}
			var errb bytes.Buffer
			if st := m.Exec(context.Background(), "cat "+dev, c, &errb); st != 0 {
				return false, fmt.Errorf("%s: cat %s: exit %d: %s", where, dev, st, errb.String())
			}
			return c.equal(), nil
		}
		for _, l := range []string{sweepPool, `dmsetup create b1 --readonly --table "0 32768 thin /dev/mapper/pool2 1"`} {
			if _, err := sh(l); err != nil {
				return "", err
			}
		}
		if ok, err := same("/dev/mapper/b1", baseImg); err != nil {
			return "", err
		} else if !ok {
			return "", fmt.Errorf("%s: the published base changed", where)
		}
		phase = st["phase"]
		switch phase {
		case "":
			_, err = sh(sweepRecv)
		case "receiving":
			_, err = sh(sweepRecv + " --resume")
		case "published":
		default:
			err = fmt.Errorf("%s: unexpected state", where)
		}
		if err != nil {
			return "", err
		}
		if _, err := sh(`dmsetup create r2 --readonly --table "0 32768 thin /dev/mapper/pool2 2"`); err != nil {
			return "", err
		}
		if ok, err := same("/dev/mapper/r2", srcImg); err != nil {
			return "", err
		} else if !ok {
			return "", fmt.Errorf("%s: thin 2 does not read the source's image", where)
		}
		return phase, nil
	}

	// The cuts in parallel, one machine per core.
	var (
		mu     sync.Mutex
		phases = map[string]int{}
		errs   []error
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(cuts) {
					return
				}
				phase, err := checkCut(cuts[i])
				mu.Lock()
				phases[phase]++
				if err != nil {
					errs = append(errs, err)
					next.Store(int64(len(cuts))) // stop at the first failure
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("%d distinct crash states: %d fresh receives, %d resumes, %d already published; all at the source's image",
		len(cuts), phases[""], phases["receiving"], phases["published"])
	if phases[""] == 0 || phases["receiving"] == 0 || phases["published"] == 0 {
		t.Errorf("the sweep missed a phase")
	}
}
