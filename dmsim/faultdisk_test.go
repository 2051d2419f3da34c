package dmsim_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
)

// TestFaults: each rule fails (or corrupts) exactly the matching I/Os it
// is told to, in order, and the counts see every I/O.
func TestFaults(t *testing.T) {
	type io struct {
		op     dmsim.Op
		flags  dmsim.BioFlags
		sector uint64
		want   linuxerr.Errno
	}
	w := func(s uint64, e linuxerr.Errno) io { return io{dmsim.OpWrite, 0, s, e} }
	r := func(s uint64, e linuxerr.Errno) io { return io{dmsim.OpRead, 0, s, e} }
	for _, tc := range []struct {
		name   string
		rules  []dmsim.Fault
		ios    []io
		counts dmsim.IOCounts
	}{
		{"no rules", nil,
			[]io{w(0, 0), r(0, 0), {dmsim.OpFlush, dmsim.ReqPreflush, 0, 0}, {dmsim.OpDiscard, 0, 8, 0}},
			dmsim.IOCounts{Reads: 1, Writes: 1, Flushes: 1, Discards: 1}},
		{"second write to the range", []dmsim.Fault{{Ops: dmsim.FaultWrite, Start: 8, End: 16, After: 1, Count: 1}},
			[]io{w(8, 0), w(0, 0), r(8, 0), w(15, linuxerr.EIO), w(8, 0)},
			dmsim.IOCounts{Reads: 1, Writes: 4, Failed: 1}},
		{"every read from a sector on, ENOSPC", []dmsim.Fault{{Ops: dmsim.FaultRead, Start: 100, Err: linuxerr.ENOSPC}},
			[]io{r(92, 0), r(93, linuxerr.ENOSPC), r(2000, linuxerr.ENOSPC), w(100, 0)},
			dmsim.IOCounts{Reads: 3, Writes: 1, Failed: 2}},
		{"an overlapping I/O matches", []dmsim.Fault{{Ops: dmsim.FaultRead | dmsim.FaultWrite, Start: 5, End: 6}},
			[]io{r(0, linuxerr.EIO), w(6, 0), w(4, linuxerr.EIO)},
			dmsim.IOCounts{Reads: 1, Writes: 2, Failed: 2}},
		{"flushes and preflush writes", []dmsim.Fault{{Ops: dmsim.FaultFlush, Count: 2}},
			[]io{w(0, 0), {dmsim.OpWrite, dmsim.ReqPreflush | dmsim.ReqFUA, 0, linuxerr.EIO}, {dmsim.OpFlush, dmsim.ReqPreflush, 0, linuxerr.EIO}, {dmsim.OpFlush, dmsim.ReqPreflush, 0, 0}},
			dmsim.IOCounts{Writes: 2, FUA: 1, Flushes: 3, Failed: 2}},
		{"first rule wins", []dmsim.Fault{{Ops: dmsim.FaultWrite, Err: linuxerr.EROFS, Count: 1}, {Ops: dmsim.FaultWrite}},
			[]io{w(0, linuxerr.EROFS), w(0, linuxerr.EIO)},
			dmsim.IOCounts{Writes: 2, Failed: 2}},
		{"discards", []dmsim.Fault{{Ops: dmsim.FaultDiscard, Start: 64}},
			[]io{{dmsim.OpDiscard, 0, 0, 0}, {dmsim.OpDiscard, 0, 60, linuxerr.EIO}},
			dmsim.IOCounts{Discards: 2, Failed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Boot(t, 1<<20)
			f := m.Faults("/dev/vda")
			var rules []*dmsim.Fault
			for _, r := range tc.rules {
				rules = append(rules, f.Add(r))
			}
			for i, x := range tc.ios {
				var data []byte
				if x.op == dmsim.OpRead || x.op == dmsim.OpWrite {
					data = make([]byte, 4096)
				}
				bio := dmsim.NewBio(x.op, m.Bdev("/dev/vda"), x.sector, data, nil)
				bio.Flags = x.flags
				if x.op == dmsim.OpDiscard {
					bio.Sectors = 8
				}
				if err := dmsim.SubmitWait(t.Context(), m.K.Clock, bio); linuxerr.ToErrno(err) != x.want {
					t.Errorf("I/O %d (%v@%d): %v, want %v", i, x.op, x.sector, err, x.want)
				}
			}
			if got := f.Counts(); got != tc.counts {
				t.Errorf("counts %+v, want %+v", got, tc.counts)
			}
			fired := 0
			for _, r := range rules {
				fired += r.Fired()
			}
			if fired != tc.counts.Failed {
				t.Errorf("rules fired %d times, want %d", fired, tc.counts.Failed)
			}
		})
	}
}

