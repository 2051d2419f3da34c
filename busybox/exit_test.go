package busybox

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/sim"
	_ "github.com/dmsim/dmsim/targets/delay"
	_ "github.com/dmsim/dmsim/targets/linear"
	"github.com/dmsim/dmsim/userland"
)

// exitMachine is a kernel with one 1 MiB disk and a mapped device "d" on
// it (params: its table), seen through a SimFS. The test goroutine is not
// a clock actor: kernel calls from the test enter the clock themselves, so
// time can pass while a command waits.
type exitMachine struct {
	t  *testing.T
	k  *dmsim.Kernel
	fs *userland.SimFS
}

func bootExit(t *testing.T, typ, params string) *exitMachine {
	t.Helper()
	dir := t.TempDir()
	k, err := dmsim.NewKernel(dmsim.Config{Disks: []dmsim.DiskSpec{{Path: filepath.Join(dir, "a.img"), Size: 1 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Halt)
	sfs, err := userland.NewSimFS(k, filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	m := &exitMachine{t: t, k: k, fs: sfs}
	m.kernel(func(api dmsim.IoctlAPI) {
		if err := k.Modprobe("dm-"+typ, nil); err != nil && typ != "linear" {
			t.Fatal(err)
		}
		info, err := api.DevCreate("d", "", dmsim.IoctlFlags{})
		if err == nil {
			_, err = api.TableLoad(dmsim.DevRef{Dev: info.Dev}, []dmsim.TargetSpec{{Length: 2048, Type: typ, Params: params}}, dmsim.IoctlFlags{})
		}
		if err == nil {
			_, err = api.DevResume(dmsim.DevRef{Name: "d"}, dmsim.IoctlFlags{})
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	return m
}

// kernel runs f as a clock actor.
func (m *exitMachine) kernel(f func(api dmsim.IoctlAPI)) {
	m.k.Clock.Enter()
	defer m.k.Clock.Exit()
	f(m.k.Ioctl())
}

// openCount is the open count of "d" (dmsetup info's "Open count").
func (m *exitMachine) openCount() int {
	var info dmsim.DMInfo
	var err error
	m.kernel(func(api dmsim.IoctlAPI) { info, err = api.DevStatus(dmsim.DevRef{Name: "d"}, dmsim.IoctlFlags{}) })
	if err != nil {
		m.t.Fatal(err)
	}
	return info.OpenCount
}

func (m *exitMachine) proc(ctx context.Context, stdout *bytes.Buffer, args ...string) *userland.Proc {
	return &userland.Proc{Ctx: ctx, Args: args, Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stdout,
		Dir: "/tmp", FS: m.fs, Kernel: m.k}
}

// TestDDClosesWhenKilled: dd killed while its direct write to a delay
// device is held (SIGTERM from `timeout 3` while the write waits 5 s,
// uninterruptibly) dies once the write completes, with its output closed:
// the device can be removed (scripts/delay-basic.sh on the kernel). dd
// itself closes what it opened on every way out; the command runs alone
// here, without the exit of RunStatus that would close it anyway.
func TestDDClosesWhenKilled(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"direct", []string{"dd", "if=/dev/zero", "of=/dev/dm-0", "bs=4K", "count=2", "oflag=direct"}},
		{"buffered", []string{"dd", "if=/dev/zero", "of=/dev/dm-0", "bs=4K", "count=2", "conv=fsync"}},
		{"direct input", []string{"dd", "if=/dev/dm-0", "of=/dev/dm-0", "bs=4K", "count=2", "seek=4", "iflag=direct", "oflag=direct"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := bootExit(t, "delay", "/dev/vda 0 0 /dev/vda 0 5000")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out bytes.Buffer
			p := m.proc(ctx, &out, tc.args...)
			p.SetToken(sim.NewToken(m.k.Clock, nil))
			p.Token().Acquire()
			m.k.Clock.AfterFunc(3*time.Second, cancel)
			st := dd(p)
			p.Token().Release()
			if st != userland.Signaled(userland.SIGTERM) || out.Len() != 0 {
				t.Fatalf("status %d, output %q", st, out.String())
			}
			if n := m.openCount(); n != 0 {
				t.Fatalf("open count %d after dd died", n)
			}
			if now := m.k.Clock.Now(); now < 5*time.Second {
				t.Fatalf("dd died at %v, before its write completed", now)
			}
		})
	}
}

// epipeWriter is a pipe nobody reads.
type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) { return 0, linuxerr.EPIPE }

// TestExitClosesFiles: a command that dies (SIGPIPE while it copies a
// device to a pipe nobody reads, or SIGTERM) or returns with files open
// leaves nothing open: the process's exit closes them, as the kernel does.
func TestExitClosesFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		signal int
	}{
		{"cat SIGPIPE", []string{"cat", "/dev/dm-0"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
		{"head SIGPIPE", []string{"head", "-c", "8192", "/dev/dm-0"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
		{"od SIGPIPE", []string{"od", "-c", "/dev/dm-0"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
		{"md5sum", []string{"md5sum", "/dev/dm-0"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
		{"dd SIGPIPE", []string{"dd", "if=/dev/dm-0", "bs=4K", "count=2"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
		{"wc", []string{"wc", "-c", "/dev/dm-0"}, 128 + userland.SIGPIPE, userland.SIGPIPE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := bootExit(t, "linear", "/dev/vda 0")
			p := &userland.Proc{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: epipeWriter{},
				Stderr: &bytes.Buffer{}, Dir: "/tmp", FS: m.fs, Kernel: m.k}
			st, sig := userland.RunStatus(p, tc.args)
			if st != tc.status || sig != tc.signal {
				t.Fatalf("status %d signal %d, want %d %d", st, sig, tc.status, tc.signal)
			}
			if n := m.openCount(); n != 0 {
				t.Fatalf("open count %d after %s exited", n, tc.args[0])
			}
		})
	}
}
