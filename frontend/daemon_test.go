package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dmsim/dmsim/frontend/shim"
	"github.com/dmsim/dmsim/frontend/wire"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/thintools"
)

var testDisks = []script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 64 << 20}}

// start runs a daemon serving commands only (no root needed) on a state
// directory of its own; the socket is in the state directory.
func start(t *testing.T, state string) *Daemon {
	t.Helper()
	if state == "" {
		state = t.TempDir()
	}
	d, err := Start(t.Context(), Config{StateDir: state, Disks: testDisks, Socket: filepath.Join(state, socketFile),
		NoBlockDevices: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (d *Daemon) socket() string { return d.cfg.Socket }

type result struct {
	stdout, stderr string
	status         int
}

// shimRun runs one command line through the shim client.
func shimRun(d *Daemon, stdin string, argv ...string) result {
	var out, errb bytes.Buffer
	st := shim.Run(d.socket(), argv, strings.NewReader(stdin), false, &out, &errb)
	return result{out.String(), errb.String(), st}
}

// TestShimMatchesMachine: a command through a shim and the daemon prints
// what the same command prints in dmsim's own runner, byte for byte, and
// exits the same.
func TestShimMatchesMachine(t *testing.T) {
	d := start(t, "")
	m, err := script.NewMachine(script.Config{Disks: testDisks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct {
		stdin string
		argv  []string
	}{
		{"", []string{"dmsetup", "version"}},
		{"", []string{"dmsetup", "targets"}},
		{"", []string{"dmsetup", "ls"}},
		{"", []string{"dmsetup", "create", "pool", "--table", "0 131072 thin-pool /dev/vda /dev/vdb 128 0"}},
		{"", []string{"dmsetup", "message", "pool", "0", "create_thin 0"}},
		{"", []string{"dmsetup", "message", "pool", "0", "create_thin 0"}},
		{"", []string{"dmsetup", "message", "pool", "0", "delete 7"}},
		{"0 2048 thin /dev/mapper/pool 0\n", []string{"dmsetup", "create", "thin"}},
		{"", []string{"dmsetup", "create", "thin", "--table", "0 8 zero"}},
		{"", []string{"dmsetup", "table"}},
		{"", []string{"dmsetup", "status", "pool"}},
		{"", []string{"dmsetup", "info", "-c", "--noheadings", "-o", "name,blkdevname,attr,major,minor,open,segments,events", "--separator", " ", "thin"}},
		{"", []string{"dmsetup", "info", "nosuch"}},
		{"", []string{"dmsetup", "remove", "nosuch"}},
		{"", []string{"dmsetup", "remove", "/dev/mapper/nosuch"}},
		{"", []string{"dmsetup", "remove", "pool"}},
		{"", []string{"dmsetup", "suspend", "thin"}},
		{"", []string{"dmsetup", "resume", "thin"}},
		{"", []string{"dmsetup", "--bogus"}},
		{"", []string{"blockdev", "--getsz", "/dev/mapper/thin"}},
		{"", []string{"dmsetup", "remove", "thin", "pool"}},
		{"", []string{"thin_check", "/dev/vda"}},
		{"", []string{"dmsetup", "ls"}},
	} {
		got := shimRun(d, tc.stdin, tc.argv...)
		line := strings.Join(quoteArgs(tc.argv), " ")
		if tc.stdin != "" {
			line = "printf '" + strings.ReplaceAll(tc.stdin, "\n", `\n`) + "' | " + line
		}
		r, _ := m.Run(line)
		want := result{string(r.Stdout), string(r.Stderr), r.Status}
		if got != want {
			t.Errorf("%s:\n through the daemon %q %q exit %d\n in the runner      %q %q exit %d",
				line, got.stdout, got.stderr, got.status, want.stdout, want.stderr, want.status)
		}
	}
}

func quoteArgs(argv []string) []string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return q
}

// TestFilesRelativeToTheShim: a table file named relative to the shim's
// working directory is read from there.
func TestFilesRelativeToTheShim(t *testing.T) {
	d := start(t, "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "z.table"), []byte("0 64 zero\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		argv []string
		want result
	}{
		{[]string{"dmsetup", "create", "z", "z.table"}, result{"", "", 0}},
		{[]string{"dmsetup", "table", "z"}, result{"0 64 zero \n", "", 0}},
		{[]string{"dmsetup", "load", "z", "missing.table"}, result{"", "Couldn't open 'missing.table' for reading.\nCommand failed.\n", 1}},
		{[]string{"udevadm", "settle"}, result{"", "", 0}},
		{[]string{"frobnicate"}, result{"", "dmsim: frobnicate: command not supported\n", 127}},
	} {
		if got := shimRun(d, "", tc.argv...); got != tc.want {
			t.Errorf("%v: %q %q exit %d, want %q %q exit %d", tc.argv, got.stdout, got.stderr, got.status,
				tc.want.stdout, tc.want.stderr, tc.want.status)
		}
	}
}

// TestNoDaemon: a shim with nobody listening says so in one line, exit 1.
func TestNoDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "dmsim.sock")
	var out, errb bytes.Buffer
	st := shim.Run(sock, []string{"dmsetup", "ls"}, strings.NewReader(""), false, &out, &errb)
	if st != 1 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), sock) {
		t.Errorf("exit %d, stdout %q, stderr %q", st, out.String(), errb.String())
	}
}

