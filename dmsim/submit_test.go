package dmsim

import (
	"slices"
	"testing"
)

func TestBioDiscardLimit(t *testing.T) {
	const uintMaxSectors = 4294967295 >> 9 // UINT_MAX bytes, in whole sectors
	tests := []struct {
		name   string
		gran   uint32 // bytes
		sector uint64
		want   uint64
	}{
		{"aligned start, one sector granularity", 512, 0, uintMaxSectors},
		{"any start, one sector granularity", 512, 12345, uintMaxSectors},
		{"no granularity counts as one sector", 0, 77, uintMaxSectors},
		{"aligned start, 64 KiB", 65536, 256, (4294967295 &^ 65535) >> 9},
		{"unaligned start, 64 KiB", 65536, 130, 128 - 2},
		{"start 0, 384 sectors", 384 << 9, 0, (4294967295 &^ (384<<9 - 1)) >> 9},
		{"start 8, 384 sectors: round_up gives 384", 384 << 9, 8, 384 - 8},
		{"start 130, 384 sectors: round_up passes 384", 384 << 9, 130, 512 - 130},
		{"start 384, 384 sectors is aligned", 384 << 9, 384, (4294967295 &^ (384<<9 - 1)) >> 9},
		{"start 400, 384 sectors: round_up gives 512, not 768", 384 << 9, 400, 512 - 400},
		{"start 512, 384 sectors counts as aligned", 384 << 9, 512, (4294967295 &^ (384<<9 - 1)) >> 9},
		{"start 3300, 384 sectors: round_up passes 3456", 384 << 9, 3300, 3584 - 3300},
		{"start 500, 640 sectors: round_up passes 640", 640 << 9, 500, 1024 - 500},
		{"start 3000, 640 sectors", 640 << 9, 3000, 3072 - 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := QueueLimits{DiscardGranularity: tt.gran, MaxDiscardSectors: 1 << 20}
			if got := BioDiscardLimit(lim, tt.sector); got != tt.want {
				t.Errorf("BioDiscardLimit(gran %d, sector %d) = %d, want %d", tt.gran, tt.sector, got, tt.want)
			}
		})
	}
}

func TestBlkdevDiscardPieces(t *testing.T) {
	tests := []struct {
		name            string
		gran            uint32 // bytes
		sector, sectors uint64
		want            []uint64
	}{
		{"empty", 384 << 9, 130, 0, nil},
		{"aligned, one bio", 65536, 128, 1000, []uint64{1000}},
		{"unaligned start, cut at the granularity", 65536, 100, 1000, []uint64{28, 972}},
		{"shorter than the way to alignment", 65536, 100, 10, []uint64{10}},
		{"384 sectors, cut past the next block", 384 << 9, 130, 1170, []uint64{382, 788}},
		{"640 sectors, cut past the next block", 640 << 9, 500, 1500, []uint64{524, 976}},
		{"huge range is cut at UINT_MAX rounded down", 512, 0, 1 << 24, []uint64{8388607, 8388607, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := QueueLimits{DiscardGranularity: tt.gran, MaxDiscardSectors: 1 << 20}
			got := BlkdevDiscardPieces(lim, tt.sector, tt.sectors)
			if !slices.Equal(got, tt.want) {
				t.Errorf("BlkdevDiscardPieces(gran %d, %d+%d) = %v, want %v", tt.gran, tt.sector, tt.sectors, got, tt.want)
			}
			var sum uint64
			for _, n := range got {
				sum += n
			}
			if sum != tt.sectors {
				t.Errorf("pieces cover %d sectors, want %d", sum, tt.sectors)
			}
		})
	}
}
