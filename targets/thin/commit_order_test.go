package thin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// wireLog merges the bio logs of the metadata (vda) and data (vdb) disks
// after seq, in the order the disks executed them: "data:F", "meta:W3"
// (a write of 4 KiB metadata block 3), "meta:F"; any flag is appended.
func wireLog(h *env, after uint64) []string {
	type rec struct {
		dmsim.BioRecord
		who string
	}
	var recs []rec
	for _, d := range []struct{ path, who string }{{"/dev/vda", "meta"}, {"/dev/vdb", "data"}} {
		for _, r := range h.Disk(d.path).BioLog() {
			if r.Seq > after && r.Op != dmsim.OpRead {
				recs = append(recs, rec{r, d.who})
			}
		}
	}
	slices.SortFunc(recs, func(a, b rec) int { return int(a.Seq) - int(b.Seq) })
	var out []string
	for _, r := range recs {
		s := r.who + ":" + r.String()
		if r.who == "meta" && r.Op == dmsim.OpWrite && r.Sector%8 == 0 && r.Sectors == 8 {
			s = fmt.Sprintf("meta:W%d", r.Sector/8)
			if f := strings.TrimPrefix(r.String(), fmt.Sprintf("W%d+%d", r.Sector, r.Sectors)); f != "" {
				s += f
			}
		}
		out = append(out, s)
	}
	return out
}

func lastSeq(h *env) uint64 {
	var n uint64
	for _, p := range []string{"/dev/vda", "/dev/vdb"} {
		if l := h.Disk(p).BioLog(); len(l) > 0 {
			n = max(n, l[len(l)-1].Seq)
		}
	}
	return n
}

// commitOrder is Linux 6.1's commit on the wire: the data device flush
// (metadata_pre_commit_callback, 694cfe7f31db), the dirty metadata blocks
// and a flush (dm_tm_pre_commit -> dm_bm_flush), then the superblock as a
// plain write and a flush (dm_tm_commit -> dm_bm_flush): no FUA anywhere.
// The thin's own data writes come before; a flush to a thin completes
// after the commit without another data flush (process_deferred_bios()).
var commitOrder = regexp.MustCompile(`^(data:W[0-9+]+ )*data:F( meta:W[1-9][0-9]*)* meta:F meta:W0 meta:F$`)

// TestCommitOrder: every thin-pool commit puts exactly 6.1's sequence on
// the wire, whatever triggers it.
func TestCommitOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(h *env, pool, thin *dev) error
	}{
		{"create_thin message", func(h *env, pool, _ *dev) error { return h.message(pool, "create_thin 1") }},
		{"set_transaction_id message", func(h *env, pool, _ *dev) error { return h.message(pool, "set_transaction_id 0 1") }},
		{"status after a provisioning write", func(h *env, pool, thin *dev) error {
			if err := h.write(thin, 0, fill('p', 4096)); err != nil {
				return err
			}
			h.status(pool)
			return nil
		}},
		{"flush to a changed thin", func(h *env, _, thin *dev) error {
			if err := h.write(thin, 256, fill('q', 512)); err != nil {
				return err
			}
			return h.flush(thin)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta, data := vd(8192, false), vd(16*128, false)
			meta.BioLog, data.BioLog = true, true
			h, pool, thin, _ := poolSetupOn(t, []dmsim.DiskSpec{meta, data}, 16, 0, "")
			h.status(pool) // commits whatever is pending
			from := lastSeq(h)
			if err := tc.run(h, pool, thin); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(wireLog(h, from), " "); !commitOrder.MatchString(got) || testing.Verbose() {
				t.Errorf("commit on the wire:\n%s\nwant %s", got, commitOrder)
			}
		})
	}
}
