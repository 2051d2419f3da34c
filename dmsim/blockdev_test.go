package dmsim_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/all"
)

func TestVirtioDisks(t *testing.T) {
	dir := t.TempDir()
	cfg := dmsim.Config{Disks: []dmsim.DiskSpec{
		{Path: filepath.Join(dir, "a.img"), Size: meta},
		{Path: filepath.Join(dir, "b.img"), Size: data, NoDiscard: true},
	}}
	m := BootConfig(t, cfg)
	nodes := m.K.DevNodes("/dev")
	if !reflect.DeepEqual(nodes, map[string]dmsim.DevT{"vda": {Major: 254, Minor: 0}, "vdb": {Major: 254, Minor: 16}}) {
		t.Fatalf("nodes %v", nodes)
	}
	vda, vdb := m.Bdev("/dev/vda"), m.Bdev("/dev/vdb")
	if vda.Name() != "vda" || vda.Size() != 8192 || vdb.Size() != 131072 {
		t.Fatalf("%s %d %d", vda.Name(), vda.Size(), vdb.Size())
	}
	// The image is sparse.
	st, _ := os.Stat(cfg.Disks[1].Path)
	if st.Size() != data {
		t.Fatalf("image size %d", st.Size())
	}
	m.Write("/dev/vda", 10, Pattern('q', 1024))
	img, _ := os.ReadFile(cfg.Disks[0].Path)
	if !bytes.Equal(img[10*512:10*512+1024], Pattern('q', 1024)) {
		t.Fatal("write not in the image")
	}
	// Discard zeroes; a nodiscard disk refuses it.
	bio := dmsim.NewBio(dmsim.OpDiscard, vda, 10, nil, nil)
	bio.Sectors = 1
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
		t.Fatal(err)
	}
	if got := m.Read("/dev/vda", 10, 1024); !bytes.Equal(got[:512], make([]byte, 512)) || !bytes.Equal(got[512:], Pattern('q', 512)) {
		t.Fatal("discard")
	}
	bio = dmsim.NewBio(dmsim.OpDiscard, vdb, 0, nil, nil)
	bio.Sectors = 8
	wantErr(t, dmsim.SubmitWait(context.Background(), m.K.Clock, bio), linuxerr.EOPNOTSUPP)
	// Beyond the end.
	wantErr(t, m.IO(dmsim.OpWrite, vda, 8191, make([]byte, 1024)), linuxerr.EIO)
	// Writes survive a reboot on the same images.
	m.K.Halt()
	k2, err := dmsim.NewKernel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Halt()
	k2.Clock.Enter()
	defer k2.Clock.Exit()
	b2, _ := k2.LookupBdev("/dev/vda")
	buf := make([]byte, 512)
	if err := dmsim.SubmitWait(context.Background(), k2.Clock, dmsim.NewBio(dmsim.OpRead, b2, 11, buf, nil)); err != nil || !bytes.Equal(buf, Pattern('q', 512)) {
		t.Fatalf("after reboot: %v", err)
	}
	// I/O after halt fails.
	wantErr(t, m.IO(dmsim.OpRead, vda, 0, buf), linuxerr.EIO)
}

