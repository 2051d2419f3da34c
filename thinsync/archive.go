package thinsync

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strconv"
	"strings"
)

// The archive: a directory holding, per volume NAME, the streams
// NAME.SEQ.stream (SEQ from 1, four digits), NAME.chain (one line per
// stream: seq, kind, source snapshot id, size, root, stream SHA-256) and
// the sender's manifests (POOL-ID.manifest).

// chainEntry is one line of a chain file.
type chainEntry struct {
	Seq       int
	Kind      string
	Snap      uint64
	Size      uint64
	Root, Sum string
}

func (e chainEntry) String() string {
	return fmt.Sprintf("%d %s %d %d %s %s", e.Seq, e.Kind, e.Snap, e.Size, e.Root, e.Sum)
}

func streamName(dir, vol string, e chainEntry) string {
	return path.Join(dir, fmt.Sprintf("%s.%04d.%s", vol, e.Seq, e.Kind))
}

func (t *tool) readChain(dir, vol string) ([]chainEntry, error) {
	f, err := t.sys.Open(path.Join(dir, vol+".chain"), ORead)
	if err != nil {
		return nil, nil // no chain yet
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fail(ExitError, "chain: %s", errText(err))
	}
	out, err := parseChain(b)
	if err != nil {
		return nil, fail(ExitError, "chain %s: %v", vol, err)
	}
	return out, nil
}

// parseChain parses a chain file: consecutive seqs, a full stream first
// and only first.
func parseChain(b []byte) ([]chainEntry, error) {
	var out []chainEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		var e chainEntry
		var err1, err2, err3 error
		if len(f) == 6 {
			e.Seq, err1 = strconv.Atoi(f[0])
			e.Snap, err2 = strconv.ParseUint(f[2], 10, 64)
			e.Size, err3 = strconv.ParseUint(f[3], 10, 64)
			e.Kind, e.Root, e.Sum = f[1], f[4], f[5]
		}
		if len(f) != 6 || err1 != nil || err2 != nil || err3 != nil || len(out) > 0 && e.Seq != out[len(out)-1].Seq+1 ||
			(len(out) == 0) != (e.Kind == "full") || e.Kind != "full" && e.Kind != "incremental" {
			return nil, fmt.Errorf("bad line %q", line)
		}
		out = append(out, e)
	}
	return out, nil
}

func (t *tool) writeChain(dir, vol string, chain []chainEntry) error {
	var b bytes.Buffer
	for _, e := range chain {
		fmt.Fprintln(&b, e)
	}
	f, err := t.sys.Open(path.Join(dir, vol+".chain"), OWrite|OCreate|OTrunc)
	if err != nil {
		return fail(ExitError, "chain: %s", errText(err))
	}
	defer f.Close()
	if _, err := f.Write(b.Bytes()); err != nil {
		return fail(ExitError, "chain: %s", errText(err))
	}
	if err := f.Sync(); err != nil {
		return fail(ExitError, "chain: %s", errText(err))
	}
	return nil
}

// BackupOpts are backup's options.
type BackupOpts struct {
	Pool, Dev, Archive, Volume, Codec string
	ID, Snap                          uint64
}

// snapshotLive takes create_snap SNAP ID while DEV, the active thin ID,
// is suspended (its in-flight writes reach the snapshot).
func (t *tool) snapshotLive(pool, dev string, id, snap uint64) error {
	if _, err := t.dmsetup("suspend", dev); err != nil {
		return err
	}
	err := t.poolMessage(pool, fmt.Sprintf("create_snap %d %d", snap, id))
	if _, rerr := t.dmsetup("resume", dev); err == nil {
		err = rerr
	}
	return err
}

