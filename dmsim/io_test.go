package dmsim_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	_ "github.com/dmsim/dmsim/targets/all"
)

// probeBoot boots with the probe module loaded and fresh recorders.
func probeBoot(t *testing.T, sizes ...int64) *Env {
	recMu.Lock()
	recorders = map[string]*recorder{}
	recMu.Unlock()
	return BootConfig(t, dmsim.Config{BootModules: []string{"dm_probe"}}, sizes...)
}

func maps(events []string) []string {
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e, "map ") {
			out = append(out, e)
		}
	}
	return out
}

func TestSplitAtBoundariesAndMaxIO(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("s", Spec(0, 16, "probe", "name=s1 maxio=8"), Spec(16, 100, "probe", "name=s2"))
	dev := m.Bdev("/dev/dm-0")
	if err := m.IO(dmsim.OpWrite, dev, 4, make([]byte, 40*512)); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("s1").take()); strings.Join(got, "|") != "map write 4+4 nr=0|map write 8+8 nr=0" {
		t.Fatalf("s1 %v", got)
	}
	if got := maps(rec("s2").take()); strings.Join(got, "|") != "map write 16+28 nr=0" {
		t.Fatalf("s2 %v", got)
	}
	buf := make([]byte, 512*3)
	if err := m.IO(dmsim.OpRead, dev, 15, buf); err != nil || buf[0] != 0xAB || buf[len(buf)-1] != 0xAB {
		t.Fatalf("read: %v", err)
	}
	// Past the end of the device: the block layer fails it.
	err := m.IO(dmsim.OpRead, dev, 115, make([]byte, 1024))
	wantErr(t, err, linuxerr.EIO)
}

func TestMaxIOLenWithMaxSectors(t *testing.T) {
	// A target with max_io_len is also split at the device's max_sectors
	// (2560 on virtio).
	m := probeBoot(t, meta)
	m.MustCreate("s", Spec(0, 8192, "probe", "name=ms dev=/dev/vda maxio=4096"))
	if err := m.IO(dmsim.OpWrite, m.Bdev("/dev/dm-0"), 0, make([]byte, 4096*512)); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("ms").take()); strings.Join(got, "|") != "map write 0+2560 nr=0|map write 2560+1536 nr=0" {
		t.Fatalf("maps %v", got)
	}
}

func TestFlushAndDiscardFanOut(t *testing.T) {
	m := probeBoot(t, meta)
	// Flushes reach targets only if the device has a write cache: f1 has
	// a virtio device under it.
	m.MustCreate("f", Spec(0, 8, "probe", "name=f1 flush=2 dev=/dev/vda discard=3"), Spec(8, 8, "probe", "name=f2 discard=1 ds=1"))
	dev := m.Bdev("/dev/dm-0")
	if !dev.Limits().WriteCache {
		t.Fatal("no write cache")
	}
	if err := m.IO(dmsim.OpFlush, dev, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("f1").take()); strings.Join(got, "|") != "map flush 0+0 nr=0|map flush 0+0 nr=1" {
		t.Fatalf("f1 flush %v", got)
	}
	if got := maps(rec("f2").take()); len(got) != 0 {
		t.Fatalf("f2 got flushes %v", got)
	}
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 6, nil, nil)
	bio.Sectors = 6
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("f1").take()); strings.Join(got, "|") != "map discard 6+2 nr=0|map discard 6+2 nr=1|map discard 6+2 nr=2" {
		t.Fatalf("f1 discard %v", got)
	}
	if got := maps(rec("f2").take()); strings.Join(got, "|") != "map discard 8+4 nr=0" {
		t.Fatalf("f2 discard %v", got)
	}
	// A write with REQ_PREFLUSH: the flush first, then the data.
	w := dmsim.NewBio(dmsim.OpWrite, dev, 0, make([]byte, 512), nil)
	w.Flags = dmsim.ReqPreflush | dmsim.ReqFUA
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, w); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("f1").take()); strings.Join(got, "|") != "map flush 0+0 nr=0|map flush 0+0 nr=1|map write 0+1 nr=0" {
		t.Fatalf("f1 preflush %v", got)
	}

	// No device supports discard: the device does not advertise it.
	m.MustCreate("nd", Spec(0, 8, "probe", "name=nd discard=1"))
	nd := m.Bdev("/dev/dm-1")
	if nd.Limits().DiscardSupported() {
		t.Fatal("discard advertised")
	}
	bio = dmsim.NewBio(dmsim.OpDiscard, nd, 0, nil, nil)
	bio.Sectors = 8
	err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio)
	wantErr(t, err, linuxerr.EOPNOTSUPP)
	// No write cache: flushes complete without reaching the target.
	if err := m.IO(dmsim.OpFlush, nd, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("nd").take()); len(got) != 0 {
		t.Fatalf("nd %v", got)
	}
}

