package logwrites_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/linear"
	_ "github.com/dmsim/dmsim/targets/logwrites"
)

// bdevReader reads a block device through bios (io.ReaderAt).
type bdevReader struct {
	m   *Env
	dev dmsim.BlockDevice
}

func (r bdevReader) ReadAt(p []byte, off int64) (int, error) {
	// Whole sectors around the request.
	lo := off / 512 * 512
	hi := (off + int64(len(p)) + 511) / 512 * 512
	if hi > int64(r.dev.Size())*512 {
		return 0, io.EOF
	}
	buf := make([]byte, hi-lo)
	if err := r.m.IO(dmsim.OpRead, r.dev, uint64(lo/512), buf); err != nil {
		return 0, err
	}
	return copy(p, buf[off-lo:]), nil
}

// readLog decodes the log device /dev/vdb.
func readLog(t *testing.T, m *Env) (biolog.Super, []biolog.Entry) {
	t.Helper()
	dev := m.Bdev("/dev/vdb")
	s, entries, err := biolog.Read(bdevReader{m, dev}, int64(dev.Size())*512)
	if err != nil {
		t.Fatal(err)
	}
	return s, entries
}

func entryStrings(entries []biolog.Entry) string {
	var out []string
	for i := range entries {
		out = append(out, entries[i].String())
	}
	return strings.Join(out, " ")
}

