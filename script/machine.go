package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/sim"
	"github.com/dmsim/dmsim/userland"
)

// BootModules are the modules the recording kernel loads at boot.
var BootModules = []string{"dm_thin_pool"}

// DefaultCommandTime is the virtual time every command line costs: the
// runner sleeps this long in virtual time before it runs the line.
//
// The recorder's guest (qemu TCG) takes real time to run each command and
// to report it, a few hundred milliseconds, so timers such as the thin
// pool's periodic commit (every second) fire between some commands, and
// which commands they fall between decides, for example, where the pool
// puts metadata blocks (the held metadata snapshot's root). A fixed cost
// per line reproduces the kernel's transcripts deterministically. The
// value was chosen by replaying every golden scenario at costs from 0 to
// 1 s (TestCommandTimeSweep; the table is in README.md, "Virtual time"):
// every cost from 105 to 585 ms gives the same result, the widest such
// range, in which every scenario the recorder recorded matches, and
// 350 ms is about its middle. (The older kernel-example fixture, recorded
// at another pace, matches too only in windows 15-25 ms wide.)
const DefaultCommandTime = 350 * time.Millisecond

// DefaultMaxStall is how long, in wall time, a command line may run
// without making progress in the simulation before the stall guard stops
// it (Machine.MaxStall).
const DefaultMaxStall = 10 * time.Second

// Machine is an emulated machine: a booted kernel with its disks and a
// shell to run command lines in. It is what a script runs in (across its
// reboots), what the REPL drives, and the entry point for Go programs and
// tests (NewMachine). A Machine runs one line at a time; it may be used
// from any goroutine, but not from two at once.
type Machine struct {
	// Kernel and FS are the running kernel and the file system its
	// processes see; Reboot replaces them.
	Kernel *dmsim.Kernel
	FS     *userland.SimFS

	// CommandTime is the virtual time each line costs (Run, Exec and
	// RunLine sleep that long before they run it); 0 charges nothing.
	CommandTime time.Duration

	// MaxStall is the stall guard's limit: a line during which the
	// simulation makes no progress (sim.Clock.Progress: no timer fires,
	// no kernel call, and time moves only by CPU charges with nothing
	// ahead to reach, as in `while true; do :; done`) for that long in
	// wall time is stopped (its processes are killed, the shell stops) and
	// reported as a *StallError. 0 switches the guard off.
	MaxStall time.Duration
	// Wall is the wall clock the stall guard reads (sim.HostWall if nil).
	Wall sim.Wall

	specs  []dmsim.DiskSpec
	names  []string // disk names for the DISK_ variables (NewMachine)
	env    []string // extra environment
	images map[string]string
	tmp    string // temporary image directory Close removes
	// scratchIn is where the shell's scratch files go ("": the default
	// temporary directory).
	scratchIn string
	halted    bool
	sh        *shell
	// cancels end the contexts of the lines run so far (Close)
	cancels []context.CancelFunc
}

// Disk is one virtio disk of a machine NewMachine boots: a new
// zero-filled image of Size bytes, or an existing image file used in place.
type Disk struct {
	// Name is the disk's name: the shell has $DISK_NAME=/dev/vdX, and a new
	// image is NAME.img.
	Name string
	// Size in bytes of a new image. For an existing Image, 0 means the
	// file's size (a larger size extends the file).
	Size int64
	// Image is an existing image file to attach (not zeroed).
	Image string
	// NoDiscard makes the disk refuse discards (qemu's discard=ignore).
	NoDiscard bool
	// Faults, if set, is the disk's fault injector (dmsim.DiskSpec.Faults);
	// it stays with the disk across reboots.
	Faults *dmsim.Faults
}

// Config describes a machine for NewMachine.
type Config struct {
	// Disks are the virtio disks in order: /dev/vda, /dev/vdb, ...
	Disks []Disk
	// Dir keeps the new images there as NAME.img; "" puts them in a
	// temporary directory Close removes.
	Dir string
	// CommandTime is the virtual time each command line costs:
	// DefaultCommandTime if 0, nothing if negative.
	CommandTime time.Duration
	// MaxStall is Machine.MaxStall: DefaultMaxStall if 0, no guard if
	// negative.
	MaxStall time.Duration
	// Wall is Machine.Wall.
	Wall sim.Wall
	// Env is extra environment for the shell (NAME=VALUE).
	Env []string
	// BioLog makes every disk keep a bio log (dmsim.DiskSpec.BioLog; see
	// Machine.BioLogs).
	BioLog bool
}

