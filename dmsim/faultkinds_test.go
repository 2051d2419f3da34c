package dmsim_test

import (
	"bytes"
	"math/bits"
	"os"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
)

// kindSector is the byte every sector s of the disk starts with in the
// fault-kind tests: 'A'+s, so any sector read back names where it came from.
func kindSector(s uint64) byte { return byte('A' + s) }

// TestFaultKinds: each kind of fault does to the disk, and to the I/O's
// completion, exactly what its rule says, and nothing outside its range.
func TestFaultKinds(t *testing.T) {
	const sectors = 32
	type step struct {
		op     dmsim.Op
		sector uint64
		n      uint64 // sectors
		fill   byte   // write data (0: a read)
		want   linuxerr.Errno
	}
	rd := func(s, n uint64, e linuxerr.Errno) step { return step{dmsim.OpRead, s, n, 0, e} }
	wr := func(s, n uint64, fill byte, e linuxerr.Errno) step { return step{dmsim.OpWrite, s, n, fill, e} }
	for _, tc := range []struct {
		name  string
		rule  dmsim.Fault
		steps []step
		// image: sector -> first byte after the steps, for sectors that
		// changed from kindSector.
		image  map[uint64]byte
		counts dmsim.IOCounts
	}{
		{"latent read error, healed by a write", dmsim.Fault{Kind: dmsim.FaultLatent, Ops: dmsim.FaultRead, Start: 8, End: 16},
			[]step{rd(0, 8, 0), rd(8, 8, linuxerr.EIO), rd(15, 1, linuxerr.EIO), rd(4, 8, linuxerr.EIO),
				wr(8, 4, 'x', 0), rd(8, 4, 0), rd(8, 8, linuxerr.EIO), wr(12, 4, 'y', 0), rd(8, 8, 0)},
			map[uint64]byte{8: 'x', 9: 'x', 10: 'x', 11: 'x', 12: 'y', 13: 'y', 14: 'y', 15: 'y'},
			dmsim.IOCounts{Reads: 7, Writes: 2, Failed: 4}},
		{"latent error that writes cannot heal", dmsim.Fault{Kind: dmsim.FaultLatent, Ops: dmsim.FaultRead | dmsim.FaultWrite, Start: 8, End: 9},
			[]step{wr(8, 8, 'x', linuxerr.EIO), rd(8, 1, linuxerr.EIO), wr(9, 7, 'x', 0), rd(9, 7, 0)},
			map[uint64]byte{9: 'x', 10: 'x', 11: 'x', 12: 'x', 13: 'x', 14: 'x', 15: 'x'},
			dmsim.IOCounts{Reads: 2, Writes: 2, Failed: 2}},
		{"latent error with its own errno, once", dmsim.Fault{Kind: dmsim.FaultLatent, Ops: dmsim.FaultRead, Start: 0, End: 1, Err: linuxerr.ENODATA, Count: 1},
			[]step{rd(0, 8, linuxerr.ENODATA), rd(0, 8, 0)},
			nil, dmsim.IOCounts{Reads: 2, Failed: 1}},
		{"misdirected write", dmsim.Fault{Kind: dmsim.FaultMisdirect, Ops: dmsim.FaultWrite, Start: 8, End: 16, To: 24, Count: 1},
			[]step{wr(8, 8, 'm', 0), rd(8, 1, 0), wr(8, 8, 'n', 0)},
			map[uint64]byte{8: 'n', 9: 'n', 10: 'n', 11: 'n', 12: 'n', 13: 'n', 14: 'n', 15: 'n',
				24: 'm', 25: 'm', 26: 'm', 27: 'm', 28: 'm', 29: 'm', 30: 'm', 31: 'm'},
			dmsim.IOCounts{Reads: 1, Writes: 2, Misdirected: 1}},
		{"misdirected past the end fails", dmsim.Fault{Kind: dmsim.FaultMisdirect, Ops: dmsim.FaultWrite, Start: 0, To: 30},
			[]step{wr(0, 8, 'm', linuxerr.EIO)},
			nil, dmsim.IOCounts{Writes: 1, Misdirected: 1}},
		{"torn write keeps its head", dmsim.Fault{Kind: dmsim.FaultTorn, Ops: dmsim.FaultWrite, Keep: 3, Count: 1},
			[]step{wr(0, 8, 't', 0), wr(16, 2, 'u', 0)},
			map[uint64]byte{0: 't', 1: 't', 2: 't', 16: 'u', 17: 'u'},
			dmsim.IOCounts{Writes: 2, Torn: 1}},
		{"torn write keeps its tail, and says so", dmsim.Fault{Kind: dmsim.FaultTorn, Ops: dmsim.FaultWrite, Keep: 2, KeepTail: true, Err: linuxerr.EIO},
			[]step{wr(8, 8, 't', linuxerr.EIO)},
			map[uint64]byte{14: 't', 15: 't'},
			dmsim.IOCounts{Writes: 1, Torn: 1}},
		{"torn to nothing", dmsim.Fault{Kind: dmsim.FaultTorn, Ops: dmsim.FaultWrite},
			[]step{wr(8, 8, 't', 0)},
			nil, dmsim.IOCounts{Writes: 1, Torn: 1}},
		{"lost write", dmsim.Fault{Kind: dmsim.FaultDrop, Ops: dmsim.FaultWrite, Start: 8, End: 16},
			[]step{wr(0, 8, 'd', 0), wr(8, 8, 'd', 0), rd(8, 8, 0)},
			map[uint64]byte{0: 'd', 1: 'd', 2: 'd', 3: 'd', 4: 'd', 5: 'd', 6: 'd', 7: 'd'},
			dmsim.IOCounts{Reads: 1, Writes: 2, Dropped: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Boot(t, sectors*512)
			orig := make([]byte, sectors*512)
			for s := uint64(0); s < sectors; s++ {
				copy(orig[s*512:(s+1)*512], bytes.Repeat([]byte{kindSector(s)}, 512))
			}
			m.Write("/dev/vda", 0, orig)
			f := m.Faults("/dev/vda")
			before := f.Counts()
			rule := f.Add(tc.rule)
			for i, st := range tc.steps {
				var data []byte
				if st.fill != 0 {
					data = bytes.Repeat([]byte{st.fill}, int(st.n*512))
				} else {
					data = make([]byte, st.n*512)
				}
				keep := bytes.Clone(data)
				err := m.IO(st.op, m.Bdev("/dev/vda"), st.sector, data)
				if linuxerr.ToErrno(err) != st.want {
					t.Errorf("step %d (%v %d+%d): %v, want %v", i, st.op, st.sector, st.n, err, st.want)
				}
				if st.op == dmsim.OpWrite && !bytes.Equal(data, keep) {
					t.Errorf("step %d: the caller's buffer changed", i)
				}
			}
			got := f.Counts()
			got.Reads -= before.Reads
			got.Writes -= before.Writes
			if got != tc.counts {
				t.Errorf("counts %+v, want %+v", got, tc.counts)
			}
			fired := tc.counts.Failed + tc.counts.Misdirected + tc.counts.Torn + tc.counts.Dropped + tc.counts.Corrupted
			if rule.Fired() != fired {
				t.Errorf("fired %d, want %d", rule.Fired(), fired)
			}
			f.Clear()
			img := m.Read("/dev/vda", 0, sectors*512)
			for s := uint64(0); s < sectors; s++ {
				want, ok := tc.image[s]
				if !ok {
					want = kindSector(s)
				}
				if sec := img[s*512 : (s+1)*512]; !bytes.Equal(sec, bytes.Repeat([]byte{want}, 512)) {
					t.Errorf("sector %d starts %q, want %q", s, sec[0], want)
				}
			}
		})
	}
}

