package thinsync

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Exit codes of migrate (docs/thinsync.md, "Exit codes").
const (
	ExitTooSmall = 11 // the target pool has too few free data blocks
	ExitPoolMode = 12 // the source is read-only or failed, or the target is read-only, failed or needs_check
)

// MigrateOpts are migrate's options.
type MigrateOpts struct {
	From, To string   // source and target pools
	IDs      []uint64 // the family, oldest first (the live thin for --live)
	ToIDs    []uint64 // their ids on the target
	Sectors  []uint64 // sizes: one for all, or one per id (--live: DEV's table)
	Codec    string
	// Manifests: see SendOpts (send and recv keep POOL-ID.manifest there).
	Manifests string
	// Spool is a file or device the streams go through ("": memory).
	Spool string
	// Live is the dm device of IDs[0] that stays in use; its table is
	// swapped to ToIDs[0] on the target in the final round.
	Live       string
	Rounds     int    // pre-copy rounds at most
	FinalBelow uint64 // a pre-copy round of at most this many data bytes is the last
	Snaps      []uint64
	State      string // file or device of the live migration's state
	Resume     bool
	// Between (a test hook standing for the device's users) runs after
	// every pre-copy round: a command split at spaces, {round} replaced.
	Between string
	// StopAfterRound (a test hook) exits after that pre-copy round as if
	// killed, leaving the state for --resume.
	StopAfterRound int
}

// poolState is what a thin-pool status line says (pool_status()).
type poolState struct {
	failed, readOnly, needsCheck bool
	usedData, totalData          uint64
}

func (t *tool) poolState(pool string) (*poolState, error) {
	out, err := t.dmsetup("status", pool)
	if err != nil {
		return nil, err
	}
	return parsePoolStatus(pool, string(out))
}

// parsePoolStatus reads a thin-pool status line: "Fail", or transaction,
// used/total metadata blocks, used/total data blocks, held root, mode
// (rw, ro, out_of_data_space), discards, no-space policy, needs_check.
func parsePoolStatus(pool, line string) (*poolState, error) {
	f := strings.Fields(line)
	if len(f) >= 4 && f[2] == "thin-pool" && f[3] == "Fail" {
		return &poolState{failed: true}, nil
	}
	if len(f) < 11 || f[2] != "thin-pool" {
		return nil, fail(ExitError, "%s is not a thin-pool device", pool)
	}
	s := &poolState{readOnly: f[7] == "ro", needsCheck: f[10] == "needs_check"}
	used, total, ok := strings.Cut(f[5], "/")
	var err error
	s.usedData, err = strconv.ParseUint(used, 10, 64)
	if err == nil {
		s.totalData, err = strconv.ParseUint(total, 10, 64)
	}
	if !ok || err != nil || s.usedData > s.totalData {
		return nil, fail(ExitError, "pool %s: bad status %q", pool, strings.TrimSpace(line))
	}
	return s, nil
}

// checkPools refuses a source that cannot take snapshots or metadata
// snapshots (read-only, failed) and a target that cannot take thins.
func (t *tool) checkPools(from, to string) (src, dst *poolState, err error) {
	if src, err = t.poolState(from); err != nil {
		return nil, nil, err
	}
	switch {
	case src.failed:
		return nil, nil, fail(ExitPoolMode, "source pool %s has failed", from)
	case src.readOnly:
		return nil, nil, fail(ExitPoolMode, "source pool %s is read-only", from)
	}
	if dst, err = t.poolState(to); err != nil {
		return nil, nil, err
	}
	switch {
	case dst.failed:
		return nil, nil, fail(ExitPoolMode, "target pool %s has failed", to)
	case dst.needsCheck:
		return nil, nil, fail(ExitPoolMode, "target pool %s needs_check: run thin_check on its metadata first", to)
	case dst.readOnly:
		return nil, nil, fail(ExitPoolMode, "target pool %s is read-only", to)
	}
	return src, dst, nil
}

// poolDump is thin_dump -m of a pool, under a metadata snapshot taken and
// released by send's metadata().
func (t *tool) poolDump(pool string) (*Dump, error) {
	p, err := t.pool(pool)
	if err != nil {
		return nil, err
	}
	meta, err := t.devPath(p.metaDev)
	if err != nil {
		return nil, err
	}
	d, _, err := t.metadata(pool, meta, 0, -1, 0)
	return d, err
}

