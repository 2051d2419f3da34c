package thinsync

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// usage is printed by `thinsync` without arguments, by `thinsync help` and
// after an unknown command. Goldens show at most its first line (it grows
// as commands are added); docs/thinsync.md has the same synopsis.
const usage = `usage: thinsync COMMAND [OPTIONS]
  send    --pool POOL --id ID [--base ID] (--size SIZE | --dev NAME) [--base-size SIZE]
          [--meta DEV] [--compress none|zstd[:fastest|default|better]] [--checkpoint BYTES]
          [--manifests DIR] [--origin DEV] [-o FILE|DEV|-] [--progress]
  send    --pool POOL --id SNAP --track STATE --manifests DIR [--size SIZE] [--compress C] [-o ...]
  recv    --pool POOL --id NEWID [--base ID] [-i FILE|DEV|-] [--state FILE|DEV]
          [--manifests DIR] [--resume | --abort] [--verify root|none]
  recv    --to FILE|DEV --undo FILE|DEV [-i FILE|DEV|-] [--resume | --abort] [--verify root|none]
  track   --pool POOL --id ID --dev NAME --snap-id NEWSNAP --state FILE|DEV [--reset]
  backup  --pool POOL --id ID --dev NAME --snap-id NEWSNAP --archive DIR --volume NAME [--compress C]
  restore --archive DIR --volume NAME [--seq N] --pool POOL --id NEWID
  consolidate --archive DIR --volume NAME [--seq N] [-o FILE|DEV|-]
  prune   --archive DIR --volume NAME --keep K
  replicate --pool POOL --id ID --dev NAME --snap-ids FIRST --state FILE|DEV
          (--to-pool POOL --to-ids FIRST [--keep K] | -o FILE|DEV) [--xfer FILE|DEV]
          [--every SECONDS] [--count N] [--compress C] [--checkpoint BYTES] [--manifests DIR] [--reset]
` + mergeOriginUsage + migrateUsage + `  inspect [-v] FILE|DEV|-
  verify  (--dev DEV --size SIZE --granule BYTES [--root HEX] | --stream FILE|DEV|-
          | --archive DIR --volume NAME [--seq N])
`

// Main runs thinsync with args (without the program name) and returns its
// exit status (ExitKilled when a termination signal ended it).
func Main(sys Sys, args []string) int {
	t := &tool{sys: sys}
	if len(args) == 0 {
		io.WriteString(sys.Stderr(), usage)
		return ExitUsage
	}
	var err error
	switch args[0] {
	case "send":
		err = t.cmdSend(args[1:])
	case "recv":
		err = t.cmdRecv(args[1:])
	case "inspect":
		err = t.cmdInspect(args[1:])
	case "backup", "restore", "consolidate", "prune":
		err = t.cmdArchive(args[0], args[1:])
	case "verify":
		err = t.cmdVerify(args[1:])
	case "track":
		err = t.cmdTrack(args[1:])
	case "migrate":
		err = t.cmdMigrate(args[1:])
	case "merge-origin":
		err = t.cmdMergeOrigin(args[1:])
	case "replicate":
		err = t.cmdReplicate(args[1:])
	case "help", "--help", "-h":
		io.WriteString(sys.Stdout(), usage)
		return ExitOK
	default:
		fmt.Fprintf(sys.Stderr(), "thinsync: unknown command %q\n%s", args[0], usage)
		return ExitUsage
	}
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errKilled) || sys.Killed():
		return ExitKilled // whatever failed, the signal is why
	case errors.Is(err, errStopped):
		fmt.Fprintf(sys.Stderr(), "thinsync: stopped (test hook), no cleanup\n")
		return 137
	case errors.As(err, &ee):
		fmt.Fprintf(sys.Stderr(), "thinsync: %s\n", ee.msg)
		return ee.code
	}
	fmt.Fprintf(sys.Stderr(), "thinsync: %s\n", errText(err))
	return ExitError
}

