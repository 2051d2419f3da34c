package busybox

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("dd", "copy a file with converting and formatting (busybox)", dd,
		"if=", "of=", "bs=", "ibs=", "obs=", "count=", "skip=", "seek=", "conv=", "iflag=", "oflag=", "status=")
}

const (
	ddNotrunc = 1 << iota
	ddSync
	ddNoerror
	ddFsync
	ddSwab
	ddSkipBytes
	ddCountBytes
	ddFullblock
	ddIDirect
	ddSeekBytes
	ddAppend
	ddODirect
	ddStatusNone
	ddStatusNoxfer
	ddCount
)

func parseDDFlags(p *userland.Proc, val, what string, words []string, bits []int) (int, bool) {
	flags := 0
	for _, w := range strings.Split(val, ",") {
		found := false
		for i, word := range words {
			if w == word {
				flags |= bits[i]
				found = true
			}
		}
		if !found {
			fmt.Fprintf(p.Stderr, "dd: invalid argument '%s' to '%s'\n", w, what)
			return 0, false
		}
	}
	return flags, true
}

// dd is busybox 1.35 dd, in four steps: parse the operands, open the input
// and the output, copy, and report the records.
func dd(p *userland.Proc) int {
	op, ok := ddParse(p)
	if !ok {
		return 1
	}
	d := &ddRun{p: p, ddOperands: op, in: p.Stdin, out: p.Stdout}
	// Whatever dd opened is closed on every way out, a killed dd's too
	// (the kernel closes a dying process's files, and the last close of a
	// block device writes it back): the output first, then the input.
	defer d.closeIn()
	defer d.closeOut()
	if !d.open() {
		return 1
	}
	if st, ok := d.copy(); !ok {
		return st
	}
	return d.finish()
}

// ddOperands are dd's OPERAND=VALUE arguments.
type ddOperands struct {
	ibs, obs          uint64
	count, seek, skip uint64
	flags             int
	infile, outfile   string
	haveIn, haveOut   bool
}

// ddFlagWords are the words conv=, iflag=, oflag= and status= take, and
// the flags they set.
var ddFlagWords = map[string]struct {
	words []string
	bits  []int
}{
	"conv":   {[]string{"notrunc", "sync", "noerror", "fsync", "swab"}, []int{ddNotrunc, ddSync, ddNoerror, ddFsync, ddSwab}},
	"iflag":  {[]string{"skip_bytes", "count_bytes", "fullblock", "direct"}, []int{ddSkipBytes, ddCountBytes, ddFullblock, ddIDirect}},
	"oflag":  {[]string{"seek_bytes", "append", "direct"}, []int{ddSeekBytes, ddAppend, ddODirect}},
	"status": {[]string{"none", "noxfer"}, []int{ddStatusNone, ddStatusNoxfer}},
}

// ddParse parses the operands; ok=false means dd exits 1 (it printed why,
// or its usage).
func ddParse(p *userland.Proc) (op ddOperands, ok bool) {
	op.ibs, op.obs = 512, 512
	maxBS := uint64(math.MaxInt64)
	for _, arg := range p.Args[1:] {
		if arg == "--" {
			continue
		}
		key, val, ok := strings.Cut(arg, "=")
		if !ok {
			showUsage(p)
			return op, false
		}
		var err error
		switch key {
		case "bs":
			op.ibs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
			op.obs = op.ibs
		case "ibs":
			op.ibs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
		case "obs":
			op.obs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
		case "count":
			op.flags |= ddCount
			op.count, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "seek":
			op.seek, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "skip":
			op.skip, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "if":
			op.infile, op.haveIn = val, true
		case "of":
			op.outfile, op.haveOut = val, true
		case "conv", "iflag", "oflag", "status":
			w := ddFlagWords[key]
			f, ok := parseDDFlags(p, val, key, w.words, w.bits)
			if !ok {
				return op, false
			}
			op.flags |= f
		default:
			showUsage(p)
			return op, false
		}
		if err != nil {
			fmt.Fprintf(p.Stderr, "dd: %v\n", err)
			return op, false
		}
	}
	return op, true
}

// ddRun is one dd: its operands, its files and its record counts.
type ddRun struct {
	p *userland.Proc
	ddOperands
	in        io.Reader
	inFile    userland.File // nil: standard input
	out       io.Writer
	outFile   userland.File // nil: standard output
	outClosed bool

	inFull, inPart, outFull, outPart uint64
	totalIn                          uint64
}

