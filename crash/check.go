package crash

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/thinmeta"
)

// The invariants a crash state must keep (docs: README "Crash testing").
const (
	I1Reopen      = "I1 reopen"
	I2Check       = "I2 thin_check"
	I3Committed   = "I3 committed transaction"
	I4TransID     = "I4 transaction id"
	I5Durable     = "I5 durability"
	I6Foreign     = "I6 foreign data"
	I7Space       = "I7 space accounting"
	I8MetaSnap    = "I8 metadata snapshot"
	I9Determinism = "I9 determinism"
)

// violation is a broken invariant.
type violation struct {
	Invariant string
	Msg       string
}

// crashView is one crash state of a boot: every disk's image, and where
// in the run the crash came.
type crashView struct {
	images []io.ReaderAt // per disk
	sizes  []int64
	fps    []uint64 // per disk: the image's content fingerprint
	q      int      // the last quiesce before the crash
	at     uint64   // the records before At completed
}

// tablesAt is the device stack a crash at quiesce q may find: the devices
// live after the command that follows q (it may have created them, or
// reloaded them) and those live before it that it removed.
func (b *bootTrace) tablesAt(q int) []devTable {
	var out []devTable
	seen := map[string]bool{}
	minors := map[uint32]bool{}
	add := func(ts []devTable) {
		for _, t := range ts {
			if seen[t.Name] || minors[t.Dev.Minor] {
				continue
			}
			seen[t.Name], minors[t.Dev.Minor] = true, true
			out = append(out, t)
		}
	}
	if q+1 < len(b.Quiesces) {
		add(b.Quiesces[q+1].Tables)
	}
	add(b.Quiesces[q].Tables)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dev.Minor < out[j].Dev.Minor })
	return out
}

// poolRef is a thin-pool of the stack whose devices lie on the disks.
type poolRef struct {
	table          devTable
	meta, data     []segment
	metaSize       uint64 // sectors
	skipZeroing    bool
	blockSize      uint64 // sectors
	metaDev, dataD string
}

// devSize is a device's size in sectors (a disk's, or a table's total).
func (b *bootTrace) devSize(dev string, tables []devTable) uint64 {
	d, ok, err := dmsim.ParseDevT(dev)
	if !ok || err != nil {
		return 0
	}
	if d.Major == dmsim.VirtioMajor && int(d.Minor/16) < len(b.Disks) {
		return b.Disks[d.Minor/16].Sectors
	}
	for _, t := range tables {
		if t.Dev == d {
			var n uint64
			for _, s := range t.Specs {
				n += s.Length
			}
			return n
		}
	}
	return 0
}

// pools finds the stack's pools that lie on the disks, metadata on one.
func (b *bootTrace) pools(tables []devTable) []poolRef {
	var out []poolRef
	for _, t := range tables {
		if len(t.Specs) != 1 || t.Specs[0].Type != "thin-pool" {
			continue
		}
		f := strings.Fields(t.Specs[0].Params)
		if len(f) < 4 {
			continue
		}
		p := poolRef{table: t, metaDev: f[0], dataD: f[1]}
		var ok1, ok2 bool
		p.meta, ok1 = resolve(f[0], tables, 0)
		p.data, ok2 = resolve(f[1], tables, 0)
		p.metaSize = b.devSize(f[0], tables)
		if !ok1 || !ok2 || p.metaSize == 0 {
			continue
		}
		p.meta = clip(p.meta, 0, p.metaSize)
		p.data = clip(p.data, 0, b.devSize(f[1], tables))
		one := true
		for _, s := range p.meta {
			one = one && s.Disk == p.meta[0].Disk
		}
		if len(p.meta) == 0 || !one {
			continue
		}
		p.blockSize, _ = strconv.ParseUint(f[2], 10, 64)
		for _, x := range f[4:] {
			p.skipZeroing = p.skipZeroing || strings.EqualFold(x, "skip_block_zeroing")
		}
		out = append(out, p)
	}
	return out
}

