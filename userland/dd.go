package userland

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

func init() {
	register("dd", "copy a file with converting and formatting (busybox)", dd,
		"if=", "of=", "bs=", "ibs=", "obs=", "count=", "skip=", "seek=", "conv=", "iflag=", "oflag=", "status=")
}

// DirectSetter is implemented by files whose O_DIRECT flag can be turned
// off (fcntl F_SETFL), as busybox dd does when a direct transfer is refused.
type DirectSetter interface{ SetDirect(bool) }

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

func parseDDFlags(p *Proc, val, what string, words []string, bits []int) (int, bool) {
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

// dd is busybox 1.35 dd.
func dd(p *Proc) int {
	if st, ok := helpRequested(p); ok {
		return st
	}
	var (
		ibs, obs          uint64 = 512, 512
		count, seek, skip uint64
		flags             int
		infile, outfile   string
		haveIn, haveOut   bool
	)
	maxBS := uint64(math.MaxInt64)
	for _, arg := range p.Args[1:] {
		if arg == "--" {
			continue
		}
		key, val, ok := strings.Cut(arg, "=")
		if !ok {
			return showUsage(p)
		}
		var err error
		switch key {
		case "bs":
			ibs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
			obs = ibs
		case "ibs":
			ibs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
		case "obs":
			obs, err = parseNumber(val, cwbkMGSuffixes, 1, maxBS)
		case "count":
			flags |= ddCount
			count, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "seek":
			seek, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "skip":
			skip, err = parseNumber(val, cwbkMGSuffixes, 0, math.MaxUint64)
		case "if":
			infile, haveIn = val, true
		case "of":
			outfile, haveOut = val, true
		case "conv":
			f, ok := parseDDFlags(p, val, "conv", []string{"notrunc", "sync", "noerror", "fsync", "swab"},
				[]int{ddNotrunc, ddSync, ddNoerror, ddFsync, ddSwab})
			if !ok {
				return 1
			}
			flags |= f
		case "iflag":
			f, ok := parseDDFlags(p, val, "iflag", []string{"skip_bytes", "count_bytes", "fullblock", "direct"},
				[]int{ddSkipBytes, ddCountBytes, ddFullblock, ddIDirect})
			if !ok {
				return 1
			}
			flags |= f
		case "oflag":
			f, ok := parseDDFlags(p, val, "oflag", []string{"seek_bytes", "append", "direct"},
				[]int{ddSeekBytes, ddAppend, ddODirect})
			if !ok {
				return 1
			}
			flags |= f
		case "status":
			f, ok := parseDDFlags(p, val, "status", []string{"none", "noxfer"},
				[]int{ddStatusNone, ddStatusNoxfer})
			if !ok {
				return 1
			}
			flags |= f
		default:
			return showUsage(p)
		}
		if err != nil {
			fmt.Fprintf(p.Stderr, "dd: %v\n", err)
			return 1
		}
	}

	var in io.Reader = p.Stdin
	var inFile File
	if haveIn {
		fl := O_RDONLY
		if flags&ddIDirect != 0 {
			fl |= O_DIRECT
		}
		f, err := p.OpenFile(infile, fl, 0)
		if err != nil {
			cantOpen(p, infile, err)
			return 1
		}
		defer f.Close()
		in, inFile = f, f
	} else {
		infile = "standard input"
	}
	var out io.Writer = p.Stdout
	var outFile File
	outClosed := false
	// closeOut closes the output once; the deferred call covers every
	// way out, a killed dd's too (the kernel closes a dying process's
	// files, and the last close of a block device writes it back).
	closeOut := func() error {
		if outFile == nil || outClosed {
			return nil
		}
		outClosed = true
		return outFile.Close()
	}
	defer closeOut()
	if haveOut {
		fl := O_WRONLY | O_CREATE
		if seek == 0 && flags&ddNotrunc == 0 {
			fl |= O_TRUNC
		}
		if flags&ddAppend != 0 {
			fl |= O_APPEND
		}
		if flags&ddODirect != 0 {
			fl |= O_DIRECT
		}
		f, err := p.OpenFile(outfile, fl, 0o666)
		if err != nil {
			cantOpen(p, outfile, err)
			return 1
		}
		out, outFile = f, f
		if seek > 0 && flags&ddNotrunc == 0 {
			size := seek * obs
			if flags&ddSeekBytes != 0 {
				size = seek
			}
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				if err := p.FS.Truncate(p.Abs(outfile), int64(size)); err != nil {
					perror(p, err, "%s", outfile)
					return 1
				}
			}
		}
	} else {
		outfile = "standard output"
	}

	// A signal that arrived while dd was in a system call (I/O to a block
	// device waits uninterruptibly) kills it when the call returns, before
	// it prints anything more: every way out after a call checks first.
	die := func(name string, err error) int {
		if p.Killed() {
			return p.KilledStatus()
		}
		perror(p, err, "%s", name)
		return 1
	}

	// alloc_buf: buffers of a page or more are mmap()ed, hence page
	// aligned; smaller ones come from malloc and are not aligned enough for
	// O_DIRECT, whose first transfer then fails with EINVAL and makes dd
	// clear O_DIRECT (clear_O_DIRECT).
	if ds, ok := inFile.(DirectSetter); ok && flags&ddIDirect != 0 && ibs < pageSize {
		ds.SetDirect(false)
	}
	if ds, ok := outFile.(DirectSetter); ok && flags&ddODirect != 0 && obs < pageSize {
		ds.SetDirect(false)
	}
	ibuf := make([]byte, ibs)
	if skip > 0 {
		blocksz := ibs
		if flags&ddSkipBytes != 0 {
			blocksz = 1
		}
		seeked := false
		if inFile != nil {
			if _, err := inFile.Seek(int64(skip*blocksz), io.SeekCurrent); err == nil {
				seeked = true
			}
		}
		if !seeked {
			for ; skip > 0; skip-- {
				n, err := ddRead(in, ibuf[:blocksz], flags&ddFullblock != 0)
				if err != nil {
					return die(infile, err)
				}
				if n == 0 {
					break
				}
			}
		}
	}
	if seek > 0 {
		off := seek * obs
		if flags&ddSeekBytes != 0 {
			off = seek
		}
		if outFile == nil {
			return die(outfile, linuxerr.ESPIPE)
		}
		if _, err := outFile.Seek(int64(off), io.SeekCurrent); err != nil {
			return die(outfile, err)
		}
	}

	var inFull, inPart, outFull, outPart uint64
	var totalIn uint64
	status := func() {
		if flags&ddStatusNone == 0 {
			fmt.Fprintf(p.Stderr, "%d+%d records in\n%d+%d records out\n", inFull, inPart, outFull, outPart)
		}
	}
	// stop is the way out after a failed write: the status lines, unless
	// the process was killed.
	stop := func() int {
		if p.Killed() {
			return p.KilledStatus()
		}
		status()
		return 1
	}
	// write is write_and_stats; it reports whether to stop.
	write := func(buf []byte) bool {
		n, err := fullWrite(out, buf)
		if err != nil && n == 0 && errors.Is(linuxerr.Reduce(err), linuxerr.EINVAL) && flags&ddODirect != 0 {
			if ds, ok := outFile.(DirectSetter); ok { // clear_O_DIRECT
				ds.SetDirect(false)
				n, err = fullWrite(out, buf)
			}
		}
		if p.Killed() {
			return true
		}
		switch {
		case uint64(n) == obs:
			outFull++
			return false
		case n == len(buf):
			outPart++
			return false
		}
		fmt.Fprintf(p.Stderr, "dd: error writing '%s': %s\n", outfile, linuxerr.Strerror(err))
		return true
	}
	obuf := make([]byte, 0, obs)
	twoBufs := ibs != obs
	for {
		if p.Killed() {
			return p.KilledStatus() // the process dies: no status lines; its files are closed
		}
		want := ibs
		if flags&ddCount != 0 {
			if flags&ddCountBytes != 0 {
				if totalIn >= count {
					break
				}
				want = min(ibs, count-totalIn)
			} else if inFull+inPart == count {
				break
			}
		}
		if flags&ddNoerror != 0 {
			clear(ibuf)
		}
		n, err := ddRead(in, ibuf[:want], flags&ddFullblock != 0)
		if err != nil && n == 0 && errors.Is(linuxerr.Reduce(err), linuxerr.EINVAL) && flags&ddIDirect != 0 {
			if ds, ok := inFile.(DirectSetter); ok {
				ds.SetDirect(false)
				n, err = ddRead(in, ibuf[:want], flags&ddFullblock != 0)
			}
		}
		if p.Killed() { // what the read got is never written
			return p.KilledStatus()
		}
		if err != nil && n == 0 {
			if flags&ddNoerror == 0 {
				return die(infile, err)
			}
			perror(p, err, "%s", infile)
			if inFile != nil {
				inFile.Seek(int64(ibs), io.SeekCurrent)
			}
			n = 0
		} else if n == 0 {
			break
		}
		totalIn += uint64(n)
		if flags&ddSwab != 0 {
			for i := 0; i+1 < n; i += 2 {
				ibuf[i], ibuf[i+1] = ibuf[i+1], ibuf[i]
			}
		}
		if uint64(n) == ibs {
			inFull++
		} else {
			inPart++
			if flags&ddSync != 0 {
				clear(ibuf[n:])
				n = int(ibs)
			}
		}
		data := ibuf[:n]
		if twoBufs {
			for len(data) > 0 {
				d := min(len(data), int(obs)-len(obuf))
				obuf = append(obuf, data[:d]...)
				data = data[d:]
				if len(obuf) == int(obs) {
					if write(obuf) {
						return stop()
					}
					obuf = obuf[:0]
				}
			}
		} else if write(data) {
			return stop()
		}
	}
	if flags&ddFsync != 0 {
		if s, ok := outFile.(Syncer); ok {
			if err := s.Sync(); err != nil {
				return die(outfile, err)
			}
		}
	}
	if len(obuf) > 0 {
		if write(obuf) {
			return stop()
		}
	}
	if err := closeOut(); err != nil {
		return die(outfile, err)
	}
	if p.Killed() { // the last close of a device waits for its write-back
		return p.KilledStatus()
	}
	status()
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