// familyNeed is the number of target blocks (of granule bytes) a chain of
// ids needs at most, from the source's mappings: the first thin's mapped
// granules, then for each next one the granules thin_delta says changed
// where it maps anything. All-zero granules will need none.
func (t *tool) familyNeed(pool string, ids []uint64, sectors []uint64, block, granule uint64) (need, mapped uint64, err error) {
	p, err := t.pool(pool)
	if err != nil {
		return 0, 0, err
	}
	meta, err := t.devPath(p.metaDev)
	if err != nil {
		return 0, 0, err
	}
	for k, id := range ids {
		base := int64(-1)
		if k > 0 {
			base = int64(ids[k-1])
		}
		d, delta, err := t.metadata(pool, meta, id, base, 0)
		if err != nil {
			return 0, 0, err
		}
		dev := d.Devs[id]
		if dev == nil {
			return 0, 0, fail(ExitError, "pool %s: no thin device %d", pool, id)
		}
		limit := (sectors[k]*512 + granule - 1) / granule
		m := granuleSet{}
		m.addBlockRuns(dev.Mapped, block, granule, limit)
		for _, r := range dev.Mapped {
			mapped += r.Length
		}
		if delta == nil {
			need += uint64(len(m))
			continue
		}
		c := granuleSet{}
		for _, tag := range []string{"different", "left_only", "right_only"} {
			c.addBlockRuns(delta.Ranges[tag], block, granule, limit)
		}
		for g := range c {
			if m[g] {
				need++
			}
		}
	}
	return need, mapped, nil
}

// spool is where a stream goes between send and recv.
type spool struct {
	name string
	buf  bytes.Buffer
}

func (s *spool) send(o *SendOpts) {
	if s.name != "" {
		o.Out = s.name
		return
	}
	s.buf.Reset()
	o.W = &s.buf
}

func (s *spool) recv(o *RecvOpts) {
	if s.name != "" {
		o.In = s.name
		return
	}
	o.R = bytes.NewReader(s.buf.Bytes())
}

// transfer sends thin id (incremental from base, -1: full) of o.From and
// receives it as toID (a snapshot of toBase) of o.To.
func (t *tool) transfer(o *MigrateOpts, sp *spool, id uint64, base int64, sectors, baseSectors uint64,
	toID uint64, toBase int64, granule uint64, skipSame bool) (*SendStats, *RecvStats, error) {
	so := &SendOpts{Pool: o.From, ID: id, Base: base, Sectors: sectors, BaseSector: baseSectors, Codec: o.Codec,
		Manifests: o.Manifests, Granule: granule, SkipSame: skipSame}
	sp.send(so)
	sst, err := t.Send(so)
	if err != nil {
		return nil, nil, err
	}
	ro := &RecvOpts{Pool: o.To, ID: toID, Base: toBase, Verify: "root", Manifests: o.Manifests}
	sp.recv(ro)
	rst, err := t.Recv(ro)
	if err != nil {
		return nil, nil, err
	}
	return sst, rst, nil
}

// geometry is the block sizes of both pools and the stream's granule (the
// target's block size).
func (t *tool) geometry(from, to string) (block, granule uint64, err error) {
	sp, err := t.pool(from)
	if err != nil {
		return 0, 0, err
	}
	tp, err := t.pool(to)
	if err != nil {
		return 0, 0, err
	}
	return sp.blockSize * 512, tp.blockSize * 512, nil
}

// Migrate moves a family of thins (an origin and its snapshots, oldest
// first) to another pool: a full stream of the first, then incrementals
// received as create_snap children, so that sharing is kept.
func (t *tool) Migrate(o *MigrateOpts) error {
	if o.Live != "" {
		return t.migrateLive(o)
	}
	w := t.sys.Stdout()
	_, dst, err := t.checkPools(o.From, o.To)
	if err != nil {
		return err
	}
	block, granule, err := t.geometry(o.From, o.To)
	if err != nil {
		return err
	}
	td, err := t.poolDump(o.To)
	if err != nil {
		return err
	}
	for _, id := range o.ToIDs {
		if td.Devs[id] != nil {
			return fail(ExitBusy, "thin device %d exists on the target pool %s", id, o.To)
		}
	}
	need, mapped, err := t.familyNeed(o.From, o.IDs, o.Sectors, block, granule)
	if err != nil {
		return err
	}
	if free := dst.totalData - dst.usedData; need > free {
		return fail(ExitTooSmall, "target pool %s is too small: the family has %d block mappings of %d sectors, needing up to %d blocks of %d sectors; %d are free",
			o.To, mapped, block/512, need, granule/512, free)
	}
	sp := &spool{name: o.Spool}
	var done []uint64
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			t.cleanup("message", o.To, "0", fmt.Sprintf("delete %d", done[i]))
		}
	}
	for k, id := range o.IDs {
		base, toBase, baseSectors := int64(-1), int64(-1), uint64(0)
		kind := "full"
		if k > 0 {
			base, toBase, baseSectors = int64(o.IDs[k-1]), int64(o.ToIDs[k-1]), o.Sectors[k-1]
			kind = fmt.Sprintf("incremental from %d", o.IDs[k-1])
		}
		sst, rst, err := t.transfer(o, sp, id, base, o.Sectors[k], baseSectors, o.ToIDs[k], toBase, granule, granule < block)
		if err != nil {
			undo()
			return err
		}
		done = append(done, o.ToIDs[k])
		fmt.Fprintf(w, "thinsync: migrated thin %d (%s) to %s thin %d: %d bytes of data, %d zero; wrote %d, discarded %d; root %s verified\n",
			id, kind, o.To, o.ToIDs[k], sst.End.DataBytes, sst.End.ZeroBytes, rst.Written, rst.Discarded, Hex(rst.Root)[:16])
	}
	after, err := t.poolState(o.To)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "thinsync: migrated %d thins from %s (%d-sector blocks, %d block mappings) to %s (%d-sector blocks): %d new data blocks\n",
		len(o.IDs), o.From, block/512, mapped, o.To, granule/512, after.usedData-dst.usedData)
	return nil
}