// check checks one crash state: the metadata and data of every pool on
// the images, then (reboot) a machine booted on them.
func (b *bootTrace) check(v *crashView, reboot bool) *violation {
	tables := b.tablesAt(v.q)
	pools := b.pools(tables)
	states := map[string]*metaState{}
	for _, p := range pools {
		dev := &devReader{segs: p.meta, disks: v.images, size: int64(p.metaSize) * dmsim.SectorSize}
		ms, problem := b.readChecked(v, p, dev)
		states[p.table.Name] = ms
		if bad := b.checkPool(v, p, ms, problem); bad != nil {
			bad.Msg = "pool " + p.table.Name + ": " + bad.Msg
			return bad
		}
	}
	if reboot {
		return b.reopen(v, tables, pools, states)
	}
	return nil
}

// KernelWindow is the report's name for the crash states 6.1 itself
// leaves inconsistent, which the sweep counts apart from failures:
// __reserve_metadata_snap() sets held_root through superblock_lock(), a
// write lock on the superblock itself rather than a shadow, so the next
// commit's dm_bm_flush() writes that superblock (the previous
// transaction's roots, the new held_root) in the same epoch as the
// snapshot's copy and the space maps that count it: a crash that keeps
// the superblock but not them leaves a metadata snapshot that thin_check
// finds damaged. __release_metadata_snap() clears held_root the same way,
// ahead of the space maps that stop counting the snapshot. The pool's own
// transaction is intact.
const KernelWindow = "6.1 window: held_root written apart from its metadata snapshot"

// checkPool checks a pool's metadata (I2, I3, I4, I8) and data (I5, I6).
func (b *bootTrace) checkPool(v *crashView, p poolRef, ms *metaState, problem string) *violation {
	h := b.history(p.meta, p.metaSize)
	lo, hi := h.window(b.Quiesces[v.q].Seq, v.at)
	if ms.Err != "" {
		if heldWindow(h, lo, hi, ms) {
			return &violation{KernelWindow, "metadata snapshot: " + ms.Err}
		}
		return &violation{I2Check, "metadata unreadable: " + ms.Err}
	}
	if problem != "" {
		if heldWindow(h, lo, hi, ms) {
			return &violation{KernelWindow, problem}
		}
		if b.passdownWindow(v, p, h, lo, hi, ms, problem) {
			return &violation{PassdownWindow, problem}
		}
		return &violation{I2Check, problem}
	}
	c := -1
	for i := hi; i >= lo; i-- {
		if h.Commits[i].M.equal(ms) {
			c = i
			break
		}
	}
	if c < 0 {
		for i := lo - 1; i >= 0; i-- {
			if h.Commits[i].M.equal(ms) {
				return &violation{I4TransID, fmt.Sprintf("the metadata went back to %v, written before %v was acknowledged",
					ms, h.Commits[lo].M)}
			}
		}
		if heldWindow(h, lo, hi, ms) {
			return &violation{KernelWindow, fmt.Sprintf("%v holds a metadata snapshot no commit has", ms)}
		}
		for i := hi; i >= lo; i-- {
			if m := h.Commits[i].M; m.Formatted && ms.Formatted && m.Main == ms.Main && m.Held != ms.Held {
				return &violation{I8MetaSnap, fmt.Sprintf("%v holds another metadata snapshot than the commit", ms)}
			}
		}
		return &violation{I3Committed, fmt.Sprintf("%v is none of the commits a crash here may leave (%v ... %v)",
			ms, h.Commits[lo].M, h.Commits[hi].M)}
	}
	return b.checkData(v, p, h, c)
}

