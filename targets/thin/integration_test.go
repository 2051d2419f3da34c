package thin

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
)

// machine is a booted dmsim kernel driven through its ioctl API, as
// dmsetup drives it: the targets with the real core.
type machine struct {
	t   *testing.T
	k   *dmsim.Kernel
	api dmsim.IoctlAPI
}

func boot(t *testing.T, disks ...int64) *machine {
	t.Helper()
	var specs []dmsim.DiskSpec
	for i, size := range disks {
		specs = append(specs, dmsim.DiskSpec{Path: filepath.Join(t.TempDir(), fmt.Sprintf("d%d.img", i)), Size: size})
	}
	k, err := dmsim.NewKernel(dmsim.Config{DMMajor: 253, BootModules: []string{"dm_thin_pool"}, Disks: specs})
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

// create is `dmsetup create NAME --table "0 LEN TYPE PARAMS"`.
func (m *machine) create(name string, length uint64, typ, params string) error {
	m.t.Helper()
	info, err := m.api.DevCreate(name, "", dmsim.IoctlFlags{})
	if err != nil {
		return err
	}
	ref := dmsim.DevRef{Dev: info.Dev}
	if _, err := m.api.TableLoad(ref, []dmsim.TargetSpec{{Start: 0, Length: length, Type: typ, Params: params}}, dmsim.IoctlFlags{}); err != nil {
		_, _ = m.api.DevRemove(ref, dmsim.IoctlFlags{})
		return err
	}
	if _, err := m.api.DevResume(ref, dmsim.IoctlFlags{}); err != nil {
		_, _ = m.api.DevRemove(ref, dmsim.IoctlFlags{})
		return err
	}
	return m.k.Mknod("/dev/mapper/"+name, info.Dev)
}

func (m *machine) reload(name string, length uint64, typ, params string) error {
	_, err := m.api.TableLoad(dmsim.DevRef{Name: name}, []dmsim.TargetSpec{{Start: 0, Length: length, Type: typ, Params: params}}, dmsim.IoctlFlags{})
	return err
}

func (m *machine) suspend(name string, noflush bool) error {
	_, err := m.api.DevSuspend(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{NoFlush: noflush})
	return err
}

func (m *machine) resume(name string) error {
	_, err := m.api.DevResume(dmsim.DevRef{Name: name}, dmsim.IoctlFlags{})
	return err
}

func (m *machine) message(name, msg string) error {
	_, _, err := m.api.TargetMessage(dmsim.DevRef{Name: name}, 0, msg)
	return err
}

func (m *machine) status(name string) string {
	m.t.Helper()
	_, st, err := m.api.TableStatus(dmsim.DevRef{Name: name}, dmsim.StatusInfo, dmsim.IoctlFlags{})
	if err != nil {
		m.t.Fatal(err)
	}
	var lines []string
	for _, s := range st {
		lines = append(lines, fmt.Sprintf("%d %d %s %s", s.Start, s.Length, s.Type, s.Params))
	}
	return strings.Join(lines, "\n")
}

func (m *machine) io(op dmsim.Op, path string, sector uint64, data []byte) error {
	bdev, err := m.k.LookupBdev(path)
	if err != nil {
		return err
	}
	return dmsim.SubmitWait(context.Background(), m.k.Clock, dmsim.NewBio(op, bdev, sector, data, nil))
}

// async runs fn as another actor (a background job).
func (m *machine) async(fn func() error) func() error {
	ev := m.k.Clock.NewEvent()
	var err error
	m.k.Clock.Enter()
	go func() {
		defer m.k.Clock.Exit()
		err = fn()
		ev.Fire(nil)
	}()
	return func() error {
		if e := ev.Wait(context.Background()); e != nil {
			return e
		}
		return err
	}
}

// TestHeldIOThroughCore: with no_space_timeout 0 a write to a full pool is
// held; suspending the pool (which internally suspends the thin with
// noflush, requeueing the held bio in the core) and resuming it grown lets
// the write through.
func TestHeldIOThroughCore(t *testing.T) {
	m := boot(t, 4<<20, 8<<20)
	if err := m.k.SetModuleParam("dm_thin_pool", "no_space_timeout", "0"); err != nil {
		t.Fatal(err)
	}
	if err := m.create("pool", 2048, "thin-pool", "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if err := m.message("pool", "create_thin 0"); err != nil {
		t.Fatal(err)
	}
	if err := m.create("thin", 16384, "thin", "/dev/mapper/pool 0"); err != nil {
		t.Fatal(err)
	}
	for b := uint64(0); b < 16; b++ {
		if err := m.io(dmsim.OpWrite, "/dev/mapper/thin", b*128, fill('a', 65536)); err != nil {
			t.Fatal(err)
		}
	}
	wait := m.async(func() error { return m.io(dmsim.OpWrite, "/dev/mapper/thin", 16*128, fill('b', 65536)) })
	_ = m.k.Clock.Sleep(context.Background(), 3e9)
	if s := m.status("pool"); s != "0 2048 thin-pool 0 112/1024 16/16 - out_of_data_space discard_passdown queue_if_no_space - 256 " {
		t.Errorf("status %q", s)
	}
	if err := m.reload("pool", 4096, "thin-pool", "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if err := m.suspend("pool", false); err != nil {
		t.Fatal(err)
	}
	if err := m.resume("pool"); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatalf("held write: %v", err)
	}
	if s := m.status("pool"); s != "0 4096 thin-pool 0 112/1024 17/32 - rw discard_passdown queue_if_no_space - 256 " {
		t.Errorf("status %q", s)
	}
}
