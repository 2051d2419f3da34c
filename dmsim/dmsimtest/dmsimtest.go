// Package dmsimtest boots emulated kernels for tests: an Env is a kernel
// whose test goroutine is a clock actor, with helpers for dmsetup-like
// device creation, bio I/O, virtual-time waits and kernel-log checks. Every
// virtio disk it boots has a dmsim.Faults injector (Env.Faults), which
// counts the disk's I/O and can fail or corrupt chosen I/Os. Import the target
// packages a test needs (or targets/all) alongside it.
package dmsimtest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/sim"
)

// Env is a booted kernel for a test, with the test goroutine as a clock
// actor.
type Env struct {
	T   testing.TB
	K   *dmsim.Kernel
	API dmsim.IoctlAPI
}

// Boot boots a kernel with virtio disks of the given sizes (bytes).
func Boot(t testing.TB, sizes ...int64) *Env {
	t.Helper()
	return BootConfig(t, dmsim.Config{}, sizes...)
}

func BootConfig(t testing.TB, cfg dmsim.Config, sizes ...int64) *Env {
	t.Helper()
	dir := t.TempDir()
	if cfg.Disks == nil {
		for i, s := range sizes {
			cfg.Disks = append(cfg.Disks, dmsim.DiskSpec{Path: filepath.Join(dir, fmt.Sprintf("d%d.img", i)), Size: s})
		}
	}
	for i := range cfg.Disks {
		if cfg.Disks[i].Path == "" {
			cfg.Disks[i].Path = filepath.Join(dir, fmt.Sprintf("d%d.img", i))
		}
		if cfg.Disks[i].Faults == nil {
			cfg.Disks[i].Faults = dmsim.NewFaults(int64(i))
		}
	}
	return Start(t, cfg)
}

// Start boots a kernel from cfg as it is (disks without a fault injector
// have none) and makes the test an actor until its end.
func Start(t testing.TB, cfg dmsim.Config) *Env {
	t.Helper()
	k, err := dmsim.NewKernel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.Clock.Enter()
	t.Cleanup(func() {
		k.Clock.Exit()
		k.Halt()
	})
	return &Env{T: t, K: k, API: k.Ioctl()}
}

// Log returns and clears the kernel log as "<N>text" lines.
func (m *Env) Log() []string {
	var out []string
	for _, l := range m.K.Log.ReadClear() {
		out = append(out, l.String())
	}
	return out
}