// PassdownWindow is the other crash state 6.1 leaves inconsistent:
// process_prepared_discard_passdown_pt1() unmaps a discarded range and
// takes an extra reference on its data blocks (dm_pool_inc_data_range())
// until the passdown completes and pt2 drops it. pt1 runs inside
// process_deferred_bios() (break_up_discard_bio() calls
// process_prepared_discard directly when no I/O is in flight), and pt2
// always in a later worker pass (passdown_endio() queues it and wakes the
// worker, even when the discard of a block still shared issues nothing),
// so the commit at the end of pt1's pass (the 1 s timer,
// need_commit_due_to_time(), or a flush of another bio) records the extra
// reference: a crash before the next commit leaves those blocks counted
// once more than they are mapped, leaked space that thin_check reports.
// The sweep counts such a state apart from failures: a data block counted
// once more than it is mapped, in a state that is a commit of the run
// whose transaction unmapped the block (the commit before maps it more
// times), or that a discard passed down to the data device covered.
const PassdownWindow = "6.1 window: a passdown discard's extra reference committed"

// passdownWindow: problem is a data block counted once more than it is
// mapped, which a discard unmapped (PassdownWindow).
func (b *bootTrace) passdownWindow(v *crashView, p poolRef, h *poolHistory, lo, hi int, ms *metaState, problem string) bool {
	var blk, want, got uint64
	if n, _ := fmt.Sscanf(problem, "data reference counts differ for block %d, expected %d, but got %d", &blk, &want, &got); n != 3 || got != want+1 {
		return false
	}
	for i := max(hi, lo); i >= max(lo, 1); i-- {
		if h.Commits[i].M.equal(ms) && h.Commits[i-1].M.refs[blk] > ms.refs[blk] {
			return true
		}
	}
	bs := p.blockSize
	d, s, ok := diskSector(p.data, blk*bs)
	if !ok {
		return false
	}
	for _, r := range b.Disks[d].Log {
		if r.Seq >= v.at {
			break
		}
		if r.Op == dmsim.OpDiscard && r.Sector <= s && r.Sector+r.Sectors >= s+bs {
			return true
		}
	}
	return false
}

// checked is a pool's metadata read and checked (thin_check's first
// problem, "" if none).
type checked struct {
	ms      *metaState
	problem string
}

// readChecked reads and checks a pool's metadata once per content: many
// states share the metadata disk's image (those of another disk's
// epochs), and a big pool's space maps take long to recount.
func (b *bootTrace) readChecked(v *crashView, p poolRef, dev *devReader) (*metaState, string) {
	key := fmt.Sprint(v.fps[p.meta[0].Disk], p.meta, p.metaSize)
	b.histMu.Lock()
	if b.checkedMeta == nil {
		b.checkedMeta = map[string]*checked{}
	}
	c, ok := b.checkedMeta[key]
	b.histMu.Unlock()
	if ok {
		return c.ms, c.problem
	}
	c = &checked{ms: readMeta(dev)}
	if c.ms.Err == "" && c.ms.Formatted {
		if rep := thinmeta.NewImage(dev).Check(); !rep.OK() {
			c.problem = rep.Problems[0].Msg
		}
	}
	b.histMu.Lock()
	b.checkedMeta[key] = c
	b.histMu.Unlock()
	return c.ms, c.problem
}

// heldWindow: the state is a commit of the window but for held_root, set
// where the commit has none or cleared where it has one (KernelWindow;
// __release_metadata_snap() clears it the same way).
func heldWindow(h *poolHistory, lo, hi int, ms *metaState) bool {
	if ms.mainErr || !ms.Formatted {
		return false
	}
	for i := lo; i <= hi; i++ {
		if m := h.Commits[i].M; m.Formatted && m.Main == ms.Main && m.heldSet != ms.heldSet {
			return true
		}
	}
	return false
}

