package thinsync

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// replicate: asynchronous replication of a live thin. Each cycle takes a
// snapshot of the thin (suspended meanwhile), sends it incrementally from
// the previous cycle's snapshot and receives it as a snapshot of the
// previous replica on a second pool (or writes the stream to a file or
// device that another machine receives with recv). Only then is the cycle
// published: the replicate state names it, the source's previous snapshot
// (no longer a base) is deleted and the target keeps the newest --keep
// replicas.
//
// Ids: cycle c's snapshot is SNAPFIRST+c-1 on the source, its replica
// TOFIRST+c-1 on the target.
//
// The state: the two slots of recv's state (recv.go, at 0 and 4096, for
// the receive's own resume), then two more slots at 8192 and 12288 for
// replicate (same layout, state.go). A cycle's phases, each recorded
// before it starts: snapshot (the snapshot may exist), sending (it
// exists), receiving (the stream is whole in the transfer file or device),
// published. A run that finds an unfinished cycle resumes its receive when
// the stream is still there, else rolls the cycle back: nothing half
// received is ever published.

// Exit codes of replicate (docs/thinsync.md, "Exit codes").
const (
	ExitDiverged = 15 // the target's newest replica is not the last published cycle
	ExitNoRoom   = 16 // the target pool has no room for the cycle: rolled back
)

const repStateOff = 2 * slotSize

// ReplicateOpts are replicate's options.
type ReplicateOpts struct {
	Pool, Dev, State string
	ID, SnapFirst    uint64
	ToPool           string // same machine: receive into this pool
	ToFirst          uint64
	Xfer             string // where the stream is staged for ToPool
	Out              string // no ToPool: write each cycle's stream here (%d: the cycle)
	Keep             int
	Every            time.Duration
	Count            int // cycles of this run (0: until killed)
	Codec            string
	Checkpoint       uint64
	Manifests        string
	Reset            bool   // the next cycle is a full stream
	StopAfter        uint64 // test hook: the first receive stops after N records
	// StopAt (a test hook) exits as if killed once the first cycle's step
	// PHASE (snapshot, sending, receiving) is done, before the state says
	// so: the worst moment for the next run.
	StopAt string
}

// repState is the replicate state's key=value text.
type repState struct {
	pool, to          string
	id, snap, toFirst uint64
	cycle             uint64 // the last published cycle (0: none)
	root              string // its image root
	size              uint64 // its volume bytes
	first             uint64 // the oldest cycle the target may still keep
	phase             string // published, snapshot, sending, receiving
	next, nextSize    uint64 // the cycle in progress and its volume bytes
	full              bool   // the cycle in progress is a full stream
	drop              string // deletions still to do: POOL:ID ...
	manifests         string // the last --manifests: dropped thins' go too
	prev              *State
}

func (s *repState) kv() map[string]string {
	kv := map[string]string{"phase": s.phase, "pool": s.pool, "id": fmt.Sprint(s.id), "to": s.to,
		"snap_first": fmt.Sprint(s.snap), "to_first": fmt.Sprint(s.toFirst), "cycle": fmt.Sprint(s.cycle),
		"root": s.root, "size": fmt.Sprint(s.size), "first": fmt.Sprint(s.first), "drop": s.drop,
		"manifests": s.manifests}
	if s.phase != "published" {
		kv["next"], kv["next_size"], kv["full"] = fmt.Sprint(s.next), fmt.Sprint(s.nextSize), strconv.FormatBool(s.full)
	}
	return kv
}

func parseRepState(st *State) *repState {
	n := st.num
	return &repState{pool: st.get("pool"), to: st.get("to"), id: n("id"), snap: n("snap_first"), toFirst: n("to_first"),
		cycle: n("cycle"), root: st.get("root"), size: n("size"), first: n("first"), phase: st.get("phase"),
		next: n("next"), nextSize: n("next_size"), full: st.get("full") == "true", drop: st.get("drop"), manifests: st.get("manifests"), prev: st}
}

// loadRepState reads replicate's slots; nil when there is none.
func (t *tool) loadRepState(name string) (*repState, error) {
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	defer f.Close()
	b := make([]byte, 2*slotSize)
	n, _ := f.ReadAt(b, repStateOff)
	return newestRepState(b[:n]), nil
}

// newestRepState decodes the newest valid of the two slots in b.
func newestRepState(b []byte) *repState {
	var best *State
	for i := 0; i < 2 && len(b) >= (i+1)*slotSize; i++ {
		if s := decodeSlot(b[i*slotSize : (i+1)*slotSize]); s != nil && (best == nil || s.Seq > best.Seq) {
			s.slot = i
			best = s
		}
	}
	if best == nil {
		return nil
	}
	return parseRepState(best)
}