// flags is a flag set that reports errors as exitErrors.
func (t *tool) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fail(ExitUsage, "%s: %v (thinsync help)", fs.Name(), err)
	}
	return nil
}

func sectorsFlag(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := parseSectors(s)
	if err != nil {
		return 0, fail(ExitUsage, "%v", err)
	}
	return n, nil
}

func (t *tool) cmdSend(args []string) error {
	fs := t.flags("send")
	o := &SendOpts{}
	var id, base int64
	var size, baseSize, codec string
	var pause float64
	fs.StringVar(&o.Pool, "pool", "", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.Int64Var(&base, "base", -1, "")
	fs.StringVar(&size, "size", "", "")
	fs.StringVar(&o.Dev, "dev", "", "")
	fs.StringVar(&baseSize, "base-size", "", "")
	fs.StringVar(&o.Meta, "meta", "", "")
	fs.StringVar(&codec, "compress", "zstd:fastest", "")
	fs.Uint64Var(&o.Checkpoint, "checkpoint", 0, "")
	fs.StringVar(&o.Out, "o", "-", "")
	fs.BoolVar(&o.Progress, "progress", false, "")
	fs.StringVar(&o.Manifests, "manifests", "", "")
	fs.StringVar(&o.Origin, "origin", "", "")
	fs.StringVar(&o.Track, "track", "", "")
	fs.Float64Var(&pause, "pause-held", 0, "") // test hook: hold the snapshot this long
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Pool == "" || id < 0 || fs.NArg() != 0 {
		return fail(ExitUsage, "send: --pool and --id are required (thinsync help)")
	}
	var err error
	if o.Codec, err = ParseCodec(codec); err != nil {
		return fail(ExitUsage, "send: %v", err)
	}
	if o.Sectors, err = sectorsFlag(size); err != nil {
		return err
	}
	if o.BaseSector, err = sectorsFlag(baseSize); err != nil {
		return err
	}
	o.ID, o.Base, o.PauseHeld = uint64(id), base, time.Duration(pause*float64(time.Second))
	st, err := t.Send(o)
	if err != nil {
		return err
	}
	e := st.End
	kind := "full"
	if o.Base >= 0 {
		kind = fmt.Sprintf("incremental from %d", o.Base)
	}
	if st.Tracked {
		kind += ", by the changed-block map"
	}
	fmt.Fprintf(t.sys.Stderr(), "thinsync: sent thin %d (%s): %d bytes; %d DATA records (%d bytes, %d stored), %d ZERO (%d bytes); read %d changed bytes + %d for roots; root %s\n",
		o.ID, kind, st.Size, e.DataRecords, e.DataBytes, e.StoredBytes, e.ZeroRecords, e.ZeroBytes, st.ReadBytes, st.RootBytes, Hex(st.Root)[:16])
	return nil
}

func (t *tool) cmdRecv(args []string) error {
	fs := t.flags("recv")
	o := &RecvOpts{}
	var id int64
	fs.StringVar(&o.Pool, "pool", "", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.Int64Var(&o.Base, "base", -1, "")
	fs.StringVar(&o.In, "i", "-", "")
	fs.StringVar(&o.State, "state", "", "")
	fs.BoolVar(&o.Resume, "resume", false, "")
	fs.BoolVar(&o.Abort, "abort", false, "")
	fs.StringVar(&o.Verify, "verify", "root", "")
	fs.StringVar(&o.Manifests, "manifests", "", "")
	fs.StringVar(&o.To, "to", "", "")
	fs.StringVar(&o.Undo, "undo", "", "")
	fs.Uint64Var(&o.StopAfter, "stop-after-records", 0, "") // test hook
	fs.BoolVar(&o.NoFlush, "no-flush", false, "")           // test hook
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Verify != "root" && o.Verify != "none" {
		return fail(ExitUsage, "recv: --verify root|none")
	}
	if o.To != "" {
		if o.Undo == "" || o.Pool != "" || id >= 0 || o.State != "" || fs.NArg() != 0 {
			return fail(ExitUsage, "recv: --to takes --undo, and no --pool, --id or --state (thinsync help)")
		}
		st, err := t.RecvInPlace(o)
		if err != nil {
			return err
		}
		if o.Abort {
			fmt.Fprintf(t.sys.Stdout(), "thinsync: rolled back the receive into %s\n", o.To)
			return nil
		}
		fmt.Fprintf(t.sys.Stdout(), "thinsync: received into %s: %d records (%d skipped on resume); wrote %d bytes, zeroed %d; root %s verified\n",
			o.To, st.Records, st.Skipped, st.Written, st.Zeroed, Hex(st.Root)[:16])
		return nil
	}
	if o.Pool == "" || id < 0 || fs.NArg() != 0 {
		return fail(ExitUsage, "recv: --pool and --id are required (thinsync help)")
	}
	if (o.Resume || o.Abort) && o.State == "" {
		return fail(ExitUsage, "recv: --resume and --abort need --state")
	}
	if o.Verify != "root" && o.Verify != "none" {
		return fail(ExitUsage, "recv: --verify root|none")
	}
	o.ID = uint64(id)
	st, err := t.Recv(o)
	if err != nil {
		return err
	}
	if o.Abort {
		fmt.Fprintf(t.sys.Stdout(), "thinsync: aborted the receive of thin %d\n", o.ID)
		return nil
	}
	fmt.Fprintf(t.sys.Stdout(), "thinsync: received thin %d: %d records (%d skipped on resume); wrote %d bytes, discarded %d, zeroed %d; root %s verified\n",
		o.ID, st.Records, st.Skipped, st.Written, st.Discarded, st.Zeroed, Hex(st.Root)[:16])
	return nil
}

func (t *tool) cmdInspect(args []string) error {
	fs := t.flags("inspect")
	verbose := fs.Bool("v", false, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fail(ExitUsage, "inspect: one stream (thinsync help)")
	}
	r, closeIn, err := t.openIn(fs.Arg(0))
	if err != nil {
		return err
	}
	defer closeIn()
	w := t.sys.Stdout()
	dec, err := NewDecoder(r)
	if err != nil {
		return streamFail(err)
	}
	fmt.Fprintf(w, "stream %s\n", Hex(dec.ID))
	for _, line := range strings.Split(strings.TrimSpace(string(dec.Begin.Marshal())), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return streamFail(err)
		}
		switch rec.Type {
		case RecData:
			if *verbose {
				z := ""
				if rec.Flags&FlagZstd != 0 {
					z = " zstd"
				}
				fmt.Fprintf(w, "%10d DATA %d+%d stored %d%s\n", rec.Pos, rec.Offset, rec.Length, len(rec.Payload), z)
			}
		case RecZero:
			if *verbose {
				fmt.Fprintf(w, "%10d ZERO %d+%d\n", rec.Pos, rec.Offset, rec.Length)
			}
		case RecCheckpoint:
			if *verbose {
				fmt.Fprintf(w, "%10d CHECKPOINT next %d\n", rec.Pos, rec.Offset)
			}
		case RecEnd:
			e := dec.End
			fmt.Fprintf(w, "END records %d data %d (%d bytes, %d stored) zero %d (%d bytes)\n", e.Records, e.DataRecords, e.DataBytes, e.StoredBytes, e.ZeroRecords, e.ZeroBytes)
			fmt.Fprintf(w, "  sha256 %s\n  root %s\n", Hex(e.StreamSum), Hex(e.Root))
		}
	}
	if dec.Skipped > 0 {
		fmt.Fprintf(w, "skipped %d unknown optional records\n", dec.Skipped)
	}
	return nil
}

func (t *tool) cmdVerify(args []string) error {
	fs := t.flags("verify")
	dev := fs.String("dev", "", "")
	size := fs.String("size", "", "")
	granule := fs.Uint64("granule", 65536, "")
	root := fs.String("root", "", "")
	stream := fs.String("stream", "", "")
	archive := fs.String("archive", "", "")
	volume := fs.String("volume", "", "")
	seq := fs.Int("seq", 0, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *archive != "" && *volume != "":
		// Consolidate checks every stream of the chain against its chain
		// line and the composed image against the recorded root.
		e, err := t.Consolidate(*archive, *volume, *seq, io.Discard, "none")
		if err != nil {
			return err
		}
		fmt.Fprintf(t.sys.Stdout(), "thinsync: archive %s of %s is whole; root %s\n", *volume, *archive, Hex(e.Root)[:16])
		return nil
	case *stream != "":
		r, closeIn, err := t.openIn(*stream)
		if err != nil {
			return err
		}
		defer closeIn()
		dec, err := NewDecoder(r)
		if err != nil {
			return streamFail(err)
		}
		for {
			if _, err := dec.Next(); err == io.EOF {
				break
			} else if err != nil {
				return streamFail(err)
			}
		}
		fmt.Fprintf(t.sys.Stdout(), "thinsync: stream %s is whole; root %s\n", Hex(dec.ID)[:16], Hex(dec.End.Root)[:16])
		return nil
	case *dev != "" && *size != "":
		n, err := sectorsFlag(*size)
		if err != nil {
			return err
		}
		if *granule == 0 || *granule%512 != 0 {
			return fail(ExitUsage, "verify: bad granule")
		}
		m, err := t.imageRoot(*dev, n*512, *granule)
		if err != nil {
			return err
		}
		got := Hex(m.Root())
		if *root != "" && !strings.HasPrefix(got, *root) {
			return fail(ExitVerify, "%s: root %s, expected %s", *dev, got[:16], *root)
		}
		fmt.Fprintf(t.sys.Stdout(), "thinsync: %s root %s\n", *dev, got)
		return nil
	}
	return fail(ExitUsage, "verify: --stream, --archive with --volume, or --dev with --size (thinsync help)")
}

func (t *tool) cmdArchive(cmd string, args []string) error {
	fs := t.flags(cmd)
	var pool, dev, archive, volume, codec, out string
	var id, snap int64
	var seq, keep int
	fs.StringVar(&pool, "pool", "", "")
	fs.StringVar(&dev, "dev", "", "")
	fs.StringVar(&archive, "archive", "", "")
	fs.StringVar(&volume, "volume", "", "")
	fs.StringVar(&codec, "compress", "zstd:fastest", "")
	fs.StringVar(&out, "o", "-", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.Int64Var(&snap, "snap-id", -1, "")
	fs.IntVar(&seq, "seq", 0, "")
	fs.IntVar(&keep, "keep", 0, "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if archive == "" || volume == "" || strings.ContainsAny(volume, "/ ") || fs.NArg() != 0 {
		return fail(ExitUsage, "%s: --archive and --volume are required (thinsync help)", cmd)
	}
	c, err := ParseCodec(codec)
	if err != nil {
		return fail(ExitUsage, "%s: %v", cmd, err)
	}
	w := t.sys.Stdout()
	switch cmd {
	case "backup":
		if pool == "" || dev == "" || id < 0 || snap < 0 {
			return fail(ExitUsage, "backup: --pool, --id, --dev and --snap-id are required")
		}
		e, st, err := t.Backup(&BackupOpts{Pool: pool, Dev: dev, Archive: archive, Volume: volume, Codec: c, ID: uint64(id), Snap: uint64(snap)})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "thinsync: backup %s %d (%s, snapshot %d): %d bytes; %d stored in %d DATA records; read %d changed bytes + %d for roots; root %s\n",
			volume, e.Seq, e.Kind, e.Snap, e.Size, st.End.StoredBytes, st.End.DataRecords, st.ReadBytes, st.RootBytes, e.Root[:16])
	case "consolidate":
		ow, closeOut, err := t.openOut(out)
		if err != nil {
			return err
		}
		e, err := t.Consolidate(archive, volume, seq, ow, c)
		if err != nil {
			closeOut()
			if out != "-" && !t.sys.IsDevice(out) {
				t.sys.Remove(out) // no partial stream is left behind
			}
			return err
		}
		if err := closeOut(); err != nil {
			return err
		}
		fmt.Fprintf(t.sys.Stderr(), "thinsync: consolidated %s: %d DATA records (%d bytes, %d stored), %d ZERO (%d bytes); root %s\n",
			volume, e.DataRecords, e.DataBytes, e.StoredBytes, e.ZeroRecords, e.ZeroBytes, Hex(e.Root)[:16])
	case "restore":
		if pool == "" || id < 0 {
			return fail(ExitUsage, "restore: --pool and --id are required")
		}
		tmp := path.Join(archive, volume+".restore")
		ow, closeOut, err := t.openOut(tmp)
		if err != nil {
			return err
		}
		_, err = t.Consolidate(archive, volume, seq, ow, "none")
		if cerr := closeOut(); err == nil {
			err = cerr
		}
		if err == nil {
			var st *RecvStats
			if st, err = t.Recv(&RecvOpts{Pool: pool, ID: uint64(id), Base: -1, In: tmp, Verify: "root"}); err == nil {
				fmt.Fprintf(w, "thinsync: restored %s into thin %d: wrote %d bytes; root %s verified\n", volume, id, st.Written, Hex(st.Root)[:16])
			}
		}
		t.sys.Remove(tmp)
		return err
	case "prune":
		n, err := t.Prune(archive, volume, keep)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "thinsync: pruned %d backups of %s into a full one\n", n, volume)
	}
	return nil
}