// checkData checks every mapped data block of commit c on the crash
// images: each sector holds a value written to it since the block was
// mapped (the transaction before the first commit of the run that maps
// it began), and before the crash. Older content is lost data the commit
// promised (I5) or what the block held for its previous owner (I6).
func (b *bootTrace) checkData(v *crashView, p poolRef, h *poolHistory, c int) *violation {
	cm := h.Commits[c]
	bs := uint64(cm.M.BlockSize)
	if bs == 0 {
		bs = p.blockSize
	}
	if bad := b.checkFUA(v, p, h, c); bad != nil {
		return bad
	}
	if bad := b.checkAcked(v, p, h.Commits[c].M); bad != nil {
		return bad
	}
	buf := make([]byte, dmsim.SectorSize)
	for _, blk := range cm.M.Mapped {
		c0 := cm.since[blk]
		var from uint64
		if c0 > 0 {
			from = h.Commits[c0-1].Seq
		}
		for i := uint64(0); i < bs; i++ {
			d, s, ok := diskSector(p.data, blk*bs+i)
			if !ok {
				return &violation{I6Foreign, fmt.Sprintf("data block %d lies beyond the data device", blk)}
			}
			if _, err := v.images[d].ReadAt(buf, int64(s)*dmsim.SectorSize); err != nil && err != io.EOF {
				return &violation{I5Durable, err.Error()}
			}
			hist := b.sectorHistory(d)[s]
			wrote, match := false, false
			for _, w := range hist {
				if w.seq <= from || w.seq >= v.at {
					continue
				}
				wrote = true
				if (w.data == nil && allZero(buf)) || (w.data != nil && bytes.Equal(w.data, buf)) {
					match = true
					break
				}
			}
			if match || (!wrote && p.skipZeroing) {
				continue
			}
			if c0 == 0 {
				base := make([]byte, dmsim.SectorSize)
				b.Disks[d].Base.ReadAt(base, int64(s)*dmsim.SectorSize)
				if bytes.Equal(base, buf) {
					continue
				}
			}
			inv := I5Durable
			if !allZero(buf) {
				inv = I6Foreign
			}
			return &violation{inv, fmt.Sprintf("%v maps data block %d, whose sector %d (%s sector %d) holds data written before the block was mapped",
				cm.M, blk, i, b.Disks[d].Name, s)}
		}
	}
	return nil
}

// checkFUA: a write to the data device that carried REQ_FUA and was
// acknowledged before the last quiesce (the command that sent it ended)
// must be reachable: some commit between it and the crash maps its data
// block (complete_overwrite_bio() holds a FUA overwrite of a new block
// until the commit that maps it).
func (b *bootTrace) checkFUA(v *crashView, p poolRef, h *poolHistory, c int) *violation {
	bs := p.blockSize
	if bs == 0 {
		return nil
	}
	quiesced := b.Quiesces[v.q].Seq
	for _, g := range p.data {
		for _, r := range b.Disks[g.Disk].Log {
			if r.Seq > quiesced || r.Op != dmsim.OpWrite || r.Flags&dmsim.ReqFUA == 0 {
				continue
			}
			if r.Sector < g.Offset || r.Sector >= g.Offset+g.Len {
				continue
			}
			blk := (g.Start + r.Sector - g.Offset) / bs
			mapped := slices.Contains(h.Commits[c].M.Mapped, blk)
			for j := range h.Commits {
				if h.Commits[j].Seq > r.Seq && h.Commits[j].Seq < v.at && slices.Contains(h.Commits[j].M.Mapped, blk) {
					mapped = true
				}
			}
			if !mapped {
				return &violation{I5Durable, fmt.Sprintf("a FUA write to data block %d (%s sector %d) was acknowledged, but no commit before the crash maps the block",
					blk, b.Disks[g.Disk].Name, r.Sector)}
			}
		}
	}
	return nil
}

