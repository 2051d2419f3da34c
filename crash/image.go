package crash

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/dmsim"
)

// cowImage is a crash state's disk for a machine booted on it: reads see
// the machine's own writes, then the crash image, which is shared by
// every machine and never written (a state costs no copy of its disks).
type cowImage struct {
	base io.ReaderAt
	size int64
	mu   sync.Mutex
	over map[int64][]byte // sector -> 512 bytes written since boot
}

func newCOW(base io.ReaderAt, size int64) *cowImage {
	return &cowImage{base: base, size: size, over: map[int64][]byte{}}
}

func (c *cowImage) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		s, o := pos/dmsim.SectorSize, int(pos%dmsim.SectorSize)
		k := min(dmsim.SectorSize-o, len(p)-n)
		if b, ok := c.over[s]; ok {
			copy(p[n:n+k], b[o:])
		} else if _, err := c.base.ReadAt(p[n:n+k], pos); err != nil && err != io.EOF {
			return n, err
		}
		n += k
	}
	return n, nil
}

func (c *cowImage) WriteAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		s, o := pos/dmsim.SectorSize, int(pos%dmsim.SectorSize)
		k := min(dmsim.SectorSize-o, len(p)-n)
		b, ok := c.over[s]
		if !ok {
			b = make([]byte, dmsim.SectorSize)
			if o != 0 || k != dmsim.SectorSize {
				c.base.ReadAt(b, s*dmsim.SectorSize)
			}
			c.over[s] = b
		}
		copy(b[o:], p[n:n+k])
		n += k
	}
	return n, nil
}

func (c *cowImage) Punch(off, n int64) error {
	_, err := c.WriteAt(make([]byte, n), off)
	return err
}

func (c *cowImage) Truncate(size int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.size = size
	return nil
}

func (c *cowImage) Close() error { return nil }

// baseCache keeps the sectors read from a boot's base image (an image
// file seen through the sectors saved before the boot changed them): every
// state of the boot reads the same base.
type baseCache struct {
	r  io.ReaderAt
	mu sync.RWMutex
	m  map[int64][]byte
}

func (c *baseCache) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		s, o := pos/dmsim.SectorSize, int(pos%dmsim.SectorSize)
		k := min(dmsim.SectorSize-o, len(p)-n)
		c.mu.RLock()
		b, ok := c.m[s]
		c.mu.RUnlock()
		if !ok {
			b = make([]byte, dmsim.SectorSize)
			if _, err := c.r.ReadAt(b, s*dmsim.SectorSize); err != nil && err != io.EOF {
				return n, err
			}
			c.mu.Lock()
			c.m[s] = b
			c.mu.Unlock()
		}
		copy(p[n:n+k], b[o:])
		n += k
	}
	return n, nil
}

// scratchDir is where the machines booted on crash states keep their
// scratch files: a memory file system when there is one.
func scratchDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// segment is part of a device: Len sectors from device sector Start map
// to disk Disk from sector Offset.
type segment struct {
	Start, Len uint64
	Disk       int
	Offset     uint64
}

// resolve maps a device named in a table ("254:16", "253:0") onto the
// boot's disks, through linear tables; false for anything else (brd,
// loop, other targets).
func resolve(dev string, tables []devTable, depth int) ([]segment, bool) {
	d, ok, err := dmsim.ParseDevT(dev)
	if !ok || err != nil || depth > 8 {
		return nil, false
	}
	switch d.Major {
	case dmsim.VirtioMajor:
		if d.Minor%16 != 0 {
			return nil, false
		}
		return []segment{{Start: 0, Len: ^uint64(0) >> 1, Disk: int(d.Minor / 16)}}, true
	case dmsim.DMMajor:
		for _, t := range tables {
			if t.Dev != d {
				continue
			}
			var out []segment
			for _, sp := range t.Specs {
				f := strings.Fields(sp.Params)
				if sp.Type != "linear" || len(f) != 2 {
					return nil, false
				}
				off, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					return nil, false
				}
				lower, ok := resolve(f[0], tables, depth+1)
				if !ok {
					return nil, false
				}
				for _, l := range clip(lower, off, sp.Length) {
					l.Start = l.Start - off + sp.Start
					out = append(out, l)
				}
			}
			return out, true
		}
	}
	return nil, false
}

