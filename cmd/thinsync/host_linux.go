package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/thinsync"
)

// hostSys is thinsync's Sys on Linux: os/exec, open(2) with O_DIRECT,
// fsync, BLKDISCARD and BLKGETSIZE64.
type hostSys struct {
	sig    chan os.Signal
	killed atomic.Int32 // the signal that arrived
}

func newHostSys() *hostSys {
	s := &hostSys{sig: make(chan os.Signal, 1)}
	signal.Notify(s.sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for v := range s.sig {
			s.killed.CompareAndSwap(0, int32(v.(syscall.Signal)))
		}
	}()
	return s
}

// die ends the process by the signal it was sent, after thinsync cleaned up.
func (s *hostSys) die() {
	sig := syscall.Signal(s.killed.Load())
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	signal.Reset(sig)
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	os.Exit(128 + int(sig))
}

func (s *hostSys) Exec(argv []string, nokill bool) ([]byte, []byte, int) {
	var out, errb bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	// Its own process group: a terminal's ^C reaches thinsync, which cleans up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				return out.Bytes(), errb.Bytes(), 128 + int(st.Signal())
			}
			return out.Bytes(), errb.Bytes(), ee.ExitCode()
		}
		errb.WriteString(argv[0] + ": " + linuxerr.Strerror(err) + "\n")
		return out.Bytes(), errb.Bytes(), 127
	}
	return out.Bytes(), errb.Bytes(), 0
}

func (s *hostSys) Open(name string, flag int) (thinsync.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	return hostFile{f}, nil
}

func (s *hostSys) ReadDir(name string) ([]string, error) {
	d, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(d))
	for i, e := range d {
		out[i] = e.Name()
	}
	sort.Strings(out)
	return out, nil
}

func (s *hostSys) Remove(name string) error { return os.Remove(name) }

func (s *hostSys) IsDevice(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
}

func (s *hostSys) Stdin() io.Reader  { return os.Stdin }
func (s *hostSys) Stdout() io.Writer { return os.Stdout }
func (s *hostSys) Stderr() io.Writer { return os.Stderr }
func (s *hostSys) Killed() bool      { return s.killed.Load() != 0 }
func (s *hostSys) Now() time.Time    { return time.Now() }

func (s *hostSys) Sleep(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) && !s.Killed() {
		time.Sleep(min(10*time.Millisecond, time.Until(end)))
	}
}

func (s *hostSys) Terminal() bool {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, os.Stderr.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return e == 0
}

type hostFile struct{ *os.File }

func (f hostFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return fi.Size(), nil
	}
	var n uint64
	const blkgetsize64 = 0x80081272
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), blkgetsize64, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, e
	}
	return int64(n), nil
}

func (f hostFile) Discard(off, length int64) error {
	const blkdiscard = 0x1277
	r := [2]uint64{uint64(off), uint64(length)}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), blkdiscard, uintptr(unsafe.Pointer(&r))); e != 0 {
		return e
	}
	return nil
}