// checkAcked: every write acknowledged with FUA to a thin of the pool
// (the test-only fua-write) before the crash is mapped.
func (b *bootTrace) checkAcked(v *crashView, p poolRef, ms *metaState) *violation {
	bs := uint64(ms.BlockSize)
	if bs == 0 {
		return nil
	}
	for _, q := range b.Quiesces {
		if q.FUA == nil || q.FUA.Seq >= v.at {
			continue
		}
		for _, t := range q.Tables {
			if "/dev/mapper/"+t.Name != q.FUA.Dev || len(t.Specs) != 1 || t.Specs[0].Type != "thin" {
				continue
			}
			f := strings.Fields(t.Specs[0].Params)
			if len(f) < 2 || f[0] != p.table.Dev.String() {
				continue
			}
			id, _ := strconv.ParseUint(f[1], 10, 64)
			for s := q.FUA.Off / dmsim.SectorSize; s < (q.FUA.Off+q.FUA.Length)/dmsim.SectorSize; s += bs {
				if !ms.virt[[2]uint64{id, s / bs}] {
					return &violation{I5Durable, fmt.Sprintf("%s: a FUA write of block %d was acknowledged, but %v does not map it",
						t.Name, s/bs, ms)}
				}
			}
		}
	}
	return nil
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// written is one write (or discard: nil data) of a sector.
type written struct {
	seq  uint64
	data []byte
}

// sectorHistory is every write of every sector of a disk, in order.
func (b *bootTrace) sectorHistory(disk int) map[uint64][]written {
	b.histMu.Lock()
	defer b.histMu.Unlock()
	if b.hist == nil {
		b.hist = map[int]map[uint64][]written{}
	}
	if h, ok := b.hist[disk]; ok {
		return h
	}
	h := map[uint64][]written{}
	for i := range b.Disks[disk].Log {
		r := &b.Disks[disk].Log[i]
		for j := uint64(0); j < r.Sectors; j++ {
			switch r.Op {
			case dmsim.OpWrite:
				h[r.Sector+j] = append(h[r.Sector+j], written{r.Seq, r.Data()[j*dmsim.SectorSize : (j+1)*dmsim.SectorSize]})
			case dmsim.OpDiscard:
				h[r.Sector+j] = append(h[r.Sector+j], written{r.Seq, nil})
			}
		}
	}
	b.hist[disk] = h
	return h
}

// reopen boots a machine on the crash images (copy-on-write: the machine's
// writes stay its own), creates the device stack again, and checks every
// pool reopens (I1) and accounts for its space (I7).
func (b *bootTrace) reopen(v *crashView, tables []devTable, pools []poolRef, states map[string]*metaState) *violation {
	var specs []dmsim.DiskSpec
	var env []string
	for i, d := range b.Disks {
		specs = append(specs, dmsim.DiskSpec{Image: newCOW(v.images[i], v.sizes[i]), Size: v.sizes[i]})
		env = append(env, "DISK_"+d.Name+"=/dev/vd"+string(rune('a'+i)))
	}
	m, err := script.BootIn(scratchDir(), specs, env)
	if err != nil {
		return &violation{I1Reopen, "boot: " + err.Error()}
	}
	defer m.Close()
	m.CommandTime, m.MaxStall = 0, 0
	isPool := map[string]*poolRef{}
	for i := range pools {
		isPool[pools[i].table.Name] = &pools[i]
	}
	thinIDs := map[string]map[uint64]bool{} // pool dev "253:N" -> ids
	for _, p := range pools {
		ids := map[uint64]bool{}
		for _, t := range states[p.table.Name].Thins {
			ids[t] = true
		}
		thinIDs[p.table.Dev.String()] = ids
	}
	made := map[string]bool{}
	oomsPools := map[string]bool{}
	// A new boot hands out minors from 0: the devices get other numbers
	// than in the run, which later tables' device arguments follow.
	renum := map[string]string{}
	for _, t := range tables {
		if len(t.Specs) == 1 && t.Specs[0].Type == "thin" {
			f := strings.Fields(t.Specs[0].Params)
			if len(f) < 2 || !made[f[0]] {
				continue
			}
			id, _ := strconv.ParseUint(f[1], 10, 64)
			if ids, ok := thinIDs[f[0]]; !ok || !ids[id] {
				continue // not in the crash state's metadata
			}
		}
		var lines []string
		for _, s := range t.Specs {
			f := strings.Fields(s.Params)
			for i, a := range f {
				if n, ok := renum[a]; ok {
					f[i] = n
				}
			}
			lines = append(lines, fmt.Sprintf("%d %d %s %s", s.Start, s.Length, s.Type, strings.Join(f, " ")))
		}
		cmd := fmt.Sprintf("dmsetup create %s <<'EOF'\n%s\nEOF", t.Name, strings.Join(lines, "\n"))
		r := m.RunLine(context.Background(), cmd)
		if isPool[t.Name] != nil && strings.Contains(kmsg(r.Kmsg), "No free metadata blocks") {
			// check_for_metadata_space(): the crash left the metadata
			// full, so the pool opens out of metadata space (status ro).
			oomsPools[t.Name] = true
		}
		if r.Status == 0 {
			made[t.Dev.String()] = true
			renum[t.Dev.String()] = dmsim.DevT{Major: t.Dev.Major, Minor: uint32(len(renum))}.String()
			continue
		}
		if p := isPool[t.Name]; p != nil && b.ready(p, made) {
			if strings.Contains(kmsg(r.Kmsg), "too small: expected") {
				// The stack's metadata device is smaller than the
				// metadata the crash left says (the run shrank it, and
				// the pool refused it there too): pool_preresume()
				// refuses it, as 6.1 would.
				continue
			}
			if ms := states[t.Name]; ms.Formatted && uint64(ms.BlockSize) != p.blockSize {
				// The crash kept metadata of an earlier pool on the
				// device (an application's wipe of its superblock was
				// not flushed): pool_ctr() refuses the table's block
				// size, as 6.1 would.
				continue
			}
			return &violation{I1Reopen, fmt.Sprintf("pool %s does not reopen: %s%s", t.Name,
				strings.TrimSpace(string(r.Stderr)), kmsg(r.Kmsg))}
		}
		if len(t.Specs) == 1 && t.Specs[0].Type == "thin" {
			return &violation{I1Reopen, fmt.Sprintf("thin %s does not reopen: %s%s", t.Name,
				strings.TrimSpace(string(r.Stderr)), kmsg(r.Kmsg))}
		}
	}
	for _, p := range pools {
		if !made[p.table.Dev.String()] {
			continue
		}
		r := m.RunLine(context.Background(), "dmsetup status "+p.table.Name)
		ms := states[p.table.Name]
		f := strings.Fields(string(r.Stdout))
		if r.Status != 0 || len(f) < 9 {
			return &violation{I1Reopen, fmt.Sprintf("pool %s: status: %q%s", p.table.Name, r.Stdout, kmsg(r.Kmsg))}
		}
		mode := f[7]
		if strings.Contains(kmsg(r.Kmsg), "No free metadata blocks") {
			oomsPools[p.table.Name] = true // the status's commit found it full
		}
		switch {
		case ms.NeedsCheck && mode != "ro":
			return &violation{I1Reopen, fmt.Sprintf("pool %s needs_check reopens %s", p.table.Name, mode)}
		case !ms.NeedsCheck && mode != "rw" && mode != "out_of_data_space" && !(mode == "ro" && oomsPools[p.table.Name]):
			return &violation{I1Reopen, fmt.Sprintf("pool %s reopens %s%s", p.table.Name, mode, kmsg(r.Kmsg))}
		}
		used, _, _ := strings.Cut(f[5], "/")
		if ms.Formatted && used != strconv.Itoa(ms.used) {
			return &violation{I7Space, fmt.Sprintf("pool %s: %s data blocks used, %d mapped", p.table.Name, used, ms.used)}
		}
		if ms.Formatted && f[3] != strconv.FormatUint(ms.TransID, 10) {
			return &violation{I4TransID, fmt.Sprintf("pool %s reopens at transaction %s, the metadata holds %d", p.table.Name, f[3], ms.TransID)}
		}
	}
	return nil
}

// ready: the pool's devices are disks or devices created again.
func (b *bootTrace) ready(p *poolRef, made map[string]bool) bool {
	for _, d := range []string{p.metaDev, p.dataD} {
		if dt, ok, _ := dmsim.ParseDevT(d); !ok || (dt.Major == dmsim.DMMajor && !made[d]) {
			return false
		}
	}
	return true
}

func kmsg(ls []dmsim.LogLine) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.String())
	}
	if len(s) == 0 {
		return ""
	}
	return " (kernel: " + strings.Join(s, "; ") + ")"
}
