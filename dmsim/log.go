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
}

// Printk appends one line at the given level.
func (l *KernelLog) Printk(level int, format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, LogLine{Level: level, Text: fmt.Sprintf(format, args...)})
	l.mu.Unlock()
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