func (t *tool) cmdTrack(args []string) error {
	fs := t.flags("track")
	o := &TrackOpts{}
	var id, snap int64
	fs.StringVar(&o.Pool, "pool", "", "")
	fs.StringVar(&o.Dev, "dev", "", "")
	fs.StringVar(&o.State, "state", "", "")
	fs.Int64Var(&id, "id", -1, "")
	fs.Int64Var(&snap, "snap-id", -1, "")
	fs.BoolVar(&o.Reset, "reset", false, "")
	fs.StringVar(&o.Stop, "stop-after", "", "") // test hook: intent, snap, map, state, delete
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Pool == "" || o.Dev == "" || o.State == "" || id < 0 || snap < 0 || fs.NArg() != 0 {
		return fail(ExitUsage, "track: --pool, --id, --dev, --snap-id and --state are required (thinsync help)")
	}
	o.ID, o.Snap = uint64(id), uint64(snap)
	st, err := t.Track(o)
	if err != nil {
		return err
	}
	w := t.sys.Stdout()
	again := ""
	if st.Retaken {
		again = " (taken again: a crashed run's)"
	}
	switch {
	case st.First:
		fmt.Fprintf(w, "thinsync: tracking thin %d from snapshot %d%s (%d-byte granules)\n", o.ID, st.Base, again, st.Granule)
	case st.Finished:
		fmt.Fprintf(w, "thinsync: tracking thin %d: snapshot %d is already the base; changed in %d runs: %d granules (%d bytes): %s\n",
			o.ID, st.Base, st.RunsSinceStart, st.Changed, st.Changed*st.Granule, formatRuns(st.ChangedRanges))
	default:
		fmt.Fprintf(w, "thinsync: tracking thin %d: base snapshot %d%s (deleted %d); delta %d granules, %d new; changed in %d runs: %d granules (%d bytes): %s\n",
			o.ID, st.Base, again, st.Old, st.DeltaGranules, st.New, st.RunsSinceStart, st.Changed, st.Changed*st.Granule, formatRuns(st.ChangedRanges))
	}
	return nil
}