func TestDiscardSplitToLimits(t *testing.T) {
	m := probeBoot(t, meta)
	// The device's discard limits come from virtio (4194303 sectors,
	// granularity 512); a long discard is one bio per target piece.
	m.MustCreate("d", Spec(0, 8192, "probe", "name=dsplit dev=/dev/vda discard=1"))
	dev := m.Bdev("/dev/dm-0")
	bio := dmsim.NewBio(dmsim.OpDiscard, dev, 0, nil, nil)
	bio.Sectors = 8192
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	if got := maps(rec("dsplit").take()); strings.Join(got, "|") != "map discard 0+8192 nr=0" {
		t.Fatalf("%v", got)
	}
}

func TestKillAndRequeueOutsideSuspend(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("k", Spec(0, 8, "probe", "name=k kill=1"), Spec(8, 8, "probe", "name=r requeue=1"))
	dev := m.Bdev("/dev/dm-0")
	wantErr(t, m.IO(dmsim.OpRead, dev, 0, make([]byte, 512)), linuxerr.EIO)
	wantErr(t, m.IO(dmsim.OpRead, dev, 8, make([]byte, 512)), linuxerr.EIO)
	// A bio spanning both fails with the last error.
	wantErr(t, m.IO(dmsim.OpWrite, dev, 4, make([]byte, 8*512)), linuxerr.EIO)
}

// Suspend blocks new I/O (queued, not mapped) until resume.
func TestSuspendQueuesIO(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("q", Spec(0, 64, "probe", "name=q"))
	dev := m.Bdev("/dev/dm-0")
	rec("q").take()
	if _, err := m.API.DevSuspend(ref("q"), noFlags); err != nil {
		t.Fatal(err)
	}
	var ioErr error
	var ioAt time.Duration
	done := m.Go(func() {
		ioErr = m.IO(dmsim.OpWrite, dev, 0, make([]byte, 512))
		ioAt = m.Now()
	})
	m.Settle()
	if got := maps(rec("q").take()); len(got) != 0 {
		t.Fatalf("mapped while suspended: %v", got)
	}
	// Resume in 30 virtual seconds.
	m.K.Clock.AfterFunc(30*time.Second, func() {
		m.Go(func() { m.API.DevResume(ref("q"), noFlags) })
	})
	m.Wait(done)
	if ioErr != nil || ioAt != 30*time.Second {
		t.Fatalf("io %v at %v", ioErr, ioAt)
	}
	if got := maps(rec("q").take()); strings.Join(got, "|") != "map write 0+1 nr=0" {
		t.Fatalf("after resume %v", got)
	}
}

