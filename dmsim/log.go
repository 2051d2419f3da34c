package dmsim

import (
	"fmt"
	"sync"
)

// printk levels.
const (
	KernEmerg   = 0
	KernAlert   = 1
	KernCrit    = 2
	KernErr     = 3
	KernWarning = 4
	KernNotice  = 5
	KernInfo    = 6
	KernDebug   = 7
)

// LogLine is one kernel log record, as `dmesg -r` prints it: "<Level>Text".
type LogLine struct {
	Level int
	Text  string
}

func (l LogLine) String() string { return fmt.Sprintf("<%d>%s", l.Level, l.Text) }

// KernelLog is the kernel ring buffer.
type KernelLog struct {
	mu    sync.Mutex
	lines []LogLine // guarded by mu
	// open is a record whose text was cut before its newline: the ring
	// buffer keeps it unfinalized, so readers do not see it until the next
	// record finalizes it (desc_make_final() in prb_reserve()).
	open *LogLine // guarded by mu
}

// logTextMax is how much text one printk record keeps: vprintk_store()
// formats into LOG_LINE_MAX (1024 - PREFIX_MAX 32) bytes with the NUL and
// the two-byte level header, which printk_sprint() then strips.
const logTextMax = 1024 - 32 - 1 - 2

// Printk appends one line at the given level. A text too long for a record
// is cut, loses its newline and stays invisible until the next Printk.
func (l *KernelLog) Printk(level int, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open != nil {
		l.lines = append(l.lines, *l.open)
		l.open = nil
	}
	if len(text) >= logTextMax {
		l.open = &LogLine{Level: level, Text: text[:logTextMax]}
		return
	}
	l.lines = append(l.lines, LogLine{Level: level, Text: text})
}

// DMErr, DMWarn and DMInfo print "device-mapper: <prefix>: text" as the
// kernel's DMERR/DMWARN/DMINFO macros do (DM_FMT).
func (l *KernelLog) DMErr(prefix, format string, args ...any) {
	l.Printk(KernErr, "device-mapper: "+prefix+": "+format, args...)
}

func (l *KernelLog) DMWarn(prefix, format string, args ...any) {
	l.Printk(KernWarning, "device-mapper: "+prefix+": "+format, args...)
}

func (l *KernelLog) DMInfo(prefix, format string, args ...any) {
	l.Printk(KernInfo, "device-mapper: "+prefix+": "+format, args...)
}

// Read returns the buffered lines; ReadClear also empties the buffer (dmesg -c).
func (l *KernelLog) Read() []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LogLine(nil), l.lines...)
}

func (l *KernelLog) ReadClear() []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// Clear empties the buffer.
func (l *KernelLog) Clear() { l.ReadClear() }