// open opens the input and the output; false means dd exits 1.
func (d *ddRun) open() bool {
	p := d.p
	if d.haveIn {
		fl := userland.O_RDONLY
		if d.flags&ddIDirect != 0 {
			fl |= userland.O_DIRECT
		}
		f, err := p.OpenFile(d.infile, fl, 0)
		if err != nil {
			cantOpen(p, d.infile, err)
			return false
		}
		d.in, d.inFile = f, f
	} else {
		d.infile = "standard input"
	}
	if d.haveOut {
		fl := userland.O_WRONLY | userland.O_CREATE
		if d.seek == 0 && d.flags&ddNotrunc == 0 {
			fl |= userland.O_TRUNC
		}
		if d.flags&ddAppend != 0 {
			fl |= userland.O_APPEND
		}
		if d.flags&ddODirect != 0 {
			fl |= userland.O_DIRECT
		}
		f, err := p.OpenFile(d.outfile, fl, 0o666)
		if err != nil {
			cantOpen(p, d.outfile, err)
			return false
		}
		d.out, d.outFile = f, f
		if d.seek > 0 && d.flags&ddNotrunc == 0 {
			size := d.seek * d.obs
			if d.flags&ddSeekBytes != 0 {
				size = d.seek
			}
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				if err := p.FS.Truncate(p.Abs(d.outfile), int64(size)); err != nil {
					perror(p, err, "%s", d.outfile)
					return false
				}
			}
		}
	} else {
		d.outfile = "standard output"
	}
	// alloc_buf: buffers of a page or more are mmap()ed, hence page
	// aligned; smaller ones come from malloc and are not aligned enough for
	// O_DIRECT, whose first transfer then fails with EINVAL and makes dd
	// clear O_DIRECT (clear_O_DIRECT).
	if ds, ok := d.inFile.(userland.DirectSetter); ok && d.flags&ddIDirect != 0 && d.ibs < userland.PageSize {
		ds.SetDirect(false)
	}
	if ds, ok := d.outFile.(userland.DirectSetter); ok && d.flags&ddODirect != 0 && d.obs < userland.PageSize {
		ds.SetDirect(false)
	}
	return true
}

func (d *ddRun) closeIn() {
	if d.inFile != nil {
		d.inFile.Close()
	}
}

// closeOut closes the output once.
func (d *ddRun) closeOut() error {
	if d.outFile == nil || d.outClosed {
		return nil
	}
	d.outClosed = true
	return d.outFile.Close()
}

// die is the way out after a failed system call. A signal that arrived
// while dd was in one (I/O to a block device waits uninterruptibly) kills
// it when the call returns, before it prints anything more: every way out
// after a call checks first.
func (d *ddRun) die(name string, err error) int {
	if d.p.Killed() {
		return d.p.KilledStatus()
	}
	perror(d.p, err, "%s", name)
	return 1
}

// read is one read of the input, retried without O_DIRECT when a direct
// read is refused (clear_O_DIRECT).
func (d *ddRun) read(buf []byte) (int, error) {
	full := d.flags&ddFullblock != 0
	n, err := ddRead(d.in, buf, full)
	if err != nil && n == 0 && errors.Is(linuxerr.Reduce(err), linuxerr.EINVAL) && d.flags&ddIDirect != 0 {
		if ds, ok := d.inFile.(userland.DirectSetter); ok {
			ds.SetDirect(false)
			n, err = ddRead(d.in, buf, full)
		}
	}
	return n, err
}

// write is write_and_stats; it reports whether to stop.
func (d *ddRun) write(buf []byte) bool {
	n, err := fullWrite(d.out, buf)
	if err != nil && n == 0 && errors.Is(linuxerr.Reduce(err), linuxerr.EINVAL) && d.flags&ddODirect != 0 {
		if ds, ok := d.outFile.(userland.DirectSetter); ok { // clear_O_DIRECT
			ds.SetDirect(false)
			n, err = fullWrite(d.out, buf)
		}
	}
	if d.p.Killed() {
		return true
	}
	switch {
	case uint64(n) == d.obs:
		d.outFull++
		return false
	case n == len(buf):
		d.outPart++
		return false
	}
	fmt.Fprintf(d.p.Stderr, "dd: error writing '%s': %s\n", d.outfile, linuxerr.Strerror(err))
	return true
}

// position skips the input (by seeking, or by reading when the input
// cannot seek) and seeks the output.
func (d *ddRun) position(ibuf []byte) (st int, ok bool) {
	if d.skip > 0 {
		blocksz := d.ibs
		if d.flags&ddSkipBytes != 0 {
			blocksz = 1
		}
		seeked := false
		if d.inFile != nil {
			if _, err := d.inFile.Seek(int64(d.skip*blocksz), io.SeekCurrent); err == nil {
				seeked = true
			}
		}
		if !seeked {
			for skip := d.skip; skip > 0; skip-- {
				n, err := ddRead(d.in, ibuf[:blocksz], d.flags&ddFullblock != 0)
				if err != nil {
					return d.die(d.infile, err), false
				}
				if n == 0 {
					break
				}
			}
		}
	}
	if d.seek > 0 {
		off := d.seek * d.obs
		if d.flags&ddSeekBytes != 0 {
			off = d.seek
		}
		if d.outFile == nil {
			return d.die(d.outfile, linuxerr.ESPIPE), false
		}
		if _, err := d.outFile.Seek(int64(off), io.SeekCurrent); err != nil {
			return d.die(d.outfile, err), false
		}
	}
	return 0, true
}