// Backup snapshots ID (suspending DEV, the active thin), sends the new
// snapshot into the archive (full the first time, else incremental from
// the previous snapshot, which is then deleted: the new one is the next
// base), and appends it to the chain.
func (t *tool) Backup(o *BackupOpts) (*chainEntry, *SendStats, error) {
	chain, err := t.readChain(o.Archive, o.Volume)
	if err != nil {
		return nil, nil, err
	}
	sectors, err := t.tableSectors(o.Dev)
	if err != nil {
		return nil, nil, err
	}
	if err := t.snapshotLive(o.Pool, o.Dev, o.ID, o.Snap); err != nil {
		return nil, nil, err
	}
	so := &SendOpts{Pool: o.Pool, ID: o.Snap, Base: -1, Sectors: sectors, Codec: o.Codec, Manifests: o.Archive}
	e := chainEntry{Seq: 1, Kind: "full", Snap: o.Snap, Size: sectors * 512}
	if n := len(chain); n > 0 {
		prev := chain[n-1]
		so.Base, so.BaseSector, e.Kind, e.Seq = int64(prev.Snap), prev.Size/512, "incremental", prev.Seq+1
	}
	so.Out = streamName(o.Archive, o.Volume, e)
	st, err := t.Send(so)
	if err != nil {
		t.cleanup("message", o.Pool, "0", fmt.Sprintf("delete %d", o.Snap))
		return nil, nil, err
	}
	sum, err := t.streamSum(so.Out)
	if err != nil {
		return nil, nil, err
	}
	e.Root, e.Sum = Hex(st.Root), sum
	if err := t.writeChain(o.Archive, o.Volume, append(chain, e)); err != nil {
		return nil, nil, err
	}
	if so.Base >= 0 {
		if err := t.poolMessage(o.Pool, fmt.Sprintf("delete %d", so.Base)); err != nil {
			return nil, nil, err
		}
	}
	return &e, st, nil
}

// streamSum checks a whole stream and returns its END SHA-256 in hex.
func (t *tool) streamSum(name string) (string, error) {
	dec, closeIn, err := t.openStream(name)
	if err != nil {
		return "", err
	}
	defer closeIn()
	for {
		if _, err := dec.Next(); err == io.EOF {
			break
		} else if err != nil {
			return "", streamFail(err)
		}
	}
	return Hex(dec.End.StreamSum), nil
}

// granuleSource is where a consolidated granule's data is: a DATA record
// of one of the chain's streams (file, position), or zeros (file "").
type granuleSource struct {
	file string
	pos  int64
}

// Consolidate composes the chain's streams 1..seq into one full stream
// written to w, from the archive alone, and checks that its root is the
// root stream seq recorded.
func (t *tool) Consolidate(archive, vol string, seq int, w io.Writer, codec string) (*End, error) {
	chain, err := t.readChain(archive, vol)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, fail(ExitUsage, "no backups of volume %s", vol)
	}
	first, last := chain[0].Seq, chain[len(chain)-1].Seq
	if seq <= 0 {
		seq = last
	}
	if seq < first || seq > last {
		return nil, fail(ExitUsage, "volume %s has backups %d to %d, not %d", vol, first, last, seq)
	}
	chain = chain[:seq-first+1]
	var granule uint64
	src := map[uint64]granuleSource{}
	var size uint64
	for _, e := range chain {
		name := streamName(archive, vol, e)
		r, closeIn, err := t.openIn(name)
		if err != nil {
			return nil, err
		}
		dec, err := NewDecoder(r)
		if err != nil {
			closeIn()
			return nil, streamFail(fmt.Errorf("%s: %w", name, err))
		}
		b := dec.Begin
		if granule == 0 {
			granule = b.Granule
		}
		if b.Granule != granule || e.Kind != b.Kind || b.Size != e.Size {
			closeIn()
			return nil, fail(ExitStream, "%s does not fit its chain", name)
		}
		for {
			rec, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				closeIn()
				return nil, streamFail(err)
			}
			for g := rec.Offset / granule; g*granule < rec.Offset+rec.Length; g++ {
				switch rec.Type {
				case RecData:
					src[g] = granuleSource{name, rec.Pos}
				case RecZero:
					delete(src, g)
				}
			}
		}
		closeIn()
		if Hex(dec.End.StreamSum) != e.Sum || Hex(dec.End.Root) != e.Root {
			return nil, fail(ExitStream, "%s is not the stream its chain recorded", name)
		}
		size = b.Size
		gs := (size + granule - 1) / granule
		for g := range src {
			if g >= gs {
				delete(src, g)
			}
		}
	}
	top := chain[len(chain)-1]
	enc, err := NewEncoder(w, &Begin{Version: 1, Kind: "full", Size: size, Granule: granule, Codec: codec, BaseID: -1,
		DevID: top.Snap})
	if err != nil {
		return nil, fail(ExitError, "write stream: %s", errText(err))
	}
	m := NewManifest(size, granule)
	files := map[string]File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var zeroOff, zeroLen uint64
	for g := uint64(0); g < m.Granules(); g++ {
		off, n := m.Span(g)
		s, ok := src[g]
		if !ok {
			if zeroLen > 0 && zeroOff+zeroLen == off {
				zeroLen += n
			} else {
				if zeroLen > 0 {
					enc.Zero(zeroOff, zeroLen)
				}
				zeroOff, zeroLen = off, n
			}
			continue
		}
		if zeroLen > 0 {
			enc.Zero(zeroOff, zeroLen)
			zeroLen = 0
		}
		f := files[s.file]
		if f == nil {
			if f, err = t.sys.Open(s.file, ORead); err != nil {
				return nil, fail(ExitError, "%s", errText(err))
			}
			files[s.file] = f
		}
		data, err := readDataAt(f, s.pos)
		if err != nil || uint64(len(data)) != n {
			return nil, fail(ExitStream, "%s: record at %d: cannot be read again", s.file, s.pos)
		}
		m.Set(g, data)
		enc.Data(off, data)
	}
	if zeroLen > 0 {
		enc.Zero(zeroOff, zeroLen)
	}
	if Hex(m.Root()) != top.Root {
		return nil, fail(ExitVerify, "the consolidated image's root is not backup %d's", seq)
	}
	if err := enc.Close(m.Root()); err != nil {
		return nil, fail(ExitError, "write stream: %s", errText(err))
	}
	return &enc.End, nil
}

