package delay_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	_ "github.com/dmsim/dmsim/targets/delay"
)

func boot(t *testing.T) *Env {
	t.Helper()
	m := Boot(t, 4<<20, 4<<20)
	if err := m.K.Modprobe("dm-delay", nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModule(t *testing.T) {
	m := BootConfig(t, dmsim.Config{}, 1<<20)
	if m.K.ModuleLoaded("dm_delay") {
		t.Fatal("loaded at boot")
	}
	m.MustCreate("d", Spec(0, 8, "delay", "/dev/vda 0 0"))
	if !m.K.ModuleLoaded("dm-delay") {
		t.Fatal("not loaded by the table lookup")
	}
	if v := m.API.ListVersions(); v[0].Name != "delay" || v[0].Version != [3]uint32{1, 3, 0} {
		t.Fatalf("%v", v)
	}
}

// TestConstructorErrors covers every error of delay_ctr() and
// delay_class_ctr(): each class checks offset, delay, then its device.
func TestConstructorErrors(t *testing.T) {
	m := boot(t)
	tests := []struct {
		params string
		err    linuxerr.Errno
		text   string
	}{
		{"", linuxerr.EINVAL, "Requires exactly 3, 6 or 9 arguments (-EINVAL)"},
		{"/dev/vda 0", linuxerr.EINVAL, "Requires exactly 3, 6 or 9 arguments (-EINVAL)"},
		{"/dev/vda 0 0 /dev/vdb", linuxerr.EINVAL, "Requires exactly 3, 6 or 9 arguments (-EINVAL)"},
		{"/dev/vda 0 0 /dev/vdb 0 0 /dev/vda 0 0 x", linuxerr.EINVAL, "Requires exactly 3, 6 or 9 arguments (-EINVAL)"},
		{"/dev/vda x 0", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda -1 0", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda 0 x", linuxerr.EINVAL, "Invalid delay (-EINVAL)"},
		{"/dev/vda 0 -5", linuxerr.EINVAL, "Invalid delay (-EINVAL)"},
		{"/dev/vda 0 5ms", linuxerr.EINVAL, "Invalid delay (-EINVAL)"},
		{"/dev/nonexistent x 0", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/nonexistent 0 0", linuxerr.ENODEV, "Device lookup failed (-ENODEV)"},
		{"7:0 0 0", linuxerr.ENXIO, "Device lookup failed (-ENXIO)"},
		// The write class, after the read class got its device.
		{"/dev/vda 0 0 /dev/vdb x 0", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda 0 0 /dev/vdb 0 x", linuxerr.EINVAL, "Invalid delay (-EINVAL)"},
		{"/dev/vda 0 0 /dev/nonexistent 0 0", linuxerr.ENODEV, "Device lookup failed (-ENODEV)"},
		// The flush class.
		{"/dev/vda 0 0 /dev/vdb 0 0 /dev/vda 1x 0", linuxerr.EINVAL, "Invalid device sector (-EINVAL)"},
		{"/dev/vda 0 0 /dev/vdb 0 0 /dev/vda 0 1x", linuxerr.EINVAL, "Invalid delay (-EINVAL)"},
		{"/dev/vda 0 0 /dev/vdb 0 0 /dev/nonexistent 0 0", linuxerr.ENODEV, "Device lookup failed (-ENODEV)"},
		// The read class is checked whole before the write class.
		{"/dev/nonexistent 0 0 /dev/vdb x 0", linuxerr.ENODEV, "Device lookup failed (-ENODEV)"},
	}
	for _, tc := range tests {
		_, err := m.Create("bad", Spec(0, 8, "delay", tc.params))
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("%q: %v, want %v", tc.params, err, tc.err)
		}
		// A device the constructor kept would add "dm_put_device call
		// missing" here.
		m.ExpectLog("<3>device-mapper: table: 253:0: delay: "+tc.text,
			"<3>device-mapper: ioctl: error adding target to table")
	}
}

// TestTableLines checks delay_status(): INFO counts held reads, writes and
// flushes; TABLE gives back as many classes as the table line had.
func TestTableLines(t *testing.T) {
	m := boot(t)
	tests := []struct {
		params, table string
		deps          int
	}{
		{"/dev/vda 0 100", "254:0 0 100", 1},
		{"/dev/vda 8 0", "254:0 8 0", 1},
		{"254:0 16 4294967295", "254:0 16 4294967295", 1},
		{"/dev/vda 0 100 /dev/vdb 16 200", "254:0 0 100 254:16 16 200", 2},
		{"/dev/vda 0 100 /dev/vda 16 200", "254:0 0 100 254:0 16 200", 1},
		{"/dev/vda 0 1 /dev/vdb 2 3 /dev/vda 4 5", "254:0 0 1 254:16 2 3 254:0 4 5", 2},
		{"/dev/vda  00 007", "254:0 0 7", 1},
	}
	for _, tc := range tests {
		m.MustCreate("d", Spec(0, 64, "delay", tc.params))
		if got := m.StatusLines("d", dmsim.StatusTable); got[0] != "0 64 delay "+tc.table {
			t.Errorf("%q: table %q, want %q", tc.params, got[0], tc.table)
		}
		if got := m.StatusLines("d", dmsim.StatusInfo); got[0] != "0 64 delay 0 0 0" {
			t.Errorf("%q: status %q", tc.params, got[0])
		}
		if _, deps, err := m.API.TableDeps(dmsim.DevRef{Name: "d"}, dmsim.IoctlFlags{}); err != nil || len(deps) != tc.deps {
			t.Errorf("%q: deps %v %v", tc.params, deps, err)
		}
		if _, err := m.API.DevRemove(dmsim.DevRef{Name: "d"}, dmsim.IoctlFlags{}); err != nil {
			t.Fatal(err)
		}
	}
	m.ExpectLog()
}

// inflight is a bio submitted without waiting.
type inflight struct {
	mu   sync.Mutex
	done bool
	at   time.Duration
	err  error
	ev   *sim.Event
}

func (p *inflight) state() (bool, time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.at, p.err
}

func submit(m *Env, op dmsim.Op, flags dmsim.BioFlags, sector uint64, data []byte) *inflight {
	p := &inflight{ev: m.K.Clock.NewEvent()}
	bio := dmsim.NewBio(op, m.Bdev("/dev/dm-0"), sector, data, func(_ *dmsim.Bio, err error) {
		p.mu.Lock()
		p.done, p.at, p.err = true, m.K.Clock.Now(), err
		p.mu.Unlock()
		p.ev.Fire(nil)
	})
	bio.Flags = flags
	if op == dmsim.OpDiscard {
		bio.Sectors = 8
	}
	bio.Dev.Submit(bio)
	return p
}

func sleepUntil(m *Env, d time.Duration) {
	m.T.Helper()
	if now := m.Now(); d > now {
		if err := m.K.Clock.Sleep(context.Background(), d-now); err != nil {
			m.T.Fatal(err)
		}
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// TestHold checks when held bios are released: when the timer armed for
// their expiry (the delay rounded up to 4ms jiffies) runs, which the timer
// wheel rounds up past the expiry (a jiffy later at level 0, to a multiple
// of 8 jiffies at level 1, ...), for short delays too (6.1 has no kthread
// mode); and which class each bio belongs to.
func TestHold(t *testing.T) {
	tests := []struct {
		name   string
		params string
		start  time.Duration // virtual time of the submission
		op     dmsim.Op
		flags  dmsim.BioFlags
		done   time.Duration // virtual time of the completion
		status string        // status while held
	}{
		{"read 10ms", "/dev/vda 0 10", 0, dmsim.OpRead, 0, ms(16), "1 0 0"},
		{"read 10ms mid-jiffy", "/dev/vda 0 10", ms(5), dmsim.OpRead, 0, ms(20), "1 0 0"},
		{"read 49ms", "/dev/vda 0 49", 0, dmsim.OpRead, 0, ms(56), "1 0 0"},
		// 50ms: 13 jiffies, like 49ms.
		{"read 50ms", "/dev/vda 0 50", 0, dmsim.OpRead, 0, ms(56), "1 0 0"},
		{"read 100ms", "/dev/vda 0 100", 0, dmsim.OpRead, 0, ms(104), "1 0 0"},
		// 1s = 250 jiffies: level 1 rounds up past a multiple of 8 jiffies.
		{"read 1s", "/dev/vda 0 1000", 0, dmsim.OpRead, 0, ms(1024), "1 0 0"},
		{"read 1s at 10ms", "/dev/vda 0 1000", ms(10), dmsim.OpRead, 0, ms(1024), "1 0 0"},
		{"write 10ms", "/dev/vda 0 10", 0, dmsim.OpWrite, 0, ms(16), "0 1 0"},
		{"FUA write", "/dev/vda 0 10", 0, dmsim.OpWrite, dmsim.ReqFUA, ms(16), "0 1 0"},
		{"discard is a write", "/dev/vda 0 10", 0, dmsim.OpDiscard, 0, ms(16), "0 1 0"},
		{"flush", "/dev/vda 0 10", 0, dmsim.OpFlush, dmsim.ReqPreflush, ms(16), "0 0 1"},
		{"write class", "/dev/vda 0 0 /dev/vdb 0 20", 0, dmsim.OpWrite, 0, ms(24), "0 1 0"},
		{"read not delayed", "/dev/vda 0 0 /dev/vdb 0 20", 0, dmsim.OpRead, 0, 0, ""},
		{"flush follows writes", "/dev/vda 0 0 /dev/vdb 0 20", 0, dmsim.OpFlush, dmsim.ReqPreflush, ms(24), "0 0 1"},
		{"flush class", "/dev/vda 0 0 /dev/vdb 0 0 /dev/vda 0 30", 0, dmsim.OpFlush, dmsim.ReqPreflush, ms(36), "0 0 1"},
		// A longer delay elsewhere changes nothing.
		{"other class longer", "/dev/vda 0 10 /dev/vdb 0 60", 0, dmsim.OpRead, 0, ms(16), "1 0 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{
				{Path: dir + "/a", Size: 1 << 20, VolatileCache: true},
				{Path: dir + "/b", Size: 1 << 20, VolatileCache: true},
			}})
			if err := m.K.Modprobe("dm-delay", nil); err != nil {
				t.Fatal(err)
			}
			m.MustCreate("d", Spec(0, 64, "delay", tc.params))
			sleepUntil(m, tc.start)
			var data []byte
			if tc.op == dmsim.OpRead || tc.op == dmsim.OpWrite {
				data = make([]byte, 512)
			}
			p := submit(m, tc.op, tc.flags, 0, data)
			m.Settle()
			if tc.done == tc.start {
				if done, _, err := p.state(); !done || err != nil {
					t.Fatalf("not completed at once: %v %v", done, err)
				}
				return
			}
			if got := m.StatusLines("d", dmsim.StatusInfo); got[0] != "0 64 delay "+tc.status {
				t.Errorf("status while held %q, want %q", got[0], tc.status)
			}
			sleepUntil(m, tc.done-time.Nanosecond)
			if done, at, _ := p.state(); done {
				t.Fatalf("completed early, at %v", at)
			}
			m.Wait(p.ev)
			if _, at, err := p.state(); at != tc.done || err != nil {
				t.Fatalf("completed at %v (%v), want %v", at, err, tc.done)
			}
			if got := m.StatusLines("d", dmsim.StatusInfo); got[0] != "0 64 delay 0 0 0" {
				t.Errorf("status after %q", got[0])
			}
		})
	}
}

// TestOrderAndDevices: bios are released in expiry order, each to its
// class's device and offset.
func TestOrderAndDevices(t *testing.T) {
	m := boot(t)
	m.Write("/dev/vda", 100, Pattern('r', 512))
	m.MustCreate("d", Spec(0, 64, "delay", "/dev/vda 100 40 /dev/vdb 200 8"))
	rd := make([]byte, 512)
	r := submit(m, dmsim.OpRead, 0, 0, rd)
	w1 := submit(m, dmsim.OpWrite, 0, 3, Pattern('w', 512))
	sleepUntil(m, ms(4))
	w2 := submit(m, dmsim.OpWrite, 0, 4, Pattern('x', 512))
	m.Wait(r.ev)
	m.Wait(w1.ev)
	m.Wait(w2.ev)
	_, rat, _ := r.state()
	_, w1at, _ := w1.state()
	_, w2at, _ := w2.state()
	// One timer: armed for the read (jiffy 10), re-armed earlier for w1
	// (expires at jiffy 2, runs at 3); w2 (expires at 3) waits for it. At
	// jiffy 3 both writes go and the timer is re-armed for the read, which
	// runs a jiffy after its expiry.
	if w1at != ms(12) || w2at != ms(12) || rat != ms(44) {
		t.Fatalf("completions at %v %v %v", w1at, w2at, rat)
	}
	if !bytes.Equal(rd, Pattern('r', 512)) {
		t.Fatal("read from the read device")
	}
	if !bytes.Equal(m.Read("/dev/vdb", 203, 512), Pattern('w', 512)) || !bytes.Equal(m.Read("/dev/vdb", 204, 512), Pattern('x', 512)) {
		t.Fatal("writes on the write device")
	}
	if bytes.Equal(m.Read("/dev/vda", 103, 512), Pattern('w', 512)) {
		t.Fatal("write on the read device")
	}
}

// TestSuspend: presuspend submits every held bio at once and stops
// delaying until the resume.
func TestSuspend(t *testing.T) {
	m := boot(t)
	m.MustCreate("d", Spec(0, 64, "delay", "/dev/vda 0 10000"))
	ref := dmsim.DevRef{Name: "d"}
	w := submit(m, dmsim.OpWrite, 0, 0, Pattern('s', 512))
	// A delay of 2^31ms or more (MAX_JIFFY_OFFSET) would never end.
	sleepUntil(m, ms(1000))
	if _, err := m.API.DevSuspend(ref, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if done, at, err := w.state(); !done || at != ms(1000) || err != nil {
		t.Fatalf("held write at suspend: %v %v %v", done, at, err)
	}
	if got := m.StatusLines("d", dmsim.StatusInfo); got[0] != "0 64 delay 0 0 0" {
		t.Fatalf("status %q", got[0])
	}
	if _, err := m.API.DevResume(ref, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	w = submit(m, dmsim.OpWrite, 0, 0, Pattern('s', 512))
	m.Wait(w.ev)
	if _, at, _ := w.state(); at != ms(11008) {
		t.Fatalf("delayed again after resume: done at %v", at)
	}
}

// TestNeverExpires: a delay that msecs_to_jiffies() makes MAX_JIFFY_OFFSET
// holds the bio until a suspend; a process waiting for it alone is a
// deadlock (the kernel would hang), not an endless run of timers.
func TestNeverExpires(t *testing.T) {
	m := boot(t)
	m.MustCreate("d", Spec(0, 64, "delay", "/dev/vda 0 4294967295"))
	bio := dmsim.NewBio(dmsim.OpRead, m.Bdev("/dev/dm-0"), 0, make([]byte, 512), nil)
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != sim.ErrDeadlock {
		t.Fatalf("waiting for a bio held for ever: %v", err)
	}
	if got := m.StatusLines("d", dmsim.StatusInfo); got[0] != "0 64 delay 1 0 0" {
		t.Fatalf("status %q", got[0])
	}
	if _, err := m.API.DevRemove(dmsim.DevRef{Name: "d"}, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
}

// TestReload: replacing the table releases the old table's held bios at
// the suspend that swaps it.
func TestReload(t *testing.T) {
	m := boot(t)
	m.MustCreate("d", Spec(0, 64, "delay", "/dev/vda 0 500"))
	w := submit(m, dmsim.OpWrite, 0, 0, Pattern('q', 512))
	sleepUntil(m, ms(100))
	ref := dmsim.DevRef{Name: "d"}
	if _, err := m.API.TableLoad(ref, []dmsim.TargetSpec{Spec(0, 64, "delay", "/dev/vda 0 0")}, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.API.DevSuspend(ref, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.API.DevResume(ref, dmsim.IoctlFlags{}); err != nil {
		t.Fatal(err)
	}
	if done, at, _ := w.state(); !done || at != ms(100) {
		t.Fatalf("held write: %v %v", done, at)
	}
	if !bytes.Equal(m.Read("/dev/dm-0", 0, 512), Pattern('q', 512)) {
		t.Fatal("data")
	}
	// Time goes on without the old table's timer doing anything.
	sleepUntil(m, ms(2000))
}
