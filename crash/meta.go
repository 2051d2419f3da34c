package crash

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/thinmeta"
)

// metaState is what a pool's metadata holds, reduced to what a committed
// transaction is: the superblock's user-visible fields, the device
// details and every mapping (not where the blocks lie).
type metaState struct {
	Formatted  bool   // false: the superblock block is all zeros (a new pool formats it)
	Err        string // unreadable as a pool's metadata
	TransID    uint64
	NeedsCheck bool
	Main       uint64   // hash of the transaction
	Held       uint64   // hash of the held metadata snapshot (0: none)
	Mapped     []uint64 // the distinct mapped data blocks, ascending
	// used is the data blocks the space map must count: those mapped by
	// the transaction or by the metadata snapshot (a shadowed leaf the
	// snapshot shares keeps its data blocks referenced: data_block_inc()).
	used      int
	Thins     []uint64           // the thin ids
	BlockSize uint32             // data block size in sectors
	virt      map[[2]uint64]bool // {thin id, virtual block} of every mapping
	refs      map[uint64]uint32  // data block -> the mappings of it
	heldSet   bool               // held_root is not 0
	mainErr   bool               // Err is about the transaction, not the snapshot
}

func (m *metaState) String() string {
	switch {
	case m.Err != "":
		return "unreadable (" + m.Err + ")"
	case !m.Formatted:
		return "unformatted"
	}
	return fmt.Sprintf("transaction %d (%d thins, %d mapped blocks, %016x)", m.TransID, len(m.Thins), len(m.Mapped), m.Main)
}

// equal: the same transaction, metadata snapshot included.
func (m *metaState) equal(o *metaState) bool {
	return m.Err == "" && o.Err == "" && m.Formatted == o.Formatted && m.Main == o.Main && m.Held == o.Held
}

// readMeta reads a pool's metadata.
func readMeta(dev thinmeta.ReadDevice) *metaState {
	ms := &metaState{}
	blk := make([]byte, 4096)
	if _, err := dev.ReadAt(blk, 0); err != nil {
		ms.Err = err.Error()
		return ms
	}
	if bytes.Equal(blk, make([]byte, 4096)) {
		return ms
	}
	ms.Formatted = true
	im := thinmeta.NewImage(dev)
	sb, err := im.Superblock(thinmeta.SuperblockLocation)
	if err != nil {
		ms.Err, ms.mainErr = err.Error(), true
		return ms
	}
	ms.TransID = sb.TransID
	ms.NeedsCheck = sb.Flags&thinmeta.NeedsCheckFlag != 0
	ms.BlockSize = sb.DataBlockSize
	ms.refs = map[uint64]uint32{}
	ms.virt = map[[2]uint64]bool{}
	ms.Main, err = hashTransaction(im, &sb, ms.refs, &ms.Thins, ms.virt)
	if err != nil {
		ms.Err, ms.mainErr = err.Error(), true
		return ms
	}
	ms.heldSet = sb.HeldRoot != 0
	for b := range ms.refs {
		ms.Mapped = append(ms.Mapped, b)
	}
	slices.Sort(ms.Mapped)
	ms.used = len(ms.Mapped)
	if sb.HeldRoot != 0 {
		snap, err := im.Superblock(sb.HeldRoot)
		if err == nil {
			var thins []uint64
			held := map[uint64]uint32{}
			ms.Held, err = hashTransaction(im, &snap, held, &thins, nil)
			for b := range held {
				if ms.refs[b] == 0 {
					ms.used++
				}
			}
		}
		if err != nil {
			ms.Err = "metadata snapshot: " + err.Error()
		}
	}
	return ms
}