// TestOneDaemonPerState: a second daemon on the same state directory is
// refused, naming the first one's pid.
func TestOneDaemonPerState(t *testing.T) {
	state := t.TempDir()
	start(t, state)
	_, err := Start(t.Context(), Config{StateDir: state, Disks: testDisks, Socket: filepath.Join(t.TempDir(), "s"),
		NoBlockDevices: true, Log: io.Discard})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second daemon: %v", err)
	}
}

// TestBadInput: garbage, a truncated request and a client that goes away
// mid-command get an error or are dropped; the daemon goes on serving.
func TestBadInput(t *testing.T) {
	d := start(t, "")
	dial := func() net.Conn {
		c, err := net.Dial("unix", d.socket())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Garbage: an error frame and exit 2.
	c := dial()
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	var stderr []byte
	status := -1
	for {
		f, err := wire.ReadFrame(c)
		if err != nil {
			break
		}
		switch f.Kind {
		case wire.KindStderr:
			stderr = append(stderr, f.Payload...)
		case wire.KindExit:
			status, _ = wire.DecodeExit(f.Payload)
		}
	}
	c.Close()
	if status != 2 || !strings.HasPrefix(string(stderr), "dmsim: bad request:") {
		t.Errorf("garbage: exit %d, stderr %q", status, stderr)
	}
	// A truncated request, then the connection closes.
	c = dial()
	c.Write([]byte{byte(wire.KindRequest), 0, 0, 1, 0, '{'})
	c.Close()
	// A bad request in a good frame.
	c = dial()
	wire.WriteFrame(c, wire.KindRequest, []byte(`{"argv":[],"dir":"/"}`))
	f, err := wire.ReadFrame(c)
	if err != nil || f.Kind != wire.KindStderr {
		t.Errorf("empty argv: %v %q", err, f.Kind)
	}
	c.Close()
	// A client that goes away while the command waits for its stdin.
	c = dial()
	wire.WriteFrame(c, wire.KindRequest, wire.EncodeRequest(wire.Request{Argv: []string{"dmsetup", "create", "gone"}, Dir: "/"}))
	if f, err := wire.ReadFrame(c); err != nil || f.Kind != wire.KindStdinWanted {
		t.Errorf("create without a table: %v %q, want a request for stdin", err, f.Kind)
	}
	c.Close()
	// The daemon still serves.
	if got := shimRun(d, "", "dmsetup", "create", "ok", "--table", "0 8 zero"); got.status != 0 {
		t.Fatalf("after bad input: %+v", got)
	}
}

// TestConcurrentShims: many shims at once, each with its own devices; names
// and minors are allocated atomically and nothing is lost.
func TestConcurrentShims(t *testing.T) {
	d := start(t, "")
	const n = 22
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("dev%d", i)
			for _, argv := range [][]string{
				{"dmsetup", "create", name, "--table", "0 8 zero"},
				{"dmsetup", "create", name + "-l", "--table", "0 8 linear /dev/mapper/" + name + " 0"},
				{"dmsetup", "message", name, "0", "hello"},
				{"dmsetup", "suspend", name + "-l"},
				{"dmsetup", "resume", name + "-l"},
				{"dmsetup", "remove", name + "-l", name},
			} {
				r := shimRun(d, "", argv...)
				want := 0
				if argv[1] == "message" {
					want = 1 // zero takes no messages
				}
				if r.status != want {
					errs <- fmt.Sprintf("%v: %+v", argv, r)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if r := shimRun(d, "", "dmsetup", "ls"); r.stdout != "No devices found\n" {
		t.Errorf("left over: %q", r.stdout)
	}
}

// TestRestartAfterPowerCut: a daemon that dies without a teardown (SIGKILL)
// leaves the images as a power cut would; the next one reopens them as
// after `# reboot`: no devices, committed metadata kept.
func TestRestartAfterPowerCut(t *testing.T) {
	state := t.TempDir()
	d := start(t, state)
	for _, argv := range [][]string{
		{"dmsetup", "create", "pool", "--table", "0 131072 thin-pool /dev/vda /dev/vdb 128 0"},
		{"dmsetup", "message", "pool", "0", "create_thin 0"},
		{"dmsetup", "status", "pool"}, // commits
	} {
		if r := shimRun(d, "", argv...); r.status != 0 {
			t.Fatalf("%v: %+v", argv, r)
		}
	}
	d.powerCut()
	d = start(t, state)
	for _, tc := range []struct {
		argv []string
		want result
	}{
		{[]string{"dmsetup", "ls"}, result{"No devices found\n", "", 0}},
		{[]string{"dmsetup", "create", "pool", "--table", "0 131072 thin-pool /dev/vda /dev/vdb 128 0"}, result{"", "", 0}},
		{[]string{"dmsetup", "message", "pool", "0", "create_thin 0"},
			result{"", "device-mapper: message ioctl on pool  failed: File exists\nCommand failed.\n", 1}},
	} {
		if got := shimRun(d, "", tc.argv...); got != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}

// powerCut stops the daemon the way SIGKILL would: the machine halts with
// no sync, teardown or flush of the disks' caches.
func (d *Daemon) powerCut() {
	d.closed.Do(func() {
		d.ln.Close()
		d.cancel()
		d.k.Halt()
		d.lock.Close()
	})
}

// TestUdevadm: `wait` returns once every node exists (or, with --removed,
// is gone) and times out otherwise; the other commands succeed at once.
func TestUdevadm(t *testing.T) {
	d := start(t, "")
	there := filepath.Join(t.TempDir(), "node")
	os.WriteFile(there, nil, 0o644)
	missing := filepath.Join(t.TempDir(), "missing")
	timedOut := result{"", "Timed out for waiting devices being initialized.\n", 1}
	for _, tc := range []struct {
		argv []string
		want result
	}{
		{[]string{"udevadm", "settle"}, result{}},
		{[]string{"udevadm", "trigger"}, result{}},
		{[]string{"udevadm", "wait", there}, result{}},
		{[]string{"udevadm", "wait", "-t", "0.05", there, missing}, timedOut},
		{[]string{"udevadm", "wait", "--timeout=0.05", missing}, timedOut},
		{[]string{"udevadm", "wait", "--removed", missing}, result{}},
		{[]string{"udevadm", "wait", "--removed", "--timeout=0.05", there}, timedOut},
		{[]string{"udevadm", "wait", "--timeout=x", there}, result{"", "udevadm: invalid timeout value 'x'\n", 1}},
		{[]string{"udevadm"}, result{"", "udevadm: missing command\n", 2}},
	} {
		if got := shimRun(d, "", tc.argv...); got != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}