// commandTime is the per-line cost the configuration asks for.
func (c Config) commandTime() time.Duration {
	switch {
	case c.CommandTime == 0:
		return DefaultCommandTime
	case c.CommandTime < 0:
		return 0
	}
	return c.CommandTime
}

// maxStall is the stall guard's limit the configuration asks for.
func (c Config) maxStall() time.Duration {
	switch {
	case c.MaxStall == 0:
		return DefaultMaxStall
	case c.MaxStall < 0:
		return 0
	}
	return c.MaxStall
}

// NewMachine makes the disks' images and boots a machine on them as the
// recorder's guest boots (dm_thin_pool loaded, udev disabled, an empty
// kernel log), with a shell in /tmp. Close it when done.
func NewMachine(cfg Config) (*Machine, error) {
	m := &Machine{CommandTime: cfg.commandTime(), MaxStall: cfg.maxStall(), Wall: cfg.Wall, env: cfg.Env,
		images: map[string]string{}}
	dir := cfg.Dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range cfg.Disks {
		if d.Name == "" || m.images[d.Name] != "" {
			m.removeImages()
			return nil, fmt.Errorf("disk name %q: empty or given twice", d.Name)
		}
		p, size, err := m.image(d, &dir)
		if err != nil {
			m.removeImages()
			return nil, err
		}
		m.images[d.Name] = p
		m.names = append(m.names, d.Name)
		m.specs = append(m.specs, dmsim.DiskSpec{Path: p, Size: size, NoDiscard: d.NoDiscard, Faults: d.Faults, BioLog: cfg.BioLog})
	}
	if err := m.boot(); err != nil {
		m.removeImages()
		return nil, err
	}
	return m, nil
}

// image returns the image file of d and its size, creating a new image in
// *dir (a temporary directory, made on first use, if *dir is "").
func (m *Machine) image(d Disk, dir *string) (string, int64, error) {
	if d.Image != "" {
		if d.Size != 0 {
			return d.Image, d.Size, nil
		}
		st, err := os.Stat(d.Image)
		if err != nil {
			return "", 0, err
		}
		return d.Image, st.Size(), nil
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "dmsim-images-")
		if err != nil {
			return "", 0, err
		}
		m.tmp, *dir = tmp, tmp
	}
	p := filepath.Join(*dir, d.Name+".img")
	os.Remove(p)
	f, err := os.Create(p)
	if err == nil {
		err = dmsim.TruncateImage(f, d.Size)
		f.Close()
	}
	return p, d.Size, err
}

// Boot boots a machine on existing disk images, with the extra environment
// (e.g. the DISK_ variables) in its shell; NewMachine makes the images too.
func Boot(disks []dmsim.DiskSpec, extraEnv []string) (*Machine, error) {
	m := &Machine{CommandTime: DefaultCommandTime, MaxStall: DefaultMaxStall, specs: disks, env: extraEnv}
	if err := m.boot(); err != nil {
		return nil, err
	}
	return m, nil
}

// BootIn is Boot with the shell's scratch files (the emulated /tmp, /dev,
// ...) in directory dir: a memory file system makes booting many short
// machines cheap (package crash boots one per crash state).
func BootIn(dir string, disks []dmsim.DiskSpec, extraEnv []string) (*Machine, error) {
	m := &Machine{CommandTime: DefaultCommandTime, MaxStall: DefaultMaxStall, specs: disks, env: extraEnv, scratchIn: dir}
	if err := m.boot(); err != nil {
		return nil, err
	}
	return m, nil
}

// boot boots a kernel and a shell on the machine's disks.
func (m *Machine) boot() error {
	sh, err := bootShell(m.specs, m.names, m.env, m.scratchIn)
	if err != nil {
		return err
	}
	m.sh, m.Kernel, m.FS, m.halted = sh, sh.kernel, sh.fs, false
	return nil
}

// Images maps the disks' names to their image files (NewMachine's disks).
func (m *Machine) Images() map[string]string {
	out := make(map[string]string, len(m.images))
	for n, p := range m.images {
		out[n] = p
	}
	return out
}