// clip is the part of segs covering device sectors [off, off+n).
func clip(segs []segment, off, n uint64) []segment {
	var out []segment
	for _, s := range segs {
		lo, hi := max(s.Start, off), min(s.Start+s.Len, off+n)
		if lo >= hi {
			continue
		}
		out = append(out, segment{Start: lo, Len: hi - lo, Disk: s.Disk, Offset: s.Offset + lo - s.Start})
	}
	return out
}

// diskSector maps a device sector onto its disk.
func diskSector(segs []segment, s uint64) (disk int, sector uint64, ok bool) {
	for _, g := range segs {
		if s >= g.Start && s < g.Start+g.Len {
			return g.Disk, g.Offset + s - g.Start, true
		}
	}
	return 0, 0, false
}

// devReader reads a device through its segments from the disks' images.
type devReader struct {
	segs  []segment
	disks []io.ReaderAt
	size  int64
}

func (r *devReader) Size() int64 { return r.size }

func (r *devReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := uint64(off) + uint64(n)
		s, o := pos/dmsim.SectorSize, pos%dmsim.SectorSize
		k := min(dmsim.SectorSize-int(o), len(p)-n)
		d, ds, ok := diskSector(r.segs, s)
		if !ok || d >= len(r.disks) {
			return n, fmt.Errorf("sector %d: not on a disk", s)
		}
		if _, err := r.disks[d].ReadAt(p[n:n+k], int64(ds*dmsim.SectorSize+o)); err != nil && err != io.EOF {
			return n, err
		}
		n += k
	}
	return n, nil
}

// liveImage is a disk's image at some point of its log: the base plus
// every write and discard so far, whether durable or not.
type liveImage struct {
	base    io.ReaderAt
	sectors map[uint64][]byte
}

func (l *liveImage) apply(r *dmsim.BioRecord) {
	for i := uint64(0); i < r.Sectors; i++ {
		switch r.Op {
		case dmsim.OpWrite:
			l.sectors[r.Sector+i] = r.Data()[i*dmsim.SectorSize : (i+1)*dmsim.SectorSize]
		case dmsim.OpDiscard:
			l.sectors[r.Sector+i] = nil
		}
	}
}

func (l *liveImage) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		s, o := uint64(pos/dmsim.SectorSize), int(pos%dmsim.SectorSize)
		k := min(dmsim.SectorSize-o, len(p)-n)
		if b, ok := l.sectors[s]; ok {
			if b == nil {
				clear(p[n : n+k])
			} else {
				copy(p[n:n+k], b[o:])
			}
		} else if l.base == nil {
			clear(p[n : n+k])
		} else if _, err := l.base.ReadAt(p[n:n+k], pos); err != nil && err != io.EOF {
			return n, err
		}
		n += k
	}
	return n, nil
}

// traceHash hashes the write history of every disk of a boot: each
// write, flush and discard with its place in the order of all of them
// across the disks. Reads are left out, their sequence numbers too: a
// crash state depends on the writes only, and the tools' reads may take
// other shapes in other processes (the same script gave two traces under
// `dmsim crash` and the test binary, which differed only in two 256 KiB
// reads of thin_delta's).
func traceHash(b *bootTrace) uint64 {
	var seqs []uint64
	for _, d := range b.Disks {
		for _, r := range d.Log {
			if r.Op != dmsim.OpRead {
				seqs = append(seqs, r.Seq)
			}
		}
	}
	slices.Sort(seqs)
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	for i, d := range b.Disks {
		put(uint64(i))
		for _, r := range d.Log {
			if r.Op == dmsim.OpRead {
				continue
			}
			rank, _ := slices.BinarySearch(seqs, r.Seq)
			put(uint64(rank))
			put(uint64(r.Op))
			put(uint64(r.Flags))
			put(r.Sector)
			put(r.Sectors)
			put(r.Hash)
		}
	}
	return h.Sum64()
}