func (m *Env) ExpectLog(want ...string) {
	m.T.Helper()
	got := m.Log()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		m.T.Fatalf("kernel log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Create is `dmsetup create NAME --table ...`: create, load by number,
// resume, and libdm's /dev/mapper/NAME node; on failure the device is
// removed again (libdm's revert).
func (m *Env) Create(name string, specs ...dmsim.TargetSpec) (dmsim.DMInfo, error) {
	return m.CreateFlags(name, dmsim.IoctlFlags{}, specs...)
}

// CreateFlags is Create with the create ioctl's flags (e.g. Persistent and
// Minor for `dmsetup create --minor`).
func (m *Env) CreateFlags(name string, flags dmsim.IoctlFlags, specs ...dmsim.TargetSpec) (dmsim.DMInfo, error) {
	info, err := m.API.DevCreate(name, "", flags)
	if err != nil {
		return info, err
	}
	ref := dmsim.DevRef{Dev: info.Dev}
	if _, err := m.API.TableLoad(ref, specs, dmsim.IoctlFlags{}); err != nil {
		m.API.DevRemove(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
		return info, err
	}
	info, err = m.API.DevResume(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	if err != nil {
		m.API.DevRemove(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
		return info, err
	}
	m.K.Unlink("/dev/mapper/" + name)
	return info, m.K.Mknod("/dev/mapper/"+name, info.Dev)
}

// CtrError runs fn (a create or a table load) and returns the error text
// (ti->error) a failed constructor left in the kernel log meanwhile, from
// the core's "table: DEV: TYPE: TEXT (-ERRNO)" line ("" if none), with
// fn's error.
func (m *Env) CtrError(fn func() error) (string, error) {
	n := len(m.K.Log.Read())
	err := fn()
	lines := m.K.Log.Read()
	for i := len(lines) - 1; i >= n && i >= 0; i-- {
		rest, ok := strings.CutPrefix(lines[i].Text, "device-mapper: table: ")
		if !ok {
			continue
		}
		// DEV: TYPE: TEXT (-ERRNO)
		parts := strings.SplitN(rest, ": ", 3)
		if len(parts) < 3 {
			continue
		}
		if j := strings.LastIndex(parts[2], " (-"); j >= 0 {
			return parts[2][:j], err
		}
	}
	return "", err
}

// Reload is `dmsetup reload NAME` then `dmsetup suspend` and `dmsetup
// resume`: the new table goes live. A failed load leaves the device as it
// was.
func (m *Env) Reload(name string, specs ...dmsim.TargetSpec) error {
	if _, err := m.API.TableLoad(dmsim.DevRef{Name: name}, specs, dmsim.IoctlFlags{}); err != nil {
		return err
	}
	if err := m.Suspend(name, false); err != nil {
		return err
	}
	return m.Resume(name)
}

// Suspend is `dmsetup suspend [--noflush] NAME`.
func (m *Env) Suspend(name string, noflush bool) error {
	_, err := m.API.DevSuspend(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{NoFlush: noflush})
	return err
}

// Resume is `dmsetup resume NAME`.
func (m *Env) Resume(name string) error {
	_, err := m.API.DevResume(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	return err
}

// Remove is `dmsetup remove NAME`, node included.
func (m *Env) Remove(name string) error {
	if _, err := m.API.DevRemove(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{}); err != nil {
		return err
	}
	m.K.Unlink("/dev/mapper/" + name)
	return nil
}

// Message is `dmsetup message NAME 0 MSG`.
func (m *Env) Message(name, msg string) error {
	_, _, err := m.API.TargetMessage(dmsim.DevRef{Name: name}, 0, msg)
	return err
}

// Params is the status (INFO) or table (TABLE) text of a device's first
// target, without its start, length and type; noflush is `dmsetup status
// --noflush`.
func (m *Env) Params(name string, typ dmsim.StatusType, noflush bool) string {
	m.T.Helper()
	_, st, err := m.API.TableStatus(dmsim.DevRef{Name: name}, typ, dmsim.IoctlFlags{NoFlush: noflush})
	if err != nil {
		m.T.Fatalf("status %s: %v", name, err)
	}
	if len(st) == 0 {
		return ""
	}
	return st[0].Params
}

// MD is the mapped device of a dm device name.
func (m *Env) MD(name string) *dmsim.MappedDevice {
	m.T.Helper()
	info, err := m.API.DevStatus(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	if err != nil {
		m.T.Fatalf("info %s: %v", name, err)
	}
	return m.K.GetMD(info.Dev)
}

// Target is the first target of a device's live table.
func (m *Env) Target(name string) *dmsim.DMTarget {
	m.T.Helper()
	t := m.MD(name).LiveTable()
	if t == nil || len(t.Targets()) == 0 {
		m.T.Fatalf("%s has no live table", name)
	}
	return t.Targets()[0]
}

// EventNr is the device's event counter (`dmsetup info`'s event number).
func (m *Env) EventNr(name string) uint32 { return m.MD(name).EventNr() }

// Disk is the virtio disk at path (/dev/vda, ...).
func (m *Env) Disk(path string) *dmsim.Disk {
	m.T.Helper()
	b := m.Bdev(path)
	d, ok := b.(*dmsim.Disk)
	if !ok {
		m.T.Fatalf("%s is not a virtio disk", path)
	}
	return d
}

// Faults is the fault injector of the virtio disk at path.
func (m *Env) Faults(path string) *dmsim.Faults { return m.Disk(path).Faults() }

// OpenCount is how many holders have the device at path open.
func (m *Env) OpenCount(path string) int { return m.K.OpenCount(m.Bdev(path).Dev()) }

func (m *Env) MustCreate(name string, specs ...dmsim.TargetSpec) dmsim.DMInfo {
	m.T.Helper()
	info, err := m.Create(name, specs...)
	if err != nil {
		m.T.Fatalf("create %s: %v (log %q)", name, err, m.Log())
	}
	return info
}

func Spec(start, length uint64, typ, params string) dmsim.TargetSpec {
	return dmsim.TargetSpec{Start: start, Length: length, Type: typ, Params: params}
}

func (m *Env) Bdev(path string) dmsim.BlockDevice {
	m.T.Helper()
	b, err := m.K.LookupBdev(path)
	if err != nil {
		m.T.Fatalf("lookup %s: %v", path, err)
	}
	return b
}

// IO submits one bio and waits for it.
func (m *Env) IO(op dmsim.Op, dev dmsim.BlockDevice, sector uint64, data []byte) error {
	bio := dmsim.NewBio(op, dev, sector, data, nil)
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

// Discard submits a discard of count sectors and waits for it.
func (m *Env) Discard(path string, sector, count uint64) error {
	bio := dmsim.NewBio(dmsim.OpDiscard, m.Bdev(path), sector, nil, nil)
	bio.Sectors = count
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

// Flush submits an empty REQ_PREFLUSH bio (fsync's flush) and waits for it.
func (m *Env) Flush(path string) error {
	bio := dmsim.NewBio(dmsim.OpFlush, m.Bdev(path), 0, nil, nil)
	bio.Flags = dmsim.ReqPreflush
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

func (m *Env) Write(path string, sector uint64, data []byte) {
	m.T.Helper()
	if err := m.IO(dmsim.OpWrite, m.Bdev(path), sector, data); err != nil {
		m.T.Fatalf("write %s@%d: %v", path, sector, err)
	}
}

func (m *Env) Read(path string, sector uint64, n int) []byte {
	m.T.Helper()
	buf := make([]byte, n)
	if err := m.IO(dmsim.OpRead, m.Bdev(path), sector, buf); err != nil {
		m.T.Fatalf("read %s@%d: %v", path, sector, err)
	}
	return buf
}

func Pattern(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func (m *Env) StatusLines(name string, typ dmsim.StatusType) []string {
	m.T.Helper()
	_, st, err := m.API.TableStatus(dmsim.DevRef{Name: name}, typ, dmsim.IoctlFlags{})
	if err != nil {
		m.T.Fatalf("status %s: %v", name, err)
	}
	var out []string
	for _, s := range st {
		out = append(out, fmt.Sprintf("%d %d %s %s", s.Start, s.Length, s.Type, s.Params))
	}
	return out
}

// Settle waits (in virtual time, without advancing it) until every other
// actor has finished or is waiting: queued work has run.
func (m *Env) Settle() {
	m.T.Helper()
	if err := m.K.Clock.Sleep(context.Background(), 0); err != nil {
		m.T.Fatalf("settle: %v", err)
	}
}

// Go runs fn as a separate clock actor (a second process) and returns an
// event fired when fn has returned.
func (m *Env) Go(fn func()) *sim.Event {
	ev := m.K.Clock.NewEvent()
	m.K.Clock.Enter()
	go func() {
		defer m.K.Clock.Exit()
		fn()
		ev.Fire(nil)
	}()
	return ev
}

// Wait waits, as the test actor, for an event (virtual time may advance
// meanwhile).
func (m *Env) Wait(ev *sim.Event) {
	m.T.Helper()
	if err := ev.Wait(context.Background()); err != nil {
		m.T.Fatalf("wait: %v", err)
	}
}

// Sleep lets d of virtual time pass for the test actor.
func (m *Env) Sleep(d time.Duration) {
	m.T.Helper()
	if err := m.K.Clock.Sleep(context.Background(), d); err != nil {
		m.T.Fatalf("sleep: %v", err)
	}
}

// Now is the virtual time since boot.
func (m *Env) Now() time.Duration { return m.K.Clock.Now() }
