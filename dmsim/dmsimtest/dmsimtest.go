// Package dmsimtest boots emulated kernels for tests: a Machine is a kernel
// whose test goroutine is a clock actor, with helpers for dmsetup-like
// device creation, bio I/O and kernel-log checks. Import the target
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

// Machine is a booted kernel for a test, with the test goroutine as a
// clock actor.
type Machine struct {
	T   testing.TB
	K   *dmsim.Kernel
	API dmsim.IoctlAPI
}

// Boot boots a kernel with virtio disks of the given sizes (bytes).
func Boot(t testing.TB, sizes ...int64) *Machine {
	t.Helper()
	return BootConfig(t, dmsim.Config{}, sizes...)
}

func BootConfig(t testing.TB, cfg dmsim.Config, sizes ...int64) *Machine {
	t.Helper()
	dir := t.TempDir()
	if cfg.Disks == nil {
		for i, s := range sizes {
			cfg.Disks = append(cfg.Disks, dmsim.DiskSpec{Path: filepath.Join(dir, fmt.Sprintf("d%d.img", i)), Size: s})
		}
	}
	k, err := dmsim.NewKernel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k.Clock.Enter()
	t.Cleanup(func() {
		k.Clock.Exit()
		k.Halt()
	})
	return &Machine{T: t, K: k, API: k.Ioctl()}
}

// Log returns and clears the kernel log as "<N>text" lines.
func (m *Machine) Log() []string {
	var out []string
	for _, l := range m.K.Log.ReadClear() {
		out = append(out, l.String())
	}
	return out
}

func (m *Machine) ExpectLog(want ...string) {
	m.T.Helper()
	got := m.Log()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		m.T.Fatalf("kernel log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Create is `dmsetup create NAME --table ...`: create, load by number,
// resume; on failure the device is removed again (libdm's revert).
func (m *Machine) Create(name string, specs ...dmsim.TargetSpec) (dmsim.DMInfo, error) {
	info, err := m.API.DevCreate(name, "", dmsim.IoctlFlags{})
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
	}
	return info, err
}

func (m *Machine) MustCreate(name string, specs ...dmsim.TargetSpec) dmsim.DMInfo {
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

func (m *Machine) Bdev(path string) dmsim.BlockDevice {
	m.T.Helper()
	b, err := m.K.LookupBdev(path)
	if err != nil {
		m.T.Fatalf("lookup %s: %v", path, err)
	}
	return b
}

// IO submits one bio and waits for it.
func (m *Machine) IO(op dmsim.Op, dev dmsim.BlockDevice, sector uint64, data []byte) error {
	bio := dmsim.NewBio(op, dev, sector, data, nil)
	return dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
}

func (m *Machine) Write(path string, sector uint64, data []byte) {
	m.T.Helper()
	if err := m.IO(dmsim.OpWrite, m.Bdev(path), sector, data); err != nil {
		m.T.Fatalf("write %s@%d: %v", path, sector, err)
	}
}

func (m *Machine) Read(path string, sector uint64, n int) []byte {
	m.T.Helper()
	buf := make([]byte, n)
	if err := m.IO(dmsim.OpRead, m.Bdev(path), sector, buf); err != nil {
		m.T.Fatalf("read %s@%d: %v", path, sector, err)
	}
	return buf
}

func Pattern(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func (m *Machine) StatusLines(name string, typ dmsim.StatusType) []string {
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
func (m *Machine) Settle() {
	m.T.Helper()
	if err := m.K.Clock.Sleep(context.Background(), 0); err != nil {
		m.T.Fatalf("settle: %v", err)
	}
}

// Go runs fn as a separate clock actor (a second process) and returns an
// event fired when fn has returned.
func (m *Machine) Go(fn func()) *sim.Event {
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
func (m *Machine) Wait(ev *sim.Event) {
	m.T.Helper()
	if err := ev.Wait(context.Background()); err != nil {
		m.T.Fatalf("wait: %v", err)
	}
}

// Now is the virtual time since boot.
func (m *Machine) Now() time.Duration { return m.K.Clock.Now() }
