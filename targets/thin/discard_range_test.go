package thin

import (
	"slices"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// TestDiscardBlockRange checks get_bio_block_range() on the bios a
// BLKDISCARD of a thin device is issued as (__blkdev_issue_discard with the
// thin device's discard granularity, one data block): the blocks each bio
// unmaps. With a block size that is not a power of two, the block layer's
// first cut can land past the next block boundary, so a block the range
// covers whole is discarded by no bio (scripts/thin-discard-odd-block-size).
func TestDiscardBlockRange(t *testing.T) {
	tests := []struct {
		name            string
		spb             uint64 // sectors per block
		sector, sectors uint64
		want            [][2]uint64 // non-empty [begin, end) block ranges, one per bio
	}{
		{"inside one block", 384, 8, 128, nil},
		{"exactly blocks 4 and 5", 384, 1536, 768, [][2]uint64{{4, 6}}},
		{"130 to 1300 loses block 1", 384, 130, 1170, [][2]uint64{{2, 3}}},
		{"2312 to 3456: the cut at 2432 stays inside block 6", 384, 2312, 1144, [][2]uint64{{7, 9}}},
		{"3300 to 4500 loses block 9", 384, 3300, 1200, [][2]uint64{{10, 11}}},
		{"8 to 1152: the cut at 384 is a block boundary", 384, 8, 1144, [][2]uint64{{1, 3}}},
		{"640: 500 to 2000 loses block 1", 640, 500, 1500, [][2]uint64{{2, 3}}},
		{"640: exactly block 3", 640, 1920, 640, [][2]uint64{{3, 4}}},
		{"640: 3000 to 5120", 640, 3000, 2120, [][2]uint64{{5, 8}}},
		{"power of two: 130 to 1300", 128, 130, 1170, [][2]uint64{{2, 10}}},
		{"power of two: inside block 3", 128, 400, 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &thinC{pool: &pool{sectorsPerBlock: tt.spb}}
			lim := dmsim.QueueLimits{DiscardGranularity: uint32(tt.spb << 9), MaxDiscardSectors: 1 << 25}
			var got [][2]uint64
			sector := tt.sector
			for _, n := range dmsim.BlkdevDiscardPieces(lim, tt.sector, tt.sectors) {
				bio := dmsim.NewBio(dmsim.OpDiscard, nil, sector, nil, nil)
				bio.Sectors = n
				if b, e := tc.getBioBlockRange(bio); b != e {
					got = append(got, [2]uint64{b, e})
				}
				sector += n
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("blocks unmapped = %v, want %v", got, tt.want)
			}
		})
	}
}