func TestVolatileWriteCache(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.img")
	// A disk with native FUA: the FUA write alone is durable (virtio's
	// emulated FUA, which also flushes the earlier writes, is in
	// TestDiskFUAEmulated).
	cfg := dmsim.Config{Disks: []dmsim.DiskSpec{{Path: path, Size: meta, VolatileCache: true, NativeFUA: true}}}
	m := BootConfig(t, cfg)
	vda := m.Bdev("/dev/vda")
	m.Write("/dev/vda", 0, Pattern('a', 512))
	fua := dmsim.NewBio(dmsim.OpWrite, vda, 1, Pattern('b', 512), nil)
	fua.Flags = dmsim.ReqFUA
	if err := dmsim.SubmitWait(context.Background(), m.K.Clock, fua); err != nil {
		t.Fatal(err)
	}
	m.Write("/dev/vda", 2, Pattern('c', 512))
	img, _ := os.ReadFile(path)
	if img[0] != 0 || img[512] != 'b' || img[1024] != 0 {
		t.Fatalf("image before flush: %q %q %q", img[0], img[512], img[1024])
	}
	if got := m.Read("/dev/vda", 0, 1536); got[0] != 'a' || got[512] != 'b' || got[1024] != 'c' {
		t.Fatal("reads do not see cached writes")
	}
	disk := m.K.Disks()[0]
	if disk.DirtySectors() != 2 {
		t.Fatalf("dirty %d", disk.DirtySectors())
	}
	// A flush through a mapped device on top reaches the disk.
	m.MustCreate("l", Spec(0, 8, "linear", "/dev/vda 0"))
	if err := m.IO(dmsim.OpFlush, m.Bdev("/dev/dm-0"), 0, nil); err != nil {
		t.Fatal(err)
	}
	img, _ = os.ReadFile(path)
	if img[0] != 'a' || img[1024] != 'c' || disk.DirtySectors() != 0 {
		t.Fatal("flush did not make writes durable")
	}
	// Unflushed writes are lost at power-off.
	m.Write("/dev/vda", 3, Pattern('d', 512))
	m.K.Halt()
	img, _ = os.ReadFile(path)
	if img[3*512] != 0 {
		t.Fatal("unflushed write survived the power cut")
	}
}