// sectorsOf returns the sizes for ids: one for all, or one per id.
func sectorsOf(sizes []uint64, n int) ([]uint64, error) {
	switch len(sizes) {
	case n:
		return sizes, nil
	case 1:
		out := make([]uint64, n)
		for i := range out {
			out[i] = sizes[0]
		}
		return out, nil
	}
	return nil, fail(ExitUsage, "migrate: give one --size, or one per thin")
}

// poolIDs parses POOL:ID[,ID...].
func poolIDs(s string) (string, []uint64, error) {
	pool, list, ok := strings.Cut(s, ":")
	if !ok || pool == "" || list == "" {
		return "", nil, fail(ExitUsage, "migrate: %q is not POOL:ID[,ID...]", s)
	}
	ids, err := uintList(list)
	if err != nil {
		return "", nil, err
	}
	return pool, ids, nil
}

func uintList(s string) ([]uint64, error) {
	var ids []uint64
	seen := map[uint64]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || n >= 1<<24 || seen[n] {
			return nil, fail(ExitUsage, "migrate: bad thin id %q", f)
		}
		seen[n] = true
		ids = append(ids, n)
	}
	return ids, nil
}

const migrateUsage = `  migrate --from POOL:ID[,ID...] --to POOL:ID[,ID...] (--size SIZE[,SIZE...] | --live DEV [--rounds N]
          [--final-below SIZE] [--snap-ids A,B] [--state FILE|DEV [--resume]]) [--compress C]
          [--manifests DIR] [--spool FILE|DEV]
`

func (t *tool) cmdMigrate(args []string) error {
	fs := t.flags("migrate")
	var from, to, size, snaps, codec, finalBelow string
	o := &MigrateOpts{}
	fs.StringVar(&from, "from", "", "")
	fs.StringVar(&to, "to", "", "")
	fs.StringVar(&size, "size", "", "")
	fs.StringVar(&codec, "compress", "zstd:fastest", "")
	fs.StringVar(&o.Manifests, "manifests", "", "")
	fs.StringVar(&o.Spool, "spool", "", "")
	fs.StringVar(&o.Live, "live", "", "")
	fs.IntVar(&o.Rounds, "rounds", 5, "")
	fs.StringVar(&finalBelow, "final-below", "16M", "")
	fs.StringVar(&snaps, "snap-ids", "", "")
	fs.StringVar(&o.State, "state", "", "")
	fs.BoolVar(&o.Resume, "resume", false, "")
	fs.StringVar(&o.Between, "between-rounds", "", "")      // test hook
	fs.IntVar(&o.StopAfterRound, "stop-after-round", 0, "") // test hook
	if err := parse(fs, args); err != nil {
		return err
	}
	if from == "" || to == "" || fs.NArg() != 0 {
		return fail(ExitUsage, "migrate: --from POOL:ID[,ID...] and --to POOL:ID[,ID...] are required (thinsync help)")
	}
	var err error
	if o.From, o.IDs, err = poolIDs(from); err != nil {
		return err
	}
	if o.To, o.ToIDs, err = poolIDs(to); err != nil {
		return err
	}
	if o.From == o.To || len(o.IDs) != len(o.ToIDs) {
		return fail(ExitUsage, "migrate: --to names another pool and as many ids as --from")
	}
	if o.Codec, err = ParseCodec(codec); err != nil {
		return fail(ExitUsage, "migrate: %v", err)
	}
	fb, err := sectorsFlag(finalBelow)
	if err != nil {
		return err
	}
	o.FinalBelow = fb * 512
	if snaps != "" {
		if o.Snaps, err = uintList(snaps); err != nil || len(o.Snaps) != 2 {
			return fail(ExitUsage, "migrate: --snap-ids A,B (two ids)")
		}
	}
	if size != "" {
		for _, s := range strings.Split(size, ",") {
			n, err := sectorsFlag(s)
			if err != nil {
				return err
			}
			o.Sectors = append(o.Sectors, n)
		}
	}
	if o.Live != "" {
		if len(o.IDs) != 1 || size != "" || o.Rounds < 1 {
			return fail(ExitUsage, "migrate --live: one thin, its size from the device, --rounds at least 1")
		}
		if o.Resume && o.State == "" {
			return fail(ExitUsage, "migrate: --resume needs --state")
		}
	} else {
		if snaps != "" || o.State != "" || o.Resume || o.Between != "" || o.StopAfterRound != 0 {
			return fail(ExitUsage, "migrate: --snap-ids, --state, --resume and the round options go with --live")
		}
		if o.Sectors, err = sectorsOf(o.Sectors, len(o.IDs)); err != nil {
			return err
		}
	}
	return t.Migrate(o)
}
