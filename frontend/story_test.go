package frontend

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dmsim/dmsim/internal/hostcaps"
	"github.com/dmsim/dmsim/internal/realtools"
)

// hostLoop attaches a loop device to a new sparse file of size bytes, as
// containerd attaches its pool's files, and detaches it at the end.
func hostLoop(t *testing.T, size int64) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "loop-*.img")
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	out, err := exec.Command("losetup", "--find", "--show", f.Name()).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// frozen reports whether the file system mounted on mnt is frozen: a
// second FIFREEZE then fails with EBUSY.
func frozen(t *testing.T, mnt string) bool {
	f, err := os.Open(mnt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fiFreeze, 0)
	if e == 0 {
		unix.Syscall(unix.SYS_IOCTL, f.Fd(), fiThaw, 0)
		return false
	}
	return e == unix.EBUSY
}

// TestFileSystemStory: a pool on the host's loop devices; ext4 on a 1 GiB
// thin with 100 MiB of files; a snapshot taken under a suspend that freezes
// the file system; the snapshot mounted read-only holds the same files;
// the status shows the blocks; the real thin_check finds the metadata clean
// once everything is removed.
func TestFileSystemStory(t *testing.T) {
	hostcaps.RequireLoop(t, "mkfs.ext4", "mount", "umount")
	thinCheck := realtools.Path(t, "thin_check")
	meta, data := hostLoop(t, 16<<20), hostLoop(t, 2<<30)
	state := t.TempDir()
	mapper := filepath.Join(state, "mapper")
	d, err := Start(t.Context(), Config{StateDir: state, Socket: filepath.Join(state, socketFile), MapperDir: mapper, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dm := func(argv ...string) string {
		t.Helper()
		r := shimRun(d, "", append([]string{"dmsetup"}, argv...)...)
		if r.status != 0 {
			t.Fatalf("dmsetup %v: %+v", argv, r)
		}
		return r.stdout
	}
	dm("create", "pool", "--table", "0 4194304 thin-pool "+meta+" "+data+" 128 0")
	if table := dm("table", "pool"); !strings.Contains(table, " 7:") {
		t.Errorf("the pool's table does not name the host's loop devices by number: %q", table)
	}
	dm("message", "pool", "0", "create_thin 0")
	dm("create", "thin", "--table", "0 2097152 thin /dev/mapper/pool 0")
	thin := filepath.Join(mapper, "thin")
	sh(t, "mkfs.ext4", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1", thin)
	mnt := filepath.Join(state, "mnt")
	os.Mkdir(mnt, 0o755)
	sh(t, "mount", thin, mnt)
	defer exec.Command("umount", mnt).Run()

	sums := map[string][32]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for i := range 100 {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(filepath.Join(mnt, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = sha256.Sum256(buf)
	}

	dm("suspend", "thin")
	if !frozen(t, mnt) {
		t.Error("suspend without --nolockfs did not freeze the file system")
	}
	dm("message", "pool", "0", "create_snap 1 0")
	dm("resume", "thin")
	if frozen(t, mnt) {
		t.Error("resume did not thaw the file system")
	}
	dm("create", "snap", "--table", "0 2097152 thin /dev/mapper/pool 1")
	snapMnt := filepath.Join(state, "snap")
	os.Mkdir(snapMnt, 0o755)
	sh(t, "mount", "-o", "ro,noload", filepath.Join(mapper, "snap"), snapMnt)
	defer exec.Command("umount", snapMnt).Run()
	for name, want := range sums {
		b, err := os.ReadFile(filepath.Join(snapMnt, name))
		if err != nil || sha256.Sum256(b) != want {
			t.Errorf("%s on the snapshot: %v, checksum differs: %v", name, err, sha256.Sum256(b) != want)
		}
	}

	// thin-pool <transaction> <used meta>/<total> <used data>/<total> ...
	f := strings.Fields(dm("status", "pool"))
	used, _ := strconv.Atoi(strings.Split(f[5], "/")[0])
	if used*64<<10 < 100<<20 {
		t.Errorf("status shows %d data blocks of 64 KiB in use, fewer than 100 MiB: %v", used, f)
	}
	if r := shimRun(d, "", "dmsetup", "remove", "thin"); r.status != 1 || !strings.Contains(r.stderr, "Device or resource busy") {
		t.Errorf("remove of a mounted thin: %+v", r)
	}
	// A deferred remove of the mounted snapshot happens at the unmount.
	dm("remove", "--deferred", "snap")
	if out := dm("info", "snap"); !strings.Contains(out, "(DEFERRED REMOVE)") {
		t.Errorf("the deferred remove is not shown: %q", out)
	}
	sh(t, "umount", snapMnt)
	for i := 0; shimRun(d, "", "dmsetup", "info", "snap").status == 0; i++ {
		if i == 100 {
			t.Fatal("the snapshot was not removed after its unmount")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sh(t, "umount", mnt)
	dm("remove", "thin", "pool")
	if ents, _ := os.ReadDir(mapper); len(ents) != 0 {
		t.Errorf("links left in %s: %v", mapper, ents)
	}
	if out, err := exec.Command(thinCheck, meta).CombinedOutput(); err != nil {
		t.Errorf("thin_check %s: %v: %s", meta, err, out)
	}
}

// TestRestartDetachesStaleLoops: after a power cut (SIGKILL), the next
// daemon on the state directory detaches the loop devices the dead one had
// attached, replaces its dead link at the shims' socket path, and serves.
func TestRestartDetachesStaleLoops(t *testing.T) {
	hostcaps.RequireLoop(t)
	state := t.TempDir()
	cfg := Config{StateDir: state, Disks: testDisks, Socket: filepath.Join(t.TempDir(), "run", "dmsim.sock"),
		MapperDir: filepath.Join(state, "mapper"), Log: io.Discard}
	d, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := shimRun(d, "", "dmsetup", "create", "z", "--table", "0 2048 zero"); r.status != 0 {
		t.Fatalf("create: %+v", r)
	}
	stale := loopsUnder(t, filepath.Join(state, "devices"))
	if len(stale) != 1 {
		t.Fatalf("loop devices on the daemon's files: %v, want one", stale)
	}
	d.powerCut()
	d, err = Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer d.Close()
	// By name: once its file system is gone, a loop device shows its file
	// under another path.
	if _, err := os.Stat("/sys/block/" + filepath.Base(stale[0]) + "/loop/backing_file"); err == nil {
		t.Errorf("%s, the dead daemon's, is still attached", stale[0])
	}
	if r := shimRun(d, "", "dmsetup", "ls"); r != (result{"No devices found\n", "", 0}) {
		t.Errorf("after the restart: %+v", r)
	}
}

// loopsUnder lists the loop devices whose backing file is under dir.
func loopsUnder(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output()
	if err != nil {
		t.Fatal(err)
	}
	var loops []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], dir+"/") {
			loops = append(loops, f[0])
		}
	}
	return loops
}