// BioLogs returns, by disk name, the bios each disk executed since the
// last boot (Config.BioLog; nil without it).
func (m *Machine) BioLogs() map[string][]dmsim.BioRecord {
	if m.Kernel == nil {
		return nil
	}
	out := map[string][]dmsim.BioRecord{}
	for i, d := range m.Kernel.Disks() {
		if i < len(m.names) {
			if l := d.BioLog(); l != nil {
				out[m.names[i]] = l
			}
		}
	}
	return out
}

// Result is what one command line did.
type Result struct {
	Stdout, Stderr []byte
	// Kmsg are the kernel log lines the line caused (`dmesg -c` after it).
	Kmsg []dmsim.LogLine
	// Status is the line's exit status.
	Status int
	// Stall is set when the stall guard stopped the line (MaxStall).
	Stall *StallError
}

// StallError is a command line the stall guard stopped.
type StallError struct {
	Line string
	// Num is the line's number in its script (0 if it has none).
	Num int
	// Stall is how long it ran without progress (Machine.MaxStall).
	Stall time.Duration
}

func (e *StallError) Error() string {
	at := ""
	if e.Num > 0 {
		at = fmt.Sprintf("line %d: ", e.Num)
	}
	return fmt.Sprintf("%s`%s` ran %v without letting time pass; stopped", at, e.Line, e.Stall)
}

// ExitError is the error Run returns for a line that exited with a
// non-zero status.
type ExitError struct {
	Line   string
	Status int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", e.Line, e.Status)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// ErrHalted is Run's error once the machine is halted or closed.
var ErrHalted = errors.New("script: the machine is halted")

// Run runs one command line as a script line runs: it costs CommandTime
// in virtual time, and background jobs it starts run until they block
// before it returns. The error is an *ExitError if the line exited with a
// non-zero status (the Result is filled all the same), ErrHalted once the
// machine is halted.
func (m *Machine) Run(line string) (Result, error) {
	if m.halted {
		return Result{}, ErrHalted
	}
	r := m.RunLine(context.Background(), line)
	if r.Stall != nil {
		return r, r.Stall
	}
	if r.Status != 0 {
		return r, &ExitError{Line: line, Status: r.Status, Stderr: string(r.Stderr)}
	}
	return r, nil
}

// RunLine runs one logical line and collects its output and the kernel log
// lines it caused. Background jobs it started are held until their line's
// kernel log is collected (the recorder reads the log right after each
// line), then run until they block; what they log goes with the next line.
func (m *Machine) RunLine(ctx context.Context, line string) Result {
	var out, errb lockedBuffer
	var st int
	release := func() {}
	stall, ended := m.guarded(ctx, line, func(ctx context.Context) {
		m.spendCommandTime(ctx)
		st, release = m.sh.exec(ctx, line, &out, &errb)
		m.settle(ctx)
	})
	if stall != nil {
		r := Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Status: 124, Stall: stall}
		if ended {
			r.Status = st
		}
		return r
	}
	kmsg := m.sh.kernel.Log.ReadClear()
	release()
	return Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Kmsg: kmsg, Status: st}
}

// Exec runs one logical line in the shell with the given output streams
// and returns its exit status. Background jobs it starts run before Exec
// returns, until they block. A line the stall guard stops gets the
// guard's message on stderr and status 124, as from `timeout`.
func (m *Machine) Exec(ctx context.Context, line string, stdout, stderr io.Writer) int {
	var st int
	release := func() {}
	if m.MaxStall > 0 { // a line left behind may still write
		stdout, stderr = &syncWriter{w: stdout}, &syncWriter{w: stderr}
	}
	stall, _ := m.guarded(ctx, line, func(ctx context.Context) {
		m.spendCommandTime(ctx)
		st, release = m.sh.exec(ctx, line, stdout, stderr)
	})
	if stall != nil {
		fmt.Fprintf(stderr, "dmsim: %v\n", stall)
		return 124
	}
	release()
	return st
}

// syncWriter serializes writes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// stallGrace is how long, in real time, the stall guard waits for a line
// it stopped to end before it powers the machine off.
const stallGrace = 5 * time.Second

