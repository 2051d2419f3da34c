package thintools

import (
	"bufio"
	"fmt"
	"strconv"

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
	buf    [128]byte
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
	b := x.line()
	b = append(b, `<range_mapping origin_begin="`...)
	b = strconv.AppendUint(b, origin, 10)
	b = append(b, `" data_begin="`...)
	b = strconv.AppendUint(b, data, 10)
	b = append(b, `" length="`...)
	b = strconv.AppendUint(b, length, 10)
	b = append(b, `" time="`...)
	b = strconv.AppendUint(b, uint64(time), 10)
	x.w.Write(append(b, "\"/>\n"...))
}

func (x *xmlEmitter) singleMap(origin, data uint64, time uint32) {
	b := x.line()
	b = append(b, `<single_mapping origin_block="`...)
	b = strconv.AppendUint(b, origin, 10)
	b = append(b, `" data_block="`...)
	b = strconv.AppendUint(b, data, 10)
	b = append(b, `" time="`...)
	b = strconv.AppendUint(b, uint64(time), 10)
	x.w.Write(append(b, "\"/>\n"...))
}

// line starts a mapping line in the emitter's buffer: the indent. The
// mappings are most of a dump: they are formatted without fmt.
func (x *xmlEmitter) line() []byte {
	b := x.buf[:0]
	for i := 0; i < x.indent; i++ {
		b = append(b, ' ')
	}
	return b
}

// humanEmitter writes the 0.9.0 human_readable format.
type humanEmitter struct {
	w   *bufio.Writer
	buf [128]byte
}

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
	b := append(h.buf[:0], "    ("...)
	b = strconv.AppendUint(b, origin, 10)
	b = append(b, ".."...)
	b = strconv.AppendUint(b, origin+length-1, 10)
	b = append(b, ") -> ("...)
	b = strconv.AppendUint(b, data, 10)
	b = append(b, ".."...)
	b = strconv.AppendUint(b, data+length-1, 10)
	b = append(b, "), "...)
	b = strconv.AppendUint(b, uint64(time), 10)
	h.w.Write(append(b, '\n'))
}

func (h *humanEmitter) singleMap(origin, data uint64, time uint32) {
	b := append(h.buf[:0], "    "...)
	b = strconv.AppendUint(b, origin, 10)
	b = append(b, " -> "...)
	b = strconv.AppendUint(b, data, 10)
	b = append(b, ", "...)
	b = strconv.AppendUint(b, uint64(time), 10)
	h.w.Write(append(b, '\n'))
}