func fua(m *Env, sector uint64, data []byte) error {
	bio := dmsim.NewBio(dmsim.OpWrite, m.Bdev("/dev/mapper/lw"), sector, data, nil)
	bio.Flags = dmsim.ReqFUA
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

// TestOrdering checks the log's order against log_writes_map() and
// normal_end_io(): writes wait for a flush, FUA writes and marks do not,
// the destructor logs what is left and then its end mark. Each step is
// W (4 KiB write at the sector), F (flush), U (FUA write), D (discard of
// 8 sectors), M (mark); "status" is the INFO line after the steps, "log"
// the log after remove, "super" the superblock's entry count before it.
func TestOrdering(t *testing.T) {
	tests := []struct {
		name   string
		steps  []string
		status string
		super  uint64 // before remove; 0: never written
		log    string
	}{
		{"nothing", nil, "0 0", 0, "M(dm-log-writes-end)"},
		{"write waits for a flush", []string{"W0"}, "0 0", 0, "W0+8 M(dm-log-writes-end)"},
		{"flush logs the writes before it", []string{"W8", "W0", "F"}, "3 19", 0, "W8+8 W0+8 F M(dm-log-writes-end)"},
		{"empty flush", []string{"F", "F"}, "2 2", 0, "F F M(dm-log-writes-end)"},
		{"FUA does not wait", []string{"W0", "U16"}, "1 9", 1, "W16+8 FUA W0+8 M(dm-log-writes-end)"},
		{"mark goes before unflushed writes", []string{"W0", "Mx", "F"}, "3 11", 1, "M(x) W0+8 F M(dm-log-writes-end)"},
		{"discard is logged like a write", []string{"W0", "D0", "F"}, "3 11", 0, "W0+8 D0+8 F M(dm-log-writes-end)"},
		{"reads are not logged", []string{"R0", "F"}, "1 1", 0, "F M(dm-log-writes-end)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Boot(t, 1<<20, 1<<20)
			m.MustCreate("lw", Spec(0, 2048, "log-writes", "/dev/vda /dev/vdb"))
			for _, st := range tt.steps {
				var err error
				n := uint64(0)
				if len(st) > 1 && st[0] != 'M' {
					n = uint64(atoi(t, st[1:]))
				}
				switch st[0] {
				case 'W':
					err = m.IO(dmsim.OpWrite, m.Bdev("/dev/mapper/lw"), n, Pattern('w', 4096))
				case 'U':
					err = fua(m, n, Pattern('u', 4096))
				case 'R':
					err = m.IO(dmsim.OpRead, m.Bdev("/dev/mapper/lw"), n, make([]byte, 4096))
				case 'F':
					err = m.Flush("/dev/mapper/lw")
				case 'D':
					err = m.Discard("/dev/mapper/lw", n, 8)
				case 'M':
					err = m.Message("lw", "mark "+st[1:])
				}
				if err != nil {
					t.Fatalf("%s: %v", st, err)
				}
			}
			if got := m.Params("lw", dmsim.StatusInfo, false); got != tt.status {
				t.Errorf("status %q, want %q", got, tt.status)
			}
			s, err := biolog.ReadSuper(bdevReader{m, m.Bdev("/dev/vdb")})
			switch {
			case tt.super == 0 && err == nil:
				t.Errorf("superblock written (%d entries), want none yet", s.NrEntries)
			case tt.super != 0 && (err != nil || s.NrEntries != tt.super):
				t.Errorf("superblock %+v %v, want %d entries", s, err, tt.super)
			}
			if err := m.Remove("lw"); err != nil {
				t.Fatal(err)
			}
			s, entries := readLog(t, m)
			if got := entryStrings(entries); got != tt.log {
				t.Errorf("log %q, want %q", got, tt.log)
			}
			if s.NrEntries != uint64(len(entries)) || s.SectorSize != 512 {
				t.Errorf("superblock %+v", s)
			}
			for i := range entries {
				if e := &entries[i]; !e.IsDiscard() && e.NrSectors > 0 {
					want := Pattern('w', 4096)
					if e.IsFUA() {
						want = Pattern('u', 4096)
					}
					if !bytes.Equal(e.Data, want) {
						t.Errorf("entry %d: data differs", i)
					}
				}
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestLogFull: an entry that would reach the log device's last sector
// disables logging (log_writes_kthread()'s "Ran out of space").
func TestLogFull(t *testing.T) {
	m := Boot(t, 1<<20, 16*512)
	m.MustCreate("lw", Spec(0, 2048, "log-writes", "/dev/vda /dev/vdb"))
	m.Log()
	m.Write("/dev/mapper/lw", 0, Pattern('a', 4096)) // 9 sectors: 1..9
	m.Write("/dev/mapper/lw", 8, Pattern('b', 4096)) // 10..18: past the end
	if err := m.Flush("/dev/mapper/lw"); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog("<3>device-mapper: log-writes: Ran out of space on the logdev")
	if got, want := m.Params("lw", dmsim.StatusInfo, false), "1 18 logging_disabled"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
	// Once disabled, nothing more is logged, the end mark neither.
	m.Write("/dev/mapper/lw", 16, Pattern('c', 512))
	if err := m.Remove("lw"); err != nil {
		t.Fatal(err)
	}
	if _, err := biolog.ReadSuper(bdevReader{m, m.Bdev("/dev/vdb")}); err == nil {
		t.Error("superblock written")
	}
}

// TestLogWriteError: a failed log write disables logging and prints the
// blk_status_t (log_end_io()).
func TestLogWriteError(t *testing.T) {
	m := Boot(t, 1<<20, 1<<20)
	m.Faults("/dev/vdb").Add(dmsim.Fault{Ops: dmsim.FaultWrite})
	m.MustCreate("lw", Spec(0, 2048, "log-writes", "/dev/vda /dev/vdb"))
	m.Log()
	if err := m.Message("lw", "mark a"); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog(
		"<3>device-mapper: log-writes: Error writing log block, error=10",
		"<3>device-mapper: log-writes: Error writing log block, error=10",
	)
	if got, want := m.Params("lw", dmsim.StatusInfo, false), "1 1 logging_disabled"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
	// The data device is unaffected.
	m.Write("/dev/mapper/lw", 0, Pattern('a', 512))
	if got := m.Read("/dev/vda", 0, 512); !bytes.Equal(got, Pattern('a', 512)) {
		t.Error("write lost")
	}
	if err := m.Remove("lw"); err != nil {
		t.Fatal(err)
	}
}

// TestCtrErrors covers log_writes_ctr()'s errors and log_writes_message()'s.
func TestCtrErrors(t *testing.T) {
	m := Boot(t, 1<<20, 1<<20)
	for _, tt := range []struct {
		params, text string
		err          linuxerr.Errno
	}{
		{"", "Invalid argument count", linuxerr.EINVAL},
		{"/dev/vda", "Invalid argument count", linuxerr.EINVAL},
		{"/dev/nope /dev/vdb", "Device lookup failed", linuxerr.ENODEV},
		{"/dev/vda /dev/nope", "Log device lookup failed", linuxerr.ENODEV},
	} {
		text, err := m.CtrError(func() error {
			_, err := m.Create("lw", Spec(0, 2048, "log-writes", tt.params))
			return err
		})
		if text != tt.text || linuxerr.ToErrno(err) != tt.err {
			t.Errorf("%q: %q %v, want %q %v", tt.params, text, err, tt.text, tt.err)
		}
	}
	m.MustCreate("lw", Spec(0, 2048, "log-writes", "/dev/vda /dev/vdb ignored"))
	m.Log()
	for _, tt := range []struct{ msg, log string }{
		{"mark", "<4>device-mapper: log-writes: Invalid log-writes message arguments, expect 2 arguments, got 1"},
		{"mark a b", "<4>device-mapper: log-writes: Invalid log-writes message arguments, expect 2 arguments, got 3"},
		{"Unmark a", "<4>device-mapper: log-writes: Unrecognised log writes target message received: Unmark"},
	} {
		if err := m.Message("lw", tt.msg); linuxerr.ToErrno(err) != linuxerr.EINVAL {
			t.Errorf("%q: %v", tt.msg, err)
		}
		m.ExpectLog(tt.log)
	}
	if got, want := m.Params("lw", dmsim.StatusTable, false), "254:0 254:16"; got != want {
		t.Errorf("table %q, want %q", got, want)
	}
}
