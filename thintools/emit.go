package thintools

import (
	"bufio"
	"fmt"

	"github.com/dmsim/dmsim/thinmeta"
)

// emitter is the thin_dump output format (xml or human_readable).
type emitter interface {
	beginSuperblock(sb *thinmeta.Superblock, nrDataBlocks uint64)
	endSuperblock()
	beginDevice(dev uint64, d thinmeta.DeviceDetails)
	endDevice()
	rangeMap(origin, data uint64, time uint32, length uint64)
	singleMap(origin, data uint64, time uint32)
}

// runBuilder coalesces mappings into runs of consecutive origin and data
// blocks with the same time, as the dumper does before emitting.
type runBuilder struct {
	e               emitter
	active          bool
	origin, data, n uint64
	time            uint32
}

func (r *runBuilder) add(origin, data uint64, time uint32) {
	if r.active && origin == r.origin+r.n && data == r.data+r.n && time == r.time {
		r.n++
		return
	}
	r.flush()
	r.active, r.origin, r.data, r.time, r.n = true, origin, data, time, 1
}

func (r *runBuilder) flush() {
	if !r.active {
		return
	}
	if r.n == 1 {
		r.e.singleMap(r.origin, r.data, r.time)
	} else {
		r.e.rangeMap(r.origin, r.data, r.time, r.n)
	}
	r.active = false
}

// xmlEmitter writes the 0.9.0 XML format.
type xmlEmitter struct {
	w      *bufio.Writer
	indent int
}

func (x *xmlEmitter) pad() {
	for i := 0; i < x.indent; i++ {
		x.w.WriteByte(' ')
	}
}

func (x *xmlEmitter) beginSuperblock(sb *thinmeta.Superblock, nrDataBlocks uint64) {
	x.pad()
	fmt.Fprintf(x.w, "<superblock uuid=\"\" time=\"%d\" transaction=\"%d\" flags=\"%d\" version=\"%d\" data_block_size=\"%d\" nr_data_blocks=\"%d\">\n",
		sb.Time, sb.TransID, sb.Flags, sb.Version, sb.DataBlockSize, nrDataBlocks)
	x.indent += 2
}

func (x *xmlEmitter) endSuperblock() {
	x.indent -= 2
	x.pad()
	x.w.WriteString("</superblock>\n")
}

func (x *xmlEmitter) beginDevice(dev uint64, d thinmeta.DeviceDetails) {
	x.pad()
	fmt.Fprintf(x.w, "<device dev_id=\"%d\" mapped_blocks=\"%d\" transaction=\"%d\" creation_time=\"%d\" snap_time=\"%d\">\n",
		dev, d.MappedBlocks, d.TransactionID, d.CreationTime, d.SnapshottedTime)
	x.indent += 2
}

func (x *xmlEmitter) endDevice() {
	x.indent -= 2
	x.pad()
	x.w.WriteString("</device>\n")
}

func (x *xmlEmitter) rangeMap(origin, data uint64, time uint32, length uint64) {
	x.pad()
	fmt.Fprintf(x.w, "<range_mapping origin_begin=\"%d\" data_begin=\"%d\" length=\"%d\" time=\"%d\"/>\n", origin, data, length, time)
}

func (x *xmlEmitter) singleMap(origin, data uint64, time uint32) {
	x.pad()
	fmt.Fprintf(x.w, "<single_mapping origin_block=\"%d\" data_block=\"%d\" time=\"%d\"/>\n", origin, data, time)
}

// humanEmitter writes the 0.9.0 human_readable format.
type humanEmitter struct{ w *bufio.Writer }

func (h *humanEmitter) beginSuperblock(sb *thinmeta.Superblock, nrDataBlocks uint64) {
	fmt.Fprintf(h.w, "begin superblock: \"\", %d, %d, %d, %d, %d, %d\n",
		sb.Time, sb.TransID, sb.Flags, sb.Version, sb.DataBlockSize, nrDataBlocks)
}

func (h *humanEmitter) endSuperblock() { h.w.WriteString("end superblock\n") }

func (h *humanEmitter) beginDevice(dev uint64, d thinmeta.DeviceDetails) {
	fmt.Fprintf(h.w, "device: %d\nmapped_blocks: %d\ntransaction: %d\ncreation time: %d\nsnap time: %d\n",
		dev, d.MappedBlocks, d.TransactionID, d.CreationTime, d.SnapshottedTime)
}

func (h *humanEmitter) endDevice() { h.w.WriteString("\n") }

func (h *humanEmitter) rangeMap(origin, data uint64, time uint32, length uint64) {
	fmt.Fprintf(h.w, "    (%d..%d) -> (%d..%d), %d\n", origin, origin+length-1, data, data+length-1, time)
}

func (h *humanEmitter) singleMap(origin, data uint64, time uint32) {
	fmt.Fprintf(h.w, "    %d -> %d, %d\n", origin, data, time)
}