// A flush suspend waits for in-flight I/O; a target holds a bio and
// completes it later.
func TestSuspendWaitsForInflight(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("h", Spec(0, 64, "probe", "name=h hold=1"))
	dev := m.Bdev("/dev/dm-0")
	var ioErr error
	done := m.Go(func() { ioErr = m.IO(dmsim.OpWrite, dev, 0, make([]byte, 512)) })
	m.Settle()
	if rec("h").nheld() != 1 {
		t.Fatal("not held")
	}
	m.K.Clock.AfterFunc(5*time.Second, func() { rec("h").release(nil) })
	start := m.Now()
	if _, err := m.API.DevSuspend(ref("h"), noFlags); err != nil {
		t.Fatal(err)
	}
	if m.Now()-start != 5*time.Second {
		t.Fatalf("suspend returned after %v", m.Now()-start)
	}
	m.Wait(done)
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	// An interrupted suspend (timeout) undoes itself.
	m.API.DevResume(ref("h"), noFlags)
	done = m.Go(func() { ioErr = m.IO(dmsim.OpWrite, dev, 0, make([]byte, 512)) })
	m.Settle()
	rec("h").take()
	ctx, cancel := m.K.Clock.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := m.K.IoctlContext(ctx).DevSuspend(ref("h"), noFlags)
	wantErr(t, err, linuxerr.EINTR)
	if info, _ := m.API.DevStatus(ref("h"), noFlags); info.Suspended {
		t.Fatal("suspended after interrupted suspend")
	}
	if got := rec("h").take(); strings.Join(got, ",") != "presuspend noflush=false,presuspend_undo" {
		t.Fatalf("hooks %v", got)
	}
	// I/O flows again.
	rec("h").release(linuxerr.ENOSPC)
	m.Wait(done)
	wantErr(t, ioErr, linuxerr.ENOSPC)
}

// During a noflush suspend a target pushes held bios back (ErrRequeue):
// the core keeps them and resubmits them at resume.
func TestNoflushRequeue(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("n", Spec(0, 64, "probe", "name=n hold=1"))
	dev := m.Bdev("/dev/dm-0")
	var ioErr error
	done := m.Go(func() { ioErr = m.IO(dmsim.OpRead, dev, 3, make([]byte, 512)) })
	m.Settle()
	rec("n").take()
	m.K.Clock.AfterFunc(time.Second, func() { rec("n").release(dmsim.ErrRequeue) })
	info, err := m.API.DevSuspend(ref("n"), dmsim.IoctlFlags{NoFlush: true})
	if err != nil || !info.Suspended {
		t.Fatalf("%+v %v", info, err)
	}
	if got := rec("n").take(); strings.Join(got, ",") != "presuspend noflush=true,endio read dm: requeue bio,postsuspend post=true" {
		t.Fatalf("hooks %v", got)
	}
	m.API.DevResume(ref("n"), noFlags)
	m.Settle()
	if got := maps(rec("n").take()); strings.Join(got, "|") != "map read 3+1 nr=0" {
		t.Fatalf("resubmitted %v", got)
	}
	rec("n").release(nil)
	m.Wait(done)
	if ioErr != nil {
		t.Fatal(ioErr)
	}
}

