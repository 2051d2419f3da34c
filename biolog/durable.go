package biolog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Image is one image a log's flushes made durable (DurableImages).
type Image struct {
	// Entry is the index of the entry that made the image durable: a
	// flush, a FUA write, or, for the image at the end of the log, the
	// last entry.
	Entry int
	// End marks the image at the end of the log: the writes no flush
	// covered, which a host that does not crash keeps (qemu
	// cache=writeback).
	End bool
	// Sectors is the number of non-zero 512-byte sectors of the image.
	Sectors int
	// Fingerprint identifies the image's content: equal images have equal
	// fingerprints, whatever writes made them.
	Fingerprint [sha256.Size]byte
}

func (im Image) String() string {
	end := ""
	if im.End {
		end = " end"
	}
	return fmt.Sprintf("@%d %x (%d sectors)%s", im.Entry, im.Fingerprint[:6], im.Sectors, end)
}

// DurableImages reduces a log to the sequence of images its flushes made
// durable, starting from an all-zero device: the crash model's view of
// the log, in which only flush boundaries are observable. The reduction
// makes two logs of the same durable history compare equal even when
// their bios were cut or merged differently:
//
//  1. the log is cut into epochs at flushes; a FUA write ends its epoch
//     after itself (virtio_blk in 6.1 has no native FUA: blk-flush sends
//     the data, then a flush);
//  2. each epoch's writes and discards (zeros) are applied to the image;
//  3. an epoch that leaves the image as it was adds nothing (an empty
//     flush, which qemu does not even pass on, or writes of what the
//     sectors already held);
//  4. the writes after the last flush give a last image, marked End.
//
// Images are compared sector by sector: a sector that reads as zeros is
// the same whether it was never written, discarded or written with zeros.
func DurableImages(sectorSize uint32, entries []Entry) []Image {
	img := map[uint64][sha256.Size]byte{} // 512-byte sector -> hash of its non-zero content
	var fp [sha256.Size]byte
	var out []Image
	last := func() [sha256.Size]byte {
		if len(out) == 0 {
			return [sha256.Size]byte{}
		}
		return out[len(out)-1].Fingerprint
	}
	dirty := false
	set := func(s uint64, data []byte) {
		var h [sha256.Size]byte
		zero := true
		for _, c := range data {
			if c != 0 {
				zero = false
				break
			}
		}
		if !zero {
			var key [8]byte
			binary.LittleEndian.PutUint64(key[:], s)
			hh := sha256.New()
			hh.Write(key[:])
			hh.Write(data)
			hh.Sum(h[:0])
		}
		old, had := img[s]
		if had {
			xor(&fp, &old)
			delete(img, s)
		}
		if !zero {
			xor(&fp, &h)
			img[s] = h
		}
		if had || !zero {
			dirty = true
		}
	}
	emit := func(i int, end bool) {
		if dirty && fp != last() {
			out = append(out, Image{Entry: i, End: end, Sectors: len(img), Fingerprint: fp})
		}
		dirty = false
	}
	per := uint64(sectorSize) / 512
	var zeros [512]byte
	for i := range entries {
		e := &entries[i]
		if e.IsFlush() {
			emit(i, false)
		}
		switch {
		case e.IsMark():
		case e.IsDiscard():
			lo, hi := e.Sector*per, (e.Sector+e.NrSectors)*per
			if hi-lo > uint64(len(img)) {
				// A discard larger than the image's written part (a whole
				// big device): visit the written sectors instead.
				for s := range img {
					if s >= lo && s < hi {
						set(s, zeros[:])
					}
				}
				continue
			}
			for s := lo; s < hi; s++ {
				set(s, zeros[:])
			}
		default:
			for j := uint64(0); j < uint64(len(e.Data))/512; j++ {
				set(e.Sector*per+j, e.Data[j*512:(j+1)*512])
			}
			if e.IsFUA() {
				emit(i, false)
			}
		}
	}
	emit(len(entries)-1, true)
	return out
}

func xor(a, b *[sha256.Size]byte) {
	for i := range a {
		a[i] ^= b[i]
	}
}