// hashTransaction hashes a superblock's transaction: trans_id, time, the
// data space's size, the details and the mappings.
func hashTransaction(im *thinmeta.Image, sb *thinmeta.Superblock, mapped map[uint64]uint32, thins *[]uint64, virt map[[2]uint64]bool) (uint64, error) {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(sb.TransID)
	put(uint64(sb.Time))
	put(sb.DataSpaceMap().NrBlocks)
	put(uint64(sb.DataBlockSize))
	err := im.ReadTree(sb.DeviceDetailsRoot, thinmeta.DetailsSize, nil, func(k uint64, v []byte) error {
		put(k)
		h.Write(v)
		*thins = append(*thins, k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("device details: %v", err)
	}
	var roots [][2]uint64
	err = im.ReadTree(sb.DataMappingRoot, 8, nil, func(k uint64, v []byte) error {
		roots = append(roots, [2]uint64{k, binary.LittleEndian.Uint64(v)})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mapping tree: %v", err)
	}
	for _, r := range roots {
		put(r[0])
		err := im.ReadTree(r[1], 8, nil, func(k uint64, v []byte) error {
			put(k)
			h.Write(v)
			b, _ := thinmeta.UnpackBlockTime(binary.LittleEndian.Uint64(v))
			mapped[b]++
			if virt != nil {
				virt[[2]uint64{r[0], k}] = true
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("thin %d mappings: %v", r[0], err)
		}
	}
	return h.Sum64(), nil
}

// commit is one state of a pool's metadata the run wrote: the image right
// after a write of its superblock (a commit, a thin_restore, a wipe), or
// the image at boot.
type commit struct {
	Seq uint64 // the superblock write (0: the boot)
	// Promised is the instant from which a crash may not lose the
	// commit: its superblock write for a pool's commit (the command that
	// made it returns after the flush that covers it: I4), the flush that
	// covered it for a write of the metadata device with no pool on it
	// (an application's `dd` wiping the superblock promises nothing until
	// a flush), ^0 if none did.
	Promised uint64
	M        *metaState
	// since maps each mapped data block to the first commit of the run of
	// commits, ending with this one, that all map it.
	since map[uint64]int
}

// poolHistory is the commits of one metadata device during one boot.
type poolHistory struct {
	Commits []commit
}

// window is the commits a crash at instant at may leave, given that
// every record up to quiesced had completed: from the last one promised
// at the quiesce to the last whose superblock write came before the crash.
func (h *poolHistory) window(quiesced, at uint64) (lo, hi int) {
	for i, c := range h.Commits {
		if c.Promised <= quiesced {
			lo = i
		}
		if c.Seq < at {
			hi = i
		}
	}
	return lo, hi
}

// poolCache computes each metadata device's history once per boot.
type poolCache struct {
	mu sync.Mutex
	m  map[string]*poolHistory
}

// history is the commits of the metadata device on segs (one disk).
func (b *bootTrace) history(segs []segment, size uint64) *poolHistory {
	key := fmt.Sprint(segs, size)
	b.histories.mu.Lock()
	defer b.histories.mu.Unlock()
	if b.histories.m == nil {
		b.histories.m = map[string]*poolHistory{}
	}
	if h, ok := b.histories.m[key]; ok {
		return h
	}
	h := &poolHistory{}
	b.histories.m[key] = h
	disk := segs[0].Disk
	_, sb, _ := diskSector(segs, 0)
	live := &liveImage{base: b.Disks[disk].Base, sectors: map[uint64][]byte{}}
	readers := make([]io.ReaderAt, len(b.Disks))
	readers[disk] = live
	dev := &devReader{segs: segs, disks: readers, size: int64(size) * dmsim.SectorSize}
	add := func(seq uint64) {
		c := commit{Seq: seq, Promised: seq, M: readMeta(dev), since: map[uint64]int{}}
		if seq > 0 && !b.poolLiveAround(seq, segs, size) {
			c.Promised = ^uint64(0)
			for _, r := range b.Disks[disk].Log {
				if r.Seq > seq && (r.Op == dmsim.OpFlush || r.Flags&dmsim.ReqPreflush != 0) {
					c.Promised = r.Seq
					break
				}
			}
		}
		i := len(h.Commits)
		for _, blk := range c.M.Mapped {
			c.since[blk] = i
			if i > 0 {
				if s, ok := h.Commits[i-1].since[blk]; ok {
					c.since[blk] = s
				}
			}
		}
		h.Commits = append(h.Commits, c)
	}
	add(0)
	for i := range b.Disks[disk].Log {
		r := &b.Disks[disk].Log[i]
		if r.Op != dmsim.OpWrite && r.Op != dmsim.OpDiscard {
			continue
		}
		live.apply(r)
		if r.Sector < sb+8 && r.Sector+r.Sectors > sb {
			add(r.Seq)
		}
	}
	return h
}

// poolLiveAround: a pool with its metadata on segs was live when the
// command that made the write at seq began or when it ended (the write is
// the pool's, not an application's).
func (b *bootTrace) poolLiveAround(seq uint64, segs []segment, size uint64) bool {
	k := 0 // the quiesce before the command
	for i, q := range b.Quiesces {
		if q.Seq < seq {
			k = i
		}
	}
	for _, q := range b.Quiesces[k:min(k+2, len(b.Quiesces))] {
		for _, p := range b.pools(q.Tables) {
			if p.metaSize == size && slices.Equal(p.meta, segs) {
				return true
			}
		}
	}
	return false
}