// TestFaultBitFlipWrite: a bit-flip rule on writes stores the write with
// the given number of bits changed inside its range (the same bits for the
// same seed), and on reads corrupts only what the read returns.
func TestFaultBitFlipWrite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ops        dmsim.FaultOps
		start, end uint64
		bits       int
	}{
		{"one bit of a written block", dmsim.FaultWrite, 0, 8, 0},
		{"five bits of one written sector", dmsim.FaultWrite, 2, 3, 5},
		{"three bits of a read", dmsim.FaultRead, 0, 8, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stored [][]byte
			for range 2 {
				m := Boot(t, 1<<20)
				data := Pattern(0x33, 4096)
				f := m.Faults("/dev/vda")
				f.Add(dmsim.Fault{Kind: dmsim.FaultBitFlip, Ops: tc.ops, Start: tc.start, End: tc.end, CorruptBits: tc.bits, Count: 1})
				m.Write("/dev/vda", 0, data)
				first := m.Read("/dev/vda", 0, 4096)
				f.Clear()
				img := m.Read("/dev/vda", 0, 4096)
				got := img
				if tc.ops == dmsim.FaultRead {
					if !bytes.Equal(img, data) {
						t.Error("a read's corruption reached the image")
					}
					got = first
				}
				want := max(tc.bits, 1)
				diff := 0
				for i := range got {
					x := got[i] ^ data[i]
					if x != 0 && (uint64(i/512) < tc.start || uint64(i/512) >= tc.end) {
						t.Errorf("byte %d outside the range changed", i)
					}
					diff += bits.OnesCount8(x)
				}
				if diff == 0 || diff > want || diff%2 != want%2 {
					t.Errorf("%d bits differ, want %d", diff, want)
				}
				if c := f.Counts(); c.Corrupted != 1 {
					t.Errorf("counts %+v", c)
				}
				stored = append(stored, got)
			}
			if !bytes.Equal(stored[0], stored[1]) {
				t.Error("same seed, different bits")
			}
		})
	}
}

