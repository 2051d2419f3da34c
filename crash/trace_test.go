package crash

import (
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// TestTraceHashIgnoresReads: the trace fingerprints the write history, so
// reads (and the sequence numbers they take) do not change it, while any
// change to a write, a flush or their order across disks does.
func TestTraceHashIgnoresReads(t *testing.T) {
	w := func(seq, sector, hash uint64) dmsim.BioRecord {
		return dmsim.BioRecord{Seq: seq, Op: dmsim.OpWrite, Sector: sector, Sectors: 8, Hash: hash}
	}
	f := func(seq uint64) dmsim.BioRecord { return dmsim.BioRecord{Seq: seq, Op: dmsim.OpFlush} }
	r := func(seq uint64) dmsim.BioRecord {
		return dmsim.BioRecord{Seq: seq, Op: dmsim.OpRead, Sector: 0, Sectors: 512, Hash: 7}
	}
	trace := func(disks ...[]dmsim.BioRecord) uint64 {
		b := &bootTrace{}
		for _, l := range disks {
			b.Disks = append(b.Disks, diskTrace{Log: l})
		}
		return traceHash(b)
	}
	base := trace([]dmsim.BioRecord{w(1, 0, 1), f(3)}, []dmsim.BioRecord{w(2, 8, 2)})
	for _, c := range []struct {
		name  string
		disks [][]dmsim.BioRecord
		same  bool
	}{
		{"reads between", [][]dmsim.BioRecord{{r(1), w(2, 0, 1), r(3), f(6)}, {r(4), w(5, 8, 2)}}, true},
		{"later sequence numbers", [][]dmsim.BioRecord{{w(10, 0, 1), f(30)}, {w(20, 8, 2)}}, true},
		{"other data", [][]dmsim.BioRecord{{w(1, 0, 9), f(3)}, {w(2, 8, 2)}}, false},
		{"other order across disks", [][]dmsim.BioRecord{{w(2, 0, 1), f(3)}, {w(1, 8, 2)}}, false},
		{"flush before the other disk's write", [][]dmsim.BioRecord{{w(1, 0, 1), f(2)}, {w(3, 8, 2)}}, false},
	} {
		if got := trace(c.disks...) == base; got != c.same {
			t.Errorf("%s: same trace %v, want %v", c.name, got, c.same)
		}
	}
}