// guarded runs a line, f, under the stall guard (MaxStall): if the
// simulation makes no progress for MaxStall of wall time, the line's
// context is cancelled, which kills its processes (at their next system
// call or wait) and stops the shell (at its next statement). A line that
// does not end even then is left behind (ended is false) and the machine
// halted.
func (m *Machine) guarded(ctx context.Context, line string, f func(context.Context)) (stall *StallError, ended bool) {
	if m.MaxStall <= 0 {
		f(ctx)
		return nil, true
	}
	wall := m.Wall
	if wall == nil {
		wall = sim.HostWall{}
	}
	// The line's context outlives it: its background jobs run on with it.
	lctx, cancel := context.WithCancel(ctx)
	m.cancels = append(m.cancels, cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(lctx)
	}()
	stalled := make(chan struct{})
	watch, unwatch := context.WithCancel(ctx)
	defer unwatch()
	go m.Kernel.Clock.WatchStall(watch, wall, m.MaxStall, func() { close(stalled) })
	select {
	case <-done:
		return nil, true
	case <-stalled:
	}
	cancel()
	stall = &StallError{Line: line, Stall: m.MaxStall}
	select {
	case <-done:
		return stall, true
	case <-time.After(stallGrace):
		m.Halt()
		return stall, false
	}
}

// settle lets the work the line queued in the kernel at this instant run
// before its log is read (a worker woken by a resume runs at once on Linux,
// before dmsetup has exited): the shell sleeps for no time, so the clock
// wakes it once no other actor can run. Background jobs wait at their gate
// without their tokens until the log is read.
func (m *Machine) settle(ctx context.Context) {
	m.sh.kernel.Clock.Sleep(ctx, 0) // fails only when halted or cancelled
}

// spendCommandTime is the cost of a line: the shell sleeps CommandTime in
// virtual time. It sleeps as a clock actor, so time passes only once every
// other actor (a background job, a queued work item) waits, and the timers
// due meanwhile (the pool's periodic commit) fire in order. With no cost it
// still waits until every other actor waits, without moving time.
func (m *Machine) spendCommandTime(ctx context.Context) {
	m.sh.kernel.Clock.Sleep(ctx, m.CommandTime) // fails only when halted or cancelled
}

// Reboot powers the machine off with no teardown, as a script's
// `# reboot` does (what was not written to the disks is lost), and boots
// it again on the same disks with a fresh shell.
func (m *Machine) Reboot() error {
	m.Halt()
	return m.boot()
}

// Halt powers the machine off with no teardown and drops its scratch
// files; the disk images stay until Close.
func (m *Machine) Halt() {
	if m.sh != nil && !m.halted {
		m.sh.halt()
	}
	m.halted = true
}

// Close halts the machine and removes the images NewMachine made in a
// temporary directory.
func (m *Machine) Close() error {
	m.Halt()
	for _, c := range m.cancels {
		c()
	}
	m.cancels = nil
	return m.removeImages()
}

func (m *Machine) removeImages() error {
	if m.tmp == "" {
		return nil
	}
	err := os.RemoveAll(m.tmp)
	m.tmp = ""
	return err
}

// DiskFlag is the repeatable command-line flag --disk NAME=SIZE|NAME=PATH
// (a flag.Value): a size with a K, M, G, T or P suffix, or a plain number of
// bytes, makes a new zero-filled disk; anything else attaches that image.
type DiskFlag struct{ Disks *[]Disk }

func (d DiskFlag) String() string {
	if d.Disks == nil || len(*d.Disks) == 0 {
		return ""
	}
	return fmt.Sprint(*d.Disks)
}

func (d DiskFlag) Set(v string) error {
	name, spec, ok := strings.Cut(v, "=")
	if !ok || name == "" || spec == "" {
		return errors.New("want NAME=SIZE or NAME=PATH")
	}
	if size, err := strconv.ParseInt(spec, 10, 64); err == nil && size > 0 {
		*d.Disks = append(*d.Disks, Disk{Name: name, Size: size})
	} else if size, err := scenario.ParseSize(spec); err == nil {
		*d.Disks = append(*d.Disks, Disk{Name: name, Size: size})
	} else {
		*d.Disks = append(*d.Disks, Disk{Name: name, Image: spec})
	}
	return nil
}