// TestFaultLostFlush: on a disk with a volatile cache, a dropped flush is
// acknowledged but leaves the writes volatile (the image file does not
// have them); the next flush that is not dropped makes them durable. A
// PREFLUSH write matched as a flush is written without its flush.
func TestFaultLostFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.img")
	m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{{Path: path, Size: 1 << 20, VolatileCache: true,
		Faults: dmsim.NewFaults(1)}}})
	f := m.Faults("/dev/vda")
	lost := f.Add(dmsim.Fault{Kind: dmsim.FaultDrop, Ops: dmsim.FaultFlush, Count: 2})
	durable := func() byte {
		img, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return img[0]
	}
	m.Write("/dev/vda", 0, Pattern('a', 512))
	if err := m.Flush("/dev/vda"); err != nil {
		t.Fatalf("lost flush: %v", err)
	}
	if d := durable(); d != 0 {
		t.Errorf("after a lost flush the image holds %q", d)
	}
	// A PREFLUSH write: the write happens (into the cache), its flush not.
	bio := dmsim.NewBio(dmsim.OpWrite, m.Bdev("/dev/vda"), 8, Pattern('b', 512), nil)
	bio.Flags = dmsim.ReqPreflush
	if err := dmsim.SubmitWait(t.Context(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	if d := durable(); d != 0 {
		t.Errorf("after a PREFLUSH write whose flush was lost the image holds %q", d)
	}
	if got := m.Disk("/dev/vda").DirtySectors(); got != 2 {
		t.Errorf("dirty sectors %d, want 2", got)
	}
	if err := m.Flush("/dev/vda"); err != nil {
		t.Fatal(err)
	}
	if d := durable(); d != 'a' {
		t.Errorf("after a real flush the image holds %q", d)
	}
	if lost.Fired() != 2 || f.Counts().Dropped != 2 {
		t.Errorf("fired %d, counts %+v", lost.Fired(), f.Counts())
	}
}