// save writes the state into the slot after the previous one and syncs it.
func (r *replication) save() error {
	s, prev := &State{KV: r.st.kv(), Seq: 1}, r.st.prev
	if prev != nil {
		s.Seq, s.slot = prev.Seq+1, 1-prev.slot
	}
	if err := r.t.writeSynced(r.o.State, s.encode(), int64(repStateOff+s.slot*slotSize)); err != nil {
		return err
	}
	r.st.prev = s
	return nil
}

// replication is one run of replicate.
type replication struct {
	t       *tool
	o       *ReplicateOpts
	st      *repState
	started time.Time // the last cycle's start (--every)
}

func (r *replication) snapID(c uint64) uint64 { return r.o.SnapFirst + c - 1 }
func (r *replication) toID(c uint64) uint64   { return r.o.ToFirst + c - 1 }

// target names where the replicas go, as the state records it.
func (o *ReplicateOpts) target() string {
	if o.ToPool != "" {
		return "pool:" + o.ToPool
	}
	return "stream" // the receiver's business: any -o
}

// Replicate runs Count cycles (after finishing an interrupted one).
func (t *tool) Replicate(o *ReplicateOpts) error {
	if o.Keep < 1 {
		return fail(ExitUsage, "replicate: --keep must be at least 1")
	}
	if (o.ToPool == "") == (o.Out == "") {
		return fail(ExitUsage, "replicate: give --to-pool or -o")
	}
	if o.ToPool == o.Pool {
		return fail(ExitUsage, "replicate: --to-pool must be another pool (a snapshot is a replica within one)")
	}
	if o.Out != "" && o.Count != 1 && !strings.Contains(o.Out, "%d") {
		return fail(ExitUsage, "replicate: several cycles into one -o: put %%d (the cycle) in its name")
	}
	p, err := t.pool(o.Pool)
	if err != nil {
		return err
	}
	if o.ToPool != "" {
		tp, err := t.pool(o.ToPool)
		if err != nil {
			return err
		}
		if tp.blockSize != p.blockSize {
			return fail(ExitGeometry, "pool %s has %d-sector blocks, %s %d: a replica needs the same", o.Pool, p.blockSize, o.ToPool, tp.blockSize)
		}
	}
	if !t.sys.IsDevice(o.State) {
		// recv and the slots below need the file to exist
		f, err := t.sys.Open(o.State, ORdWr|OCreate)
		if err != nil {
			return fail(ExitState, "state %s: %s", o.State, errText(err))
		}
		f.Close()
	}
	st, err := t.loadRepState(o.State)
	if err != nil {
		return err
	}
	r := &replication{t: t, o: o, st: st}
	if st == nil {
		r.st = &repState{pool: o.Pool, id: o.ID, to: o.target(), snap: o.SnapFirst, toFirst: o.ToFirst, first: 1, phase: "published"}
	} else if st.pool != o.Pool || st.id != o.ID || st.to != o.target() || st.snap != o.SnapFirst || st.toFirst != o.ToFirst {
		return fail(ExitState, "state %s replicates pool %s thin %d (snapshots from %d) to %s (from %d), not this", o.State,
			st.pool, st.id, st.snap, strings.TrimPrefix(strings.TrimPrefix(st.to, "pool:"), "stream:"), st.toFirst)
	}
	if o.Manifests != "" {
		r.st.manifests = o.Manifests
	}
	if o.Xfer == "" {
		o.Xfer = fmt.Sprintf("/tmp/thinsync-replicate-%s-%d.stream", o.Pool, o.ID)
	}
	done := 0
	if r.st.phase != "published" {
		resumed, err := r.recover()
		if err != nil {
			return err
		}
		if resumed {
			done++
		}
	}
	if r.st.drop != "" {
		if err := r.dropAll(); err != nil {
			return err
		}
	}
	for ; o.Count == 0 || done < o.Count; done++ {
		if done > 0 {
			if err := r.sleep(); err != nil {
				return err
			}
		}
		if err := r.cycle(); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits until --every after the start of the last cycle (in dmsim
// the clock reads nothing and the sleep is the emulator's virtual time;
// the clock is never printed).
func (r *replication) sleep() error {
	if d := r.o.Every - r.t.sys.Now().Sub(r.started); d > 0 {
		r.t.sys.Sleep(d)
	}
	if r.t.sys.Killed() {
		return errKilled
	}
	return nil
}

// cycle runs one cycle: snapshot, send, receive, publish.
func (r *replication) cycle() error {
	t, o, st := r.t, r.o, r.st
	c := st.cycle + 1
	snap := r.snapID(c)
	r.started = t.sys.Now()
	sectors, err := t.tableSectors(o.Dev)
	if err != nil {
		return err
	}
	st.phase, st.next, st.nextSize, st.full = "snapshot", c, sectors*512, st.cycle == 0 || o.Reset
	o.Reset = false
	if err := r.save(); err != nil {
		return err
	}
	if err := t.snapshotLive(o.Pool, o.Dev, o.ID, snap); err != nil {
		st.phase = "published"
		if serr := r.save(); serr != nil {
			return serr
		}
		return fail(ExitBusy, "cycle %d: %v", c, err)
	}
	if r.stopAt("snapshot") {
		return errStopped
	}
	st.phase = "sending"
	if err := r.save(); err != nil {
		return err
	}
	base := int64(-1)
	if !st.full {
		base = int64(r.snapID(st.cycle))
	}
	out := o.Xfer
	if o.ToPool == "" {
		out = strings.ReplaceAll(o.Out, "%d", fmt.Sprint(c))
	}
	ss, err := t.Send(&SendOpts{Pool: o.Pool, ID: snap, Base: base, Sectors: st.nextSize / 512, BaseSector: st.size / 512,
		Codec: o.Codec, Checkpoint: o.Checkpoint, Out: out, Manifests: o.Manifests})
	if err != nil {
		return r.rollback(err)
	}
	if r.stopAt("sending") {
		return errStopped
	}
	kind := "full"
	if base >= 0 {
		kind = fmt.Sprintf("incremental from %d", base)
	}
	if o.ToPool == "" {
		e := ss.End
		return r.publish(Hex(ss.Root), fmt.Sprintf("thinsync: cycle %d: snapshot %d -> %s (%s): %d DATA records (%d bytes, %d stored), %d ZERO (%d bytes); root %s",
			c, snap, out, kind, e.DataRecords, e.DataBytes, e.StoredBytes, e.ZeroRecords, e.ZeroBytes, Hex(ss.Root)[:16]))
	}
	// Refuse before receiving when the target cannot take the cycle: a
	// DATA record maps at most one new block of a snapshot of the replica.
	free, err := r.freeBlocks()
	if err != nil {
		return r.rollback(err)
	}
	if need := ss.End.DataRecords; need > free {
		return r.rollback(fail(ExitNoRoom, "pool %s has %d free data blocks, cycle %d needs up to %d: nothing received; the last published cycle is %d",
			o.ToPool, free, c, need, st.cycle))
	}
	st.phase = "receiving"
	if err := r.save(); err != nil {
		return err
	}
	return r.receive(false)
}

// receive receives the staged stream of the cycle in progress into its
// replica (resuming a cut receive) and publishes it.
func (r *replication) receive(resume bool) error {
	t, o, st := r.t, r.o, r.st
	c := st.next
	base := int64(-1)
	kind := "full"
	if !st.full {
		base = int64(r.toID(st.cycle))
		kind = fmt.Sprintf("incremental from %d", base)
	}
	ro := &RecvOpts{Pool: o.ToPool, ID: r.toID(c), Base: base, In: o.Xfer, State: o.State, Resume: resume,
		Verify: "root", Manifests: o.Manifests, StopAfter: o.StopAfter}
	o.StopAfter = 0
	rs, err := t.Recv(ro)
	switch {
	case err == nil:
	case errors.Is(err, errStopped):
		return err // the test hook: no cleanup, as if killed
	case errors.Is(err, errKilled) || t.sys.Killed():
		return errKilled // recv kept the partial replica for a resume
	default:
		// recv deleted the partial replica; the snapshot goes too.
		var ee *exitError
		if errors.As(err, &ee) {
			switch ee.code {
			case ExitNoSpace:
				err = fail(ExitNoRoom, "cycle %d: %s: nothing published; the last published cycle is %d", c, ee.msg, st.cycle)
			case ExitWrongBase:
				err = fail(ExitDiverged, "cycle %d: %s: the replica is not cycle %d's any more (--reset sends a full cycle)", c, ee.msg, st.cycle)
			}
		}
		return r.rollback(err)
	}
	if r.stopAt("receiving") {
		return errStopped
	}
	if !t.sys.IsDevice(o.Xfer) {
		t.sys.Remove(o.Xfer)
	}
	resumed := ""
	if resume {
		resumed = fmt.Sprintf(", resumed (%d skipped)", rs.Skipped)
	}
	return r.publish(Hex(rs.Root), fmt.Sprintf("thinsync: cycle %d: snapshot %d -> thin %d of %s (%s): %d records%s; wrote %d bytes, discarded %d, zeroed %d; root %s",
		c, r.snapID(c), r.toID(c), o.ToPool, kind, rs.Records, resumed, rs.Written, rs.Discarded, rs.Zeroed, Hex(rs.Root)[:16]))
}

// publish records the cycle in progress as published, then deletes what
// it no longer needs: the source's previous snapshot and the replicas
// beyond --keep. line is the cycle's summary.
func (r *replication) publish(root, line string) error {
	o, st := r.o, r.st
	c := st.next
	var drop []string
	if st.cycle > 0 {
		drop = append(drop, fmt.Sprintf("%s:%d", o.Pool, r.snapID(st.cycle)))
	}
	if o.ToPool != "" {
		for ; st.first+uint64(o.Keep) <= c; st.first++ {
			drop = append(drop, fmt.Sprintf("%s:%d", o.ToPool, r.toID(st.first)))
		}
	}
	st.cycle, st.root, st.size, st.phase = c, root, st.nextSize, "published"
	st.next, st.nextSize, st.full = 0, 0, false
	st.drop = strings.Join(append(strings.Fields(st.drop), drop...), " ")
	if err := r.save(); err != nil {
		return err
	}
	var gone []string
	for _, d := range strings.Fields(st.drop) {
		pool, id, _ := strings.Cut(d, ":")
		gone = append(gone, fmt.Sprintf("thin %s of %s", id, pool))
	}
	err := r.dropAll()
	if len(gone) > 0 {
		line += "; deleted " + strings.Join(gone, ", ")
	}
	fmt.Fprintln(r.t.sys.Stdout(), line)
	return err
}

// dropAll deletes the thins the state still lists; one already gone
// counts as deleted, one still busy stays listed for the next cycle.
func (r *replication) dropAll() error {
	var left []string
	for _, d := range strings.Fields(r.st.drop) {
		pool, id, _ := strings.Cut(d, ":")
		if err := r.t.deleteThinIfThere(pool, id); err != nil {
			fmt.Fprintf(r.t.sys.Stderr(), "thinsync: thin %s of %s is kept for now: %v\n", id, pool, err)
			left = append(left, d)
			continue
		}
		if r.st.manifests != "" {
			n, _ := strconv.ParseUint(id, 10, 64)
			r.t.sys.Remove(manifestPath(r.st.manifests, pool, n))
		}
	}
	r.st.drop = strings.Join(left, " ")
	return r.save()
}

// deleteThinIfThere is deleteThin where a thin that is not there
// (ENODATA) is fine.
func (t *tool) deleteThinIfThere(pool, id string) error {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return fmt.Errorf("thin id %q: %w", id, err)
	}
	if err := t.deleteThin(pool, n); err != nil && !strings.Contains(err.Error(), "No data available") {
		return err
	}
	return nil
}

// stopAt reports (once) whether the test hook stops the run after phase.
func (r *replication) stopAt(phase string) bool {
	if r.o.StopAt != phase {
		return false
	}
	r.o.StopAt = ""
	return true
}

// rollback undoes the cycle in progress (its snapshot is deleted; a
// partial replica was deleted by recv) and returns err.
func (r *replication) rollback(err error) error {
	t, o, st := r.t, r.o, r.st
	if derr := t.deleteThinIfThere(o.Pool, fmt.Sprint(r.snapID(st.next))); derr != nil {
		fmt.Fprintf(t.sys.Stderr(), "thinsync: cleanup: %v\n", derr)
	}
	if o.Manifests != "" {
		t.sys.Remove(manifestPath(o.Manifests, o.Pool, r.snapID(st.next))) // the id is used again
	}
	if o.ToPool != "" && !t.sys.IsDevice(o.Xfer) {
		t.sys.Remove(o.Xfer)
	}
	st.phase, st.next, st.nextSize, st.full = "published", 0, 0, false
	if serr := r.save(); serr != nil {
		return serr
	}
	return err
}

// recover finishes or rolls back the cycle an earlier run left. It
// reports whether that cycle got published.
func (r *replication) recover() (bool, error) {
	t, o, st := r.t, r.o, r.st
	c := st.next
	w := t.sys.Stdout()
	if st.phase == "receiving" {
		rs, err := t.loadState(o.State)
		if err != nil {
			return false, err
		}
		ours := rs != nil && rs.get("pool") == o.ToPool && rs.num("id") == r.toID(c)
		switch {
		case ours && rs.get("phase") == "published":
			// cut after the receive published, before the cycle did
			fmt.Fprintf(w, "thinsync: cycle %d was cut after its receive\n", c)
			return true, r.publish(rs.get("root"), fmt.Sprintf("thinsync: cycle %d: thin %d of %s was received and verified", c, r.toID(c), o.ToPool))
		case ours && rs.get("phase") == "receiving":
			fmt.Fprintf(w, "thinsync: cycle %d was cut while receiving: resuming\n", c)
			err := r.receive(true)
			if err == nil || errors.Is(err, errStopped) || errors.Is(err, errKilled) {
				return err == nil, err
			}
			// the stream is gone (a file after a reboot) or damaged
			fmt.Fprintf(t.sys.Stderr(), "thinsync: cycle %d cannot be resumed: %s\n", c, errText(err))
			t.Recv(&RecvOpts{Pool: o.ToPool, ID: r.toID(c), State: o.State, Abort: true})
			if st.phase == "published" { // receive rolled the cycle back
				fmt.Fprintf(w, "thinsync: cycle %d rolled back\n", c)
				return false, nil
			}
		}
	}
	fmt.Fprintf(w, "thinsync: cycle %d was cut in its %s phase: rolled back\n", c, st.phase)
	return false, r.rollback(nil)
}

// freeBlocks is the target pool's free data blocks (pool_status()).
func (r *replication) freeBlocks() (uint64, error) {
	out, err := r.t.dmsetup("status", r.o.ToPool)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(out))
	if len(f) < 8 || f[2] != "thin-pool" {
		return 0, fail(ExitError, "pool %s: unexpected status %q", r.o.ToPool, strings.TrimSpace(string(out)))
	}
	used, total, ok := strings.Cut(f[5], "/")
	u, err1 := strconv.ParseUint(used, 10, 64)
	n, err2 := strconv.ParseUint(total, 10, 64)
	if !ok || err1 != nil || err2 != nil || u > n {
		return 0, fail(ExitError, "pool %s: bad data usage %q", r.o.ToPool, f[5])
	}
	if f[7] != "rw" {
		return 0, fail(ExitNoRoom, "pool %s is %s: nothing received; the last published cycle is %d", r.o.ToPool, f[7], r.st.cycle)
	}
	return n - u, nil
}

func (t *tool) cmdReplicate(args []string) error {
	fs := t.flags("replicate")
	o := &ReplicateOpts{}
	var id, snap, to int64
	var every float64
	var codec string
	fs.StringVar(&o.Pool, "pool", "", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.StringVar(&o.Dev, "dev", "", "")
	fs.Int64Var(&snap, "snap-ids", -1, "")
	fs.StringVar(&o.ToPool, "to-pool", "", "")
	fs.Int64Var(&to, "to-ids", -1, "")
	fs.StringVar(&o.Xfer, "xfer", "", "")
	fs.StringVar(&o.Out, "o", "", "")
	fs.StringVar(&o.State, "state", "", "")
	fs.IntVar(&o.Keep, "keep", 1, "")
	fs.Float64Var(&every, "every", 0, "")
	fs.IntVar(&o.Count, "count", 1, "")
	fs.StringVar(&codec, "compress", "zstd:fastest", "")
	fs.Uint64Var(&o.Checkpoint, "checkpoint", 0, "")
	fs.StringVar(&o.Manifests, "manifests", "", "")
	fs.BoolVar(&o.Reset, "reset", false, "")
	fs.Uint64Var(&o.StopAfter, "stop-after-records", 0, "") // test hook
	fs.StringVar(&o.StopAt, "stop-at", "", "")              // test hook
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Pool == "" || o.Dev == "" || o.State == "" || id < 0 || snap < 0 || fs.NArg() != 0 {
		return fail(ExitUsage, "replicate: --pool, --id, --dev, --snap-ids and --state are required (thinsync help)")
	}
	if every < 0 || o.Count < 0 {
		return fail(ExitUsage, "replicate: --every and --count cannot be negative")
	}
	if to < 0 {
		to = snap
	}
	var err error
	if o.Codec, err = ParseCodec(codec); err != nil {
		return fail(ExitUsage, "replicate: %v", err)
	}
	o.ID, o.SnapFirst, o.ToFirst, o.Every = uint64(id), uint64(snap), uint64(to), time.Duration(every*float64(time.Second))
	return t.Replicate(o)
}