func TestInternalSuspend(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("t", Spec(0, 64, "probe", "name=it"))
	md := m.K.GetMD(dmsim.DevT{Major: 253, Minor: 0})
	dev := md.Bdev()
	rec("it").take()
	md.InternalSuspendNoflush()
	md.InternalSuspendNoflush() // nests
	info, _ := m.API.DevStatus(ref("t"), noFlags)
	if info.Suspended || !info.InternalSuspend || md.Suspended() || !md.SuspendedInternally() {
		t.Fatalf("%+v", info)
	}
	if got := rec("it").take(); strings.Join(got, ",") != "presuspend noflush=true,postsuspend post=true" {
		t.Fatalf("hooks %v", got)
	}
	var ioErr error
	io := m.Go(func() { ioErr = m.IO(dmsim.OpWrite, dev, 0, make([]byte, 512)) })
	// A user suspend waits for the internal resume.
	m.K.Clock.AfterFunc(7*time.Second, func() {
		m.Go(func() { md.InternalResume(); md.InternalResume() })
	})
	start := m.Now()
	if _, err := m.API.DevSuspend(ref("t"), noFlags); err != nil {
		t.Fatal(err)
	}
	if m.Now()-start != 7*time.Second {
		t.Fatalf("user suspend after %v", m.Now()-start)
	}
	// The queued write may have been resubmitted before the user suspend
	// blocked I/O again, or be queued still: it completes after resume.
	m.API.DevResume(ref("t"), noFlags)
	m.Wait(io)
	m.API.DevSuspend(ref("t"), noFlags)
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	// Internal suspend of a user-suspended device only marks it; resume
	// waits for the internal resume.
	md.InternalSuspendNoflush()
	m.K.Clock.AfterFunc(3*time.Second, func() { m.Go(md.InternalResume) })
	start = m.Now()
	if _, err := m.API.DevResume(ref("t"), noFlags); err != nil {
		t.Fatal(err)
	}
	if m.Now()-start != 3*time.Second || md.Suspended() {
		t.Fatalf("resume after %v", m.Now()-start)
	}
}