// copy copies count input blocks (or all of the input) to the output in
// output blocks; ok=false means dd exits with st.
func (d *ddRun) copy() (st int, ok bool) {
	p := d.p
	ibuf := make([]byte, d.ibs)
	if st, ok := d.position(ibuf); !ok {
		return st, false
	}
	obuf := make([]byte, 0, d.obs)
	twoBufs := d.ibs != d.obs
	for {
		if p.Killed() {
			return p.KilledStatus(), false // the process dies: no records lines; its files are closed
		}
		want := d.ibs
		if d.flags&ddCount != 0 {
			if d.flags&ddCountBytes != 0 {
				if d.totalIn >= d.count {
					break
				}
				want = min(d.ibs, d.count-d.totalIn)
			} else if d.inFull+d.inPart == d.count {
				break
			}
		}
		if d.flags&ddNoerror != 0 {
			clear(ibuf)
		}
		n, err := d.read(ibuf[:want])
		if p.Killed() { // what the read got is never written
			return p.KilledStatus(), false
		}
		if err != nil && n == 0 {
			if d.flags&ddNoerror == 0 {
				return d.die(d.infile, err), false
			}
			perror(p, err, "%s", d.infile)
			if d.inFile != nil {
				d.inFile.Seek(int64(d.ibs), io.SeekCurrent)
			}
			n = 0
		} else if n == 0 {
			break
		}
		d.totalIn += uint64(n)
		if d.flags&ddSwab != 0 {
			for i := 0; i+1 < n; i += 2 {
				ibuf[i], ibuf[i+1] = ibuf[i+1], ibuf[i]
			}
		}
		if uint64(n) == d.ibs {
			d.inFull++
		} else {
			d.inPart++
			if d.flags&ddSync != 0 {
				clear(ibuf[n:])
				n = int(d.ibs)
			}
		}
		data := ibuf[:n]
		if twoBufs {
			for len(data) > 0 {
				k := min(len(data), int(d.obs)-len(obuf))
				obuf = append(obuf, data[:k]...)
				data = data[k:]
				if len(obuf) == int(d.obs) {
					if d.write(obuf) {
						return d.stop(), false
					}
					obuf = obuf[:0]
				}
			}
		} else if d.write(data) {
			return d.stop(), false
		}
	}
	if d.flags&ddFsync != 0 {
		if s, ok := d.outFile.(userland.Syncer); ok {
			if err := s.Sync(); err != nil {
				return d.die(d.outfile, err), false
			}
		}
	}
	if len(obuf) > 0 && d.write(obuf) {
		return d.stop(), false
	}
	return 0, true
}

// report prints the records lines ("IN+PARTIAL records in", "... out")
// unless status=none.
func (d *ddRun) report() {
	if d.flags&ddStatusNone == 0 {
		fmt.Fprintf(d.p.Stderr, "%d+%d records in\n%d+%d records out\n", d.inFull, d.inPart, d.outFull, d.outPart)
	}
}

// stop is the way out after a failed write: the records lines, unless the
// process was killed.
func (d *ddRun) stop() int {
	if d.p.Killed() {
		return d.p.KilledStatus()
	}
	d.report()
	return 1
}

// finish closes the output and reports.
func (d *ddRun) finish() int {
	if err := d.closeOut(); err != nil {
		return d.die(d.outfile, err)
	}
	if d.p.Killed() { // the last close of a device waits for its write-back
		return d.p.KilledStatus()
	}
	d.report()
	return 0
}

// ddRead is one read(2), or full_read with iflag=fullblock.
func ddRead(r io.Reader, buf []byte, full bool) (int, error) {
	if !full {
		n, err := r.Read(buf)
		if err == io.EOF {
			err = nil
		}
		return n, err
	}
	total := 0
	for total < len(buf) {
		n, err := r.Read(buf[total:])
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n == 0 {
			return total, nil
		}
	}
	return total, nil
}

// fullWrite is busybox full_write: it writes everything or stops at the
// first error, returning what was written and that error.
func fullWrite(w io.Writer, buf []byte) (int, error) {
	total := 0
	for total < len(buf) {
		n, err := w.Write(buf[total:])
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}
