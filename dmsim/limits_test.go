package dmsim

import "testing"

func TestBlkStackLimits(t *testing.T) {
	ram := DefaultQueueLimits()
	ram.PhysicalBlockSize, ram.IOMin = 4096, 4096
	ram.MaxSectors, ram.MaxHWSectors = 255, 255
	virtio := DefaultQueueLimits()
	virtio.MaxSectors, virtio.MaxHWSectors = 2560, UintMax
	virtio.MaxDiscardSectors, virtio.MaxHWDiscardSectors, virtio.DiscardGranularity = 4194303, 4194303, 512
	stripe := virtio
	stripe.IOMin, stripe.IOOpt = 65536, 131072
	odd := ram
	odd.AlignmentOffset = 3584

	type comp struct {
		lim   QueueLimits
		start uint64
	}
	tests := []struct {
		name   string
		comps  []comp
		wantOK []bool
		want   func(l QueueLimits) bool
	}{
		{"ram at a page", []comp{{ram, 0}}, []bool{true},
			func(l QueueLimits) bool {
				return l.AlignmentOffset == 0 && l.PhysicalBlockSize == 4096 && l.MaxSectors == 255
			}},
		{"ram one sector in", []comp{{ram, 1}}, []bool{true},
			func(l QueueLimits) bool { return l.AlignmentOffset == 3584 && !l.Misaligned }},
		{"two alignments", []comp{{ram, 0}, {ram, 1}}, []bool{true, false},
			func(l QueueLimits) bool { return l.Misaligned && l.SysfsAlignmentOffset() == -1 }},
		{"an offset component at 0", []comp{{ram, 0}, {odd, 0}}, []bool{true, false},
			func(l QueueLimits) bool { return l.Misaligned }},
		{"offset into a stripe", []comp{{stripe, 100}}, []bool{true},
			func(l QueueLimits) bool { return l.AlignmentOffset == 14336 && l.IOOpt == 131072 }},
		{"virtio and ram", []comp{{virtio, 0}, {ram, 0}}, []bool{true, true},
			func(l QueueLimits) bool {
				return l.PhysicalBlockSize == 4096 && l.MaxSectors == 255 && l.MaxDiscardSectors == 4194303 &&
					l.MaxHWDiscardSectors == 4194303 && l.DiscardGranularity == 512
			}},
		{"io_opt lcm", []comp{{stripe, 0}, {func() QueueLimits { s := stripe; s.IOOpt = 36864; s.IOMin = 12288; return s }(), 0}}, []bool{true, true},
			func(l QueueLimits) bool { return l.IOOpt == 1179648 && l.IOMin == 65536 }},
		{"io_opt not a physical multiple", []comp{{ram, 0}, {func() QueueLimits { s := DefaultQueueLimits(); s.IOOpt = 1024; return s }(), 0}}, []bool{true, false},
			func(l QueueLimits) bool { return l.IOOpt == 0 && l.Misaligned }},
		{"small max_sectors rounds up to a page", []comp{{func() QueueLimits { s := ram; s.MaxSectors = 3; return s }(), 0}}, []bool{true},
			func(l QueueLimits) bool { return l.MaxSectors == 8 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := StackingLimits()
			for i, c := range tt.comps {
				if got := blkStackLimits(&l, c.lim, c.start); got != tt.wantOK[i] {
					t.Fatalf("component %d: ok = %v, want %v (%+v)", i, got, tt.wantOK[i], l)
				}
			}
			if !tt.want(l) {
				t.Fatalf("limits %+v", l)
			}
		})
	}
}