func TestConcurrentIOAndIoctls(t *testing.T) {
	m := Boot(t, meta, data)
	m.MustCreate("c", Spec(0, 4096, "linear", "/dev/vdb 0"), Spec(4096, 4096, "striped", "2 8 /dev/vda 0 /dev/vdb 8192"))
	dev := m.Bdev("/dev/dm-0")
	var wg sync.WaitGroup
	var evs []*sim.Event
	errs := make([]error, 8)
	for w := 0; w < 8; w++ {
		w := w
		wg.Add(1)
		evs = append(evs, m.Go(func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				sector := uint64((w*997 + i*131) % (8192 - 16))
				buf := Pattern(byte(w), 16*512)
				if err := m.IO(dmsim.OpWrite, dev, sector, buf); err != nil {
					errs[w] = err
					return
				}
				got := make([]byte, 16*512)
				if err := m.IO(dmsim.OpRead, dev, sector, got); err != nil {
					errs[w] = err
					return
				}
			}
		}))
	}
	for i := 0; i < 10; i++ {
		if _, err := m.API.DevSuspend(ref("c"), dmsim.IoctlFlags{NoFlush: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
		m.StatusLines("c", dmsim.StatusInfo)
		if _, err := m.API.DevResume(ref("c"), noFlags); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range evs {
		m.Wait(ev)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeferredBiosFailAtRemove(t *testing.T) {
	m := probeBoot(t)
	info := m.MustCreate("r", Spec(0, 8, "probe", "name=r"))
	dev := m.Bdev("/dev/dm-0")
	m.API.DevSuspend(ref("r"), noFlags)
	var ioErr error
	done := m.Go(func() { ioErr = m.IO(dmsim.OpRead, dev, 0, make([]byte, 512)) })
	m.Settle()
	if _, err := m.API.DevRemove(ref("r"), noFlags); err != nil {
		t.Fatal(err)
	}
	m.Wait(done)
	wantErr(t, ioErr, linuxerr.EIO)
	if m.K.GetMD(info.Dev) != nil {
		t.Fatal("GetMD of a removed device")
	}
}

func TestStripedAndLinearData(t *testing.T) {
	m := Boot(t, meta, data)
	m.MustCreate("st", Spec(0, 64, "striped", "2 16 /dev/vda 0 /dev/vdb 100"))
	src := make([]byte, 64*512)
	for i := range src {
		src[i] = byte(i / 512)
	}
	m.Write("/dev/dm-0", 0, src)
	// Chunks 0,2 on vda (sectors 0.., 16..), chunks 1,3 on vdb at 100..
	if got := m.Read("/dev/vda", 16, 512); got[0] != 32 {
		t.Fatalf("vda chunk 1 starts with sector %d", got[0])
	}
	if got := m.Read("/dev/vdb", 100+16, 512); got[0] != 48 {
		t.Fatalf("vdb chunk 1 starts with sector %d", got[0])
	}
	if got := m.Read("/dev/dm-0", 0, 64*512); !bytes.Equal(got, src) {
		t.Fatal("read back differs")
	}
	if got := m.StatusLines("st", dmsim.StatusInfo); got[0] != "0 64 striped 2 254:0 254:16 1 AA" {
		t.Fatalf("status %v", got)
	}
	if got := m.StatusLines("st", dmsim.StatusTable); got[0] != "0 64 striped 2 16 254:0 0 254:16 100" {
		t.Fatalf("table %v", got)
	}
	if errors.Is(nil, linuxerr.EIO) {
		t.Fatal()
	}
}

// count is how many of events are e.
func count(events []string, e string) int {
	n := 0
	for _, x := range events {
		if x == e {
			n++
		}
	}
	return n
}

// Per-bio data (ti->per_io_data_size): each clone sent to a target that
// asks for it carries its own, made once and reused with the device's
// dm_ios; a target that does not ask gets none, even from a dm_io that
// last served one that did; clones in flight together never share it.
func TestPerBioData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		table    []dmsim.TargetSpec
		sectors  []uint64 // the bios, one after another
		held     int      // then this many bios at once to sector 0, held
		wantNew  int      // "pbd new" in p1's events
		wantMaps int      // p1's maps
	}{
		{"one target, sequential", []dmsim.TargetSpec{Spec(0, 64, "probe", "name=p1 pbd=1")},
			[]uint64{0, 8, 16, 24, 32, 40, 48, 56, 0, 8}, 0, 1, 10},
		{"two targets, alternating", []dmsim.TargetSpec{Spec(0, 8, "probe", "name=p1 pbd=1"), Spec(8, 8, "probe", "name=p2")},
			[]uint64{0, 8, 0, 8, 0, 8, 0, 8}, 0, 1, 4},
		{"a bio split over both", []dmsim.TargetSpec{Spec(0, 8, "probe", "name=p1 pbd=1"), Spec(8, 8, "probe", "name=p2")},
			[]uint64{6, 6, 6}, 0, 1, 3},
		{"in flight together", []dmsim.TargetSpec{Spec(0, 64, "probe", "name=p1 pbd=1 hold=1")},
			nil, 5, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := probeBoot(t)
			m.MustCreate("d", tc.table...)
			dev := m.Bdev("/dev/dm-0")
			for _, s := range tc.sectors {
				if err := m.IO(dmsim.OpRead, dev, s, make([]byte, 4*512)); err != nil {
					t.Fatal(err)
				}
			}
			var dones []*sim.Event
			for i := 0; i < tc.held; i++ {
				dones = append(dones, m.Go(func() { _ = m.IO(dmsim.OpRead, dev, 0, make([]byte, 512)) }))
			}
			m.Settle()
			if n := rec("p1").nheld(); n != tc.held {
				t.Fatalf("%d bios held, want %d", n, tc.held)
			}
			rec("p1").release(nil)
			for _, d := range dones {
				m.Wait(d)
			}
			p1, p2 := rec("p1").take(), rec("p2").take()
			if got := len(maps(p1)); got != tc.wantMaps {
				t.Fatalf("p1 mapped %d bios, want %d: %v", got, tc.wantMaps, p1)
			}
			if got := count(p1, "pbd new"); got != tc.wantNew {
				t.Fatalf("p1 made per-bio data %d times, want %d: %v", got, tc.wantNew, p1)
			}
			for _, bad := range []string{"pbd missing", "pbd shared"} {
				if count(p1, bad) != 0 {
					t.Fatalf("p1: %s: %v", bad, p1)
				}
			}
			if count(p2, "private set") != 0 {
				t.Fatalf("p2 got per-bio data: %v", p2)
			}
		})
	}
}
