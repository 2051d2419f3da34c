package dmsim_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	_ "github.com/dmsim/dmsim/targets/all"
)

// machine is a booted kernel for a test, with the test goroutine as a
// clock actor.
type machine struct {
	t   *testing.T
	k   *dmsim.Kernel
	api dmsim.IoctlAPI
}

// boot boots a kernel with virtio disks of the given sizes (bytes).
func boot(t *testing.T, sizes ...int64) *machine {
	t.Helper()
	return bootCfg(t, dmsim.Config{}, sizes...)
}

func bootCfg(t *testing.T, cfg dmsim.Config, sizes ...int64) *machine {
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
	return &machine{t: t, k: k, api: k.Ioctl()}
}

// log returns and clears the kernel log as "<N>text" lines.
func (m *machine) log() []string {
	var out []string
	for _, l := range m.k.Log.ReadClear() {
		out = append(out, l.String())
	}
	return out
}

func (m *machine) expectLog(want ...string) {
	m.t.Helper()
	got := m.log()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		m.t.Fatalf("kernel log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// create is `dmsetup create NAME --table ...`: create, load by number,
// resume; on failure the device is removed again (libdm's revert).
func (m *machine) create(name string, specs ...dmsim.TargetSpec) (dmsim.DMInfo, error) {
	info, err := m.api.DevCreate(name, "", dmsim.IoctlFlags{})
	if err != nil {
		return info, err
	}
	ref := dmsim.DevRef{Dev: info.Dev}
	if _, err := m.api.TableLoad(ref, specs, dmsim.IoctlFlags{}); err != nil {
		m.api.DevRemove(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
		return info, err
	}
	info, err = m.api.DevResume(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	if err != nil {
		m.api.DevRemove(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	}
	return info, err
}

func (m *machine) mustCreate(name string, specs ...dmsim.TargetSpec) dmsim.DMInfo {
	m.t.Helper()
	info, err := m.create(name, specs...)
	if err != nil {
		m.t.Fatalf("create %s: %v (log %q)", name, err, m.log())
	}
	return info
}

func spec(start, length uint64, typ, params string) dmsim.TargetSpec {
	return dmsim.TargetSpec{Start: start, Length: length, Type: typ, Params: params}
}

func (m *machine) bdev(path string) dmsim.BlockDevice {
	m.t.Helper()
	b, err := m.k.LookupBdev(path)
	if err != nil {
		m.t.Fatalf("lookup %s: %v", path, err)
	}
	return b
}

// io submits one bio and waits for it.
func (m *machine) io(op dmsim.Op, dev dmsim.BlockDevice, sector uint64, data []byte) error {
	bio := dmsim.NewBio(op, dev, sector, data, nil)
	return dmsim.SubmitWait(context.Background(), m.k.Clock, bio)
}

func (m *machine) write(path string, sector uint64, data []byte) {
	m.t.Helper()
	if err := m.io(dmsim.OpWrite, m.bdev(path), sector, data); err != nil {
		m.t.Fatalf("write %s@%d: %v", path, sector, err)
	}
}

func (m *machine) read(path string, sector uint64, n int) []byte {
	m.t.Helper()
	buf := make([]byte, n)
	if err := m.io(dmsim.OpRead, m.bdev(path), sector, buf); err != nil {
		m.t.Fatalf("read %s@%d: %v", path, sector, err)
	}
	return buf
}

func pattern(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func (m *machine) statusLines(name string, typ dmsim.StatusType) []string {
	m.t.Helper()
	_, st, err := m.api.TableStatus(dmsim.DevRef{Name: name}, typ, dmsim.IoctlFlags{})
	if err != nil {
		m.t.Fatalf("status %s: %v", name, err)
	}
	var out []string
	for _, s := range st {
		out = append(out, fmt.Sprintf("%d %d %s %s", s.Start, s.Length, s.Type, s.Params))
	}
	return out
}