// TestFaultsCorrupt: a corrupting rule flips the given number of bits in
// the matched part of a read, the same bits for the same seed, and leaves
// the image alone.
func TestFaultsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end uint64
		bits       int
	}{
		{"one bit of the first block", 0, 8, 1},
		{"eight bits of one sector", 3, 4, 8},
		{"from a sector on", 6, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var flipped [][]byte
			for range 2 {
				m := Boot(t, 1<<20)
				orig := Pattern(0x5a, 8192)
				m.Write("/dev/vda", 0, orig)
				m.Faults("/dev/vda").Add(dmsim.Fault{Ops: dmsim.FaultRead, Start: tc.start, End: tc.end, Count: 1, CorruptBits: tc.bits})
				got := m.Read("/dev/vda", 0, 8192)
				var diff int
				for i := range got {
					x := got[i] ^ orig[i]
					if x != 0 {
						s := uint64(i / 512)
						if s < tc.start || (tc.end != 0 && s >= tc.end) {
							t.Errorf("byte %d outside the range changed", i)
						}
					}
					for ; x != 0; x &= x - 1 {
						diff++
					}
				}
				// Two flips of one bit cancel out: at most bits differ, with
				// the parity of bits.
				if diff > tc.bits || diff%2 != tc.bits%2 || diff == 0 {
					t.Errorf("%d bits differ, want %d", diff, tc.bits)
				}
				if again := m.Read("/dev/vda", 0, 8192); !bytes.Equal(again, orig) {
					t.Error("the corruption reached the image")
				}
				if c := m.Faults("/dev/vda").Counts(); c.Corrupted != 1 || c.Failed != 0 {
					t.Errorf("counts %+v", c)
				}
				flipped = append(flipped, got)
			}
			if !bytes.Equal(flipped[0], flipped[1]) {
				t.Error("same seed, different corruption")
			}
		})
	}
}

// TestFaultsFlushAndTrace: Flush() (blkdev_issue_flush) goes through the
// injector too, and the trace records the I/Os in order.
func TestFaultsFlushAndTrace(t *testing.T) {
	m := Boot(t, 1<<20)
	d := m.Disk("/dev/vda")
	f := d.Faults()
	f.Trace(true)
	f.Add(dmsim.Fault{Ops: dmsim.FaultFlush, After: 1, Count: 1, Err: linuxerr.EIO})
	for i, want := range []error{nil, linuxerr.EIO, nil} {
		if err := d.Flush(); err != want {
			t.Errorf("flush %d: %v, want %v", i, err, want)
		}
	}
	m.Write("/dev/vda", 16, Pattern(1, 1024))
	if err := m.Discard("/dev/vda", 64, 8); err != nil {
		t.Fatal(err)
	}
	want := []dmsim.IORecord{{Op: dmsim.OpFlush}, {Op: dmsim.OpFlush}, {Op: dmsim.OpFlush},
		{Op: dmsim.OpWrite, Sector: 16, Sectors: 2}, {Op: dmsim.OpDiscard, Sector: 64, Sectors: 8}}
	if got := f.TakeIOs(); !slices.Equal(got, want) {
		t.Errorf("trace %+v\nwant %+v", got, want)
	}
	if got := f.TakeIOs(); got != nil {
		t.Errorf("trace not cleared: %+v", got)
	}
}
