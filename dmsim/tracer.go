package dmsim

import (
	"io"

	"github.com/dmsim/dmsim/biolog"
)

// The bio tracer: a disk's bio log (DiskSpec.BioLog) written in the
// dm-log-writes format (package biolog), the format qemu's blklogwrites
// writes for the real kernel's disks under the recorder, so that one
// decoder reads both and their durable images can be compared.

// BioLogEntries converts bio records to log entries in 512-byte sectors,
// as dm-log-writes would log the bios had it sat right above the disk:
// writes with their data, discards, empty flushes as flush entries (a
// write with REQ_PREFLUSH is a flush entry followed by the write, which is
// how device-mapper splits such a bio), FUA as a flag. Reads are dropped.
func BioLogEntries(recs []BioRecord) []biolog.Entry {
	var out []biolog.Entry
	for i := range recs {
		r := &recs[i]
		var e biolog.Entry
		switch r.Op {
		case OpRead:
			continue
		case OpFlush:
			out = append(out, biolog.Entry{Flags: biolog.FlagFlush})
			continue
		case OpDiscard:
			e = biolog.Entry{Sector: r.Sector, NrSectors: r.Sectors, Flags: biolog.FlagDiscard}
		case OpWrite:
			e = biolog.Entry{Sector: r.Sector, NrSectors: r.Sectors, Data: r.data}
		}
		if r.Flags&ReqPreflush != 0 {
			out = append(out, biolog.Entry{Flags: biolog.FlagFlush})
		}
		if r.Flags&ReqFUA != 0 {
			e.Flags |= biolog.FlagFUA
		}
		out = append(out, e)
	}
	return out
}

// WriteBioLog writes bio records as a dm-log-writes log onto w: the
// entries from the log's second sector on, then the superblock (fstests'
// replay-log reads it).
func WriteBioLog(w io.WriterAt, recs []BioRecord) error {
	lw, err := biolog.NewWriter(w, SectorSize)
	if err != nil {
		return err
	}
	entries := BioLogEntries(recs)
	for i := range entries {
		if err := lw.Append(&entries[i]); err != nil {
			return err
		}
	}
	return lw.WriteSuper()
}