func TestBrd(t *testing.T) {
	m := Boot(t)
	if _, err := m.K.LookupBdev("/dev/ram0"); !errors.Is(err, linuxerr.ENOENT) {
		t.Fatal("ram0 before brd")
	}
	if err := m.K.Modprobe("brd", map[string]string{"rd_nr": "2", "rd_size": "65536", "bogus": "1"}); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog("<4>brd: unknown parameter 'bogus' ignored", "<6>brd: module loaded")
	r1 := m.Bdev("/dev/ram1")
	if r1.Dev() != (dmsim.DevT{Major: 1, Minor: 1}) || r1.Size() != 131072 || r1.Limits().DiscardSupported() || r1.Limits().WriteCache {
		t.Fatalf("ram1 %v %d %+v", r1.Dev(), r1.Size(), r1.Limits())
	}
	if _, err := m.K.LookupBdev("/dev/ram2"); err == nil {
		t.Fatal("ram2 exists")
	}
	m.Write("/dev/ram1", 100000, Pattern('r', 4096+512))
	if got := m.Read("/dev/ram1", 99999, 3*512); got[0] != 0 || got[512] != 'r' {
		t.Fatal("ram read")
	}
	if n := m.K.RamDisks()[1].PagesInUse(); n != 2 {
		t.Fatalf("pages %d", n)
	}
	// Loaded modules ignore new arguments; parameters are read-only.
	if err := m.K.Modprobe("brd", map[string]string{"rd_nr": "9"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.K.SysfsRead("/sys/module/brd/parameters/rd_nr"); got != "2\n" {
		t.Fatalf("rd_nr %q", got)
	}
	if err := m.K.SysfsWrite("/sys/module/brd/parameters/rd_nr", "3"); !errors.Is(err, linuxerr.EACCES) {
		t.Fatal(err)
	}
	// The ram disk has no write cache: flushes complete at once.
	if err := m.IO(dmsim.OpFlush, r1, 0, nil); err != nil {
		t.Fatal(err)
	}
	// "/dev/ram" is name_to_dev_t's Root_RAM0.
	m.MustCreate("r", Spec(0, 8, "linear", "/dev/ram 0"))
	if got := m.StatusLines("r", dmsim.StatusTable); got[0] != "0 8 linear 1:0 0" {
		t.Fatalf("%v", got)
	}
}

func TestModprobeErrors(t *testing.T) {
	m := Boot(t)
	if err := m.K.Modprobe("nosuchmod", nil); !errors.Is(err, linuxerr.ENOENT) {
		t.Fatal(err)
	}
	if err := m.K.Modprobe("brd", map[string]string{"rd_nr": "x"}); !errors.Is(err, linuxerr.EINVAL) {
		t.Fatal(err)
	}
	m.ExpectLog("<3>brd: 'x' invalid for parameter 'rd_nr'")
	if m.K.ModuleLoaded("brd") {
		t.Fatal("brd loaded after a bad argument")
	}
	if err := m.K.Modprobe("dm-probe", nil); err != nil {
		t.Fatal(err)
	}
	if !m.K.ModuleLoaded("dm_probe") || m.K.ModuleParam("dm_probe", "knob") != "7" {
		t.Fatal("dm_probe")
	}
	if err := m.K.SysfsWrite("/sys/module/dm_probe/parameters/knob", "12\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.K.SysfsRead("/sys/module/dm_probe/parameters/knob"); got != "12\n" {
		t.Fatalf("knob %q", got)
	}
	if err := m.K.SysfsWrite("/sys/module/dm_probe/parameters/knob", "-1"); !errors.Is(err, linuxerr.EINVAL) {
		t.Fatal(err)
	}
	if err := m.K.SysfsWrite("/sys/module/dm_probe/parameters/fixed", "y"); !errors.Is(err, linuxerr.EACCES) {
		t.Fatal(err)
	}
	if _, err := m.K.SysfsRead("/sys/module/dm_probe/parameters/nope"); !errors.Is(err, linuxerr.ENOENT) {
		t.Fatal(err)
	}
	if got, _ := m.K.SysfsRead("/sys/module/dm_mod/parameters/reserved_bio_based_ios"); got != "16\n" {
		t.Fatalf("dm_mod param %q", got)
	}
	if got := m.K.LoadedModules(); !reflect.DeepEqual(got, []string{"dm_probe", "dm_mod"}) {
		t.Fatalf("modules %v", got)
	}
}

func TestLoop(t *testing.T) {
	m := Boot(t)
	if err := m.K.LoopSetFile(0, "/nonexistent", false); !errors.Is(err, linuxerr.ENXIO) {
		t.Fatalf("loop without module: %v", err)
	}
	if err := m.K.Modprobe("loop", nil); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog("<6>loop: module loaded")
	var names []string
	for n := range m.K.DevNodes("/dev") {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "loop0 loop1 loop2 loop3 loop4 loop5 loop6 loop7" {
		t.Fatalf("nodes %v", names)
	}
	if m.Bdev("/dev/loop3").Size() != 0 {
		t.Fatal("unbound loop has a size")
	}
	file := filepath.Join(t.TempDir(), "backing")
	os.WriteFile(file, bytes.Repeat([]byte{'L'}, 1<<20), 0o644)
	if err := m.K.LoopSetFile(0, file, false); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog("<6>loop0: detected capacity change from 0 to 2048")
	if err := m.K.LoopSetFile(0, file, false); !errors.Is(err, linuxerr.EBUSY) {
		t.Fatal(err)
	}
	if p, ok := m.K.LoopFile(0); !ok || p != file {
		t.Fatal("LoopFile")
	}
	if got := m.Read("/dev/loop0", 2047, 512); got[511] != 'L' {
		t.Fatal("loop read")
	}
	m.Write("/dev/loop0", 0, Pattern('w', 512))
	b, _ := os.ReadFile(file)
	if b[0] != 'w' {
		t.Fatal("loop write")
	}
	if got, _ := m.K.SysfsRead("/sys/block/loop0/loop/backing_file"); got != file+"\n" {
		t.Fatalf("backing_file %q", got)
	}
	if n, _ := m.K.LoopGetFree(); n != 1 {
		t.Fatalf("free %d", n)
	}
	// A table holds the loop device: detaching is deferred to the last close.
	m.MustCreate("onloop", Spec(0, 2048, "linear", "/dev/loop0 0"))
	if err := m.K.LoopClear(0); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.K.LoopFile(0); !ok {
		t.Fatal("detached while in use")
	}
	m.API.DevRemove(ref("onloop"), noFlags)
	if _, ok := m.K.LoopFile(0); ok {
		t.Fatal("autoclear did not detach")
	}
	if err := m.K.LoopClear(0); !errors.Is(err, linuxerr.ENXIO) {
		t.Fatal(err)
	}
	// Attaching a higher number creates the device.
	if err := m.K.LoopSetFile(12, file, true); err != nil {
		t.Fatal(err)
	}
	if !m.Bdev("/dev/loop12").ReadOnly() {
		t.Fatal("not read-only")
	}
	m.Log()
}

func TestSysfsAndProc(t *testing.T) {
	m := probeBoot(t, meta, data)
	m.MustCreate("lin", Spec(0, 1024, "linear", "/dev/vda 0"))
	m.MustCreate("st", Spec(0, 2048, "striped", "2 256 /dev/vda 1024 /dev/vdb 0"))
	m.MustCreate("opt", Spec(0, 1024, "probe", "dev=/dev/vdb ioopt=524288"))
	m.API.DevCreate("empty", "UUID-E", noFlags)
	reads := map[string]string{
		"/sys/block/vda/size":                       "8192\n",
		"/sys/block/vda/dev":                        "254:0\n",
		"/sys/block/vda/queue/logical_block_size":   "512\n",
		"/sys/block/vda/queue/discard_max_bytes":    "2147483136\n",
		"/sys/block/vda/queue/write_cache":          "write back\n",
		"/sys/block/vda/queue/rotational":           "1\n",
		"/sys/block/vda/bdi/read_ahead_kb":          "128\n",
		"/sys/block/dm-0/size":                      "1024\n",
		"/sys/block/dm-0/dm/name":                   "lin\n",
		"/sys/block/dm-0/dm/uuid":                   "\n",
		"/sys/block/dm-0/dm/suspended":              "0\n",
		"/sys/block/dm-0/queue/discard_max_bytes":   "2147483136\n",
		"/sys/dev/block/253:0/bdi/read_ahead_kb":    "128\n",
		"/sys/dev/block/253:0/queue/max_sectors_kb": "1280\n",
		// striped: io_opt = 2 x 128 KiB, read-ahead twice that.
		"/sys/block/dm-1/queue/optimal_io_size": "262144\n",
		"/sys/block/dm-1/queue/minimum_io_size": "131072\n",
		"/sys/block/dm-1/bdi/read_ahead_kb":     "512\n",
		"/sys/block/dm-2/bdi/read_ahead_kb":     "1024\n",
		// A target that takes no flushes: no write cache.
		"/sys/class/block/dm-2/queue/write_cache": "write through\n",
		"/sys/class/block/dm-1/queue/write_cache": "write back\n",
	}
	for p, want := range reads {
		got, err := m.K.SysfsRead(p)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := m.K.SysfsRead("/sys/block/dm-3/size"); !errors.Is(err, linuxerr.ENOENT) {
		t.Errorf("device without table in sysfs: %v", err)
	}
	if ra, _ := m.K.ReadAhead(dmsim.DevT{Major: 253, Minor: 2}); ra != 2048 {
		t.Errorf("read-ahead %d sectors", ra)
	}
	m.API.DevSuspend(ref("lin"), noFlags)
	if got, _ := m.K.SysfsRead("/sys/block/dm-0/dm/suspended"); got != "1\n" {
		t.Errorf("suspended %q", got)
	}
	if err := m.K.SysfsWrite("/sys/block/dm-0/queue/read_ahead_kb", "1000"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.K.SysfsRead("/sys/block/dm-0/bdi/read_ahead_kb"); got != "1000\n" {
		t.Errorf("read_ahead_kb after write %q", got)
	}
	if err := m.K.SysfsWrite("/sys/block/dm-0/size", "1"); !errors.Is(err, linuxerr.EACCES) {
		t.Errorf("write size: %v", err)
	}
	if got, _ := m.K.SysfsList("/sys/block/vda/holders"); !reflect.DeepEqual(got, []string{"dm-0", "dm-1"}) {
		t.Errorf("holders %v", got)
	}
	if got, _ := m.K.SysfsList("/sys/block/dm-1/slaves"); !reflect.DeepEqual(got, []string{"vda", "vdb"}) {
		t.Errorf("slaves %v", got)
	}
	if got, _ := m.K.SysfsList("/sys/block"); !reflect.DeepEqual(got, []string{"dm-0", "dm-1", "dm-2", "vda", "vdb"}) {
		t.Errorf("/sys/block %v", got)
	}
	want := "major minor  #blocks  name\n\n" +
		" 254        0       4096 vda\n" +
		" 254       16      65536 vdb\n" +
		" 253        0        512 dm-0\n" +
		" 253        1       1024 dm-1\n" +
		" 253        2        512 dm-2\n"
	if got, _ := m.K.SysfsRead("/proc/partitions"); got != want {
		t.Errorf("/proc/partitions:\n%s", got)
	}
	devs, _ := m.K.SysfsRead("/proc/devices")
	if !strings.Contains(devs, "\nBlock devices:\n253 device-mapper\n254 virtblk\n259 blkext\n") || !strings.Contains(devs, " 10 misc\n") {
		t.Errorf("/proc/devices:\n%s", devs)
	}
	if got, _ := m.K.SysfsRead("/proc/misc"); got != "236 device-mapper\n" {
		t.Errorf("/proc/misc %q", got)
	}
}

// dm_get_device's device lookup: numbers, nodes, and name_to_dev_t's
// fallbacks.
func TestGetDeviceLookup(t *testing.T) {
	m := Boot(t, meta, data)
	m.K.Mknod("/dev/mapper/alias", dmsim.DevT{Major: 254, Minor: 16})
	tests := []struct {
		path string
		dev  string
		err  linuxerr.Errno
	}{
		{"254:0", "254:0", 0},
		{"/dev/vdb", "254:16", 0},
		{"/dev/mapper/alias", "254:16", 0},
		{"/dev//vda", "254:0", 0},
		{"fe10", "254:16", 0},             // hexadecimal new_encode_dev
		{"/dev/vda1", "", linuxerr.ENXIO}, // a partition that does not exist
		{"254:1", "", linuxerr.ENXIO},
		{"4096:0", "", linuxerr.EOVERFLOW},
		{"1:1048576", "", linuxerr.EOVERFLOW},
		{"/dev/nonexistent", "", linuxerr.ENODEV},
		{"nonexistent", "", linuxerr.ENODEV},
		{"0", "", linuxerr.ENODEV},
		{"/dev/nfs", "", linuxerr.ENXIO},
		{"1:2:3", "", linuxerr.ENXIO}, // name_to_dev_t's M:m:offset form
	}
	m.API.DevCreate("g", "", noFlags)
	for _, tc := range tests {
		_, err := m.API.TableLoad(ref("g"), []dmsim.TargetSpec{Spec(0, 8, "linear", tc.path+" 0")}, noFlags)
		if linuxerr.ToErrno(err) != tc.err {
			t.Errorf("%s: err %v, want %v (log %q)", tc.path, err, tc.err, m.Log())
			continue
		}
		m.Log()
		if err != nil {
			continue
		}
		_, st, _ := m.API.TableStatus(ref("g"), dmsim.StatusTable, dmsim.IoctlFlags{Inactive: true})
		if got := strings.Fields(st[0].Params)[0]; got != tc.dev {
			t.Errorf("%s: resolved to %s, want %s", tc.path, got, tc.dev)
		}
	}
}