// readDataAt reads the DATA record at pos again (checking its CRCs) and
// returns its logical bytes.
func readDataAt(f io.ReaderAt, pos int64) ([]byte, error) {
	h := make([]byte, HeaderSize)
	if _, err := f.ReadAt(h, pos); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(h[4:]) != headerCRC(h) || binary.LittleEndian.Uint16(h) != RecData {
		return nil, fmt.Errorf("bad record")
	}
	plen := binary.LittleEndian.Uint32(h[24:])
	if plen > MaxPayload {
		return nil, fmt.Errorf("bad record")
	}
	p := make([]byte, plen)
	if _, err := f.ReadAt(p, pos+HeaderSize); err != nil {
		return nil, err
	}
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(h[28:]) {
		return nil, fmt.Errorf("bad record")
	}
	if binary.LittleEndian.Uint16(h[2:])&FlagZstd != 0 {
		return zstdDecoder().DecodeAll(p, nil)
	}
	return p, nil
}

// Prune keeps the newest keep backups of a volume: the oldest kept one
// becomes a consolidated full stream, the older streams are removed.
func (t *tool) Prune(archive, vol string, keep int) (int, error) {
	chain, err := t.readChain(archive, vol)
	if err != nil {
		return 0, err
	}
	if keep < 1 {
		return 0, fail(ExitUsage, "prune: --keep must be at least 1")
	}
	if len(chain) <= keep {
		return 0, nil
	}
	cut := len(chain) - keep
	top := chain[cut]
	full := top
	full.Kind = "full"
	name := streamName(archive, vol, full)
	w, closeOut, err := t.openOut(name)
	if err != nil {
		return 0, err
	}
	if _, err := t.Consolidate(archive, vol, top.Seq, w, "zstd:fastest"); err != nil {
		closeOut()
		return 0, err
	}
	if err := closeOut(); err != nil {
		return 0, err
	}
	if full.Sum, err = t.streamSum(name); err != nil {
		return 0, err
	}
	if err := t.writeChain(archive, vol, append([]chainEntry{full}, chain[cut+1:]...)); err != nil {
		return 0, err
	}
	for _, e := range chain[:cut+1] {
		t.sys.Remove(streamName(archive, vol, e))
	}
	return cut, nil
}
