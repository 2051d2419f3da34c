// Package shapes checks, with today's `dmsim run`, that dmsim's dmsetup
// answers every argv shape containerd's devmapper snapshotter (v2.3.4) uses
// the way containerd reads it. The calls follow TestDMSetup and
// TestPoolDevice, with the pool on emulated disks instead of host loop
// devices (the front end that provides those is issue 9). See README.md,
// "dmsetup argv shapes".
package shapes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const infoArgs = `info --columns --noheadings -o name,blkdevname,attr,major,minor,open,segments,events --separator " " `

// step is one dmsetup (or blkdiscard) call and what containerd requires of it.
type step struct {
	cmd   string
	exit  int
	out   string        // if set: the TrimSpace'd merged output, exactly
	errno syscall.Errno // if set: the errno containerd maps the output to
	attr  string        // if set: an info call; these attr letters must be present...
	noAt  string        // ...and these absent
	open  int           // info's open count
}

var steps = []step{
	// TestDMSetup, in order (16 MiB pool devices).
	{cmd: `dmsetup version`, out: "Library version:   1.02.185 (2022-05-18)\nDriver version:    4.47.0"},
	{cmd: `dmsetup create test-pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 32768 1 skip_block_zeroing"`},
	{cmd: `dmsetup table test-pool`, out: "0 32768 thin-pool 254:0 254:16 128 32768 1 skip_block_zeroing"},
	{cmd: `dmsetup reload test-pool --table "0 32768 thin-pool $DISK_meta $DISK_data 256 32768 1 skip_block_zeroing"`},
	{cmd: `dmsetup message test-pool 0 "create_thin 1"`},
	{cmd: `dmsetup message test-pool 0 "create_thin 1"`, exit: 1, errno: syscall.EEXIST},
	{cmd: `dmsetup ` + infoArgs + `test-pool`, attr: "LI", noAt: "sr"},
	{cmd: `dmsetup message test-pool 0 "create_snap 2 1"`},
	{cmd: `dmsetup message test-pool 0 "delete 2"`},
	{cmd: `dmsetup message test-pool 0 "delete 2"`, exit: 1, errno: syscall.ENODATA},
	{cmd: `dmsetup create test-device --table "0 2 thin /dev/mapper/test-pool 1"`},
	{cmd: `dmsetup create test-device --table "0 2 thin /dev/mapper/test-pool 1"`, exit: 1, errno: syscall.EBUSY},
	{cmd: `dmsetup ` + infoArgs + `test-pool`, attr: "L", open: 1}, // test-device holds the pool
	{cmd: `dmsetup status test-device`, out: "0 2 thin 0 -"},
	{cmd: `dmsetup suspend test-device`},
	{cmd: `dmsetup suspend test-device`},
	{cmd: `dmsetup ` + infoArgs + `test-device`, attr: "Ls"},
	{cmd: `dmsetup resume test-device`},
	{cmd: `dmsetup resume test-device`},
	{cmd: `dmsetup ` + infoArgs + `test-device`, attr: "L", noAt: "s"},
	{cmd: `blkdiscard /dev/mapper/test-device`},
	{cmd: `dmsetup remove /dev/mapper/test-pool`, exit: 1, errno: syscall.EBUSY},
	{cmd: `dmsetup remove --retry /dev/mapper/test-device`},
	{cmd: `dmsetup remove --force --retry /dev/mapper/test-pool`},
	{cmd: `dmsetup version`, out: "Library version:   1.02.185 (2022-05-18)\nDriver version:    4.47.0"},

	// TestPoolDevice's shapes (128 MiB pool devices, 64 KiB blocks).
	{cmd: `dmsetup create pool-2 --table "0 262144 thin-pool $DISK_meta2 $DISK_data2 128 32768 1 skip_block_zeroing"`},
	{cmd: `dmsetup ` + infoArgs + `/dev/mapper/pool-2`, attr: "L", noAt: "Is"},
	{cmd: `dmsetup message pool-2 0 "create_thin 0"`},
	{cmd: `dmsetup create thin-1 --table "0 1953 thin /dev/mapper/pool-2 0"`},
	{cmd: `dmsetup status thin-1`, out: "0 1953 thin 0 -"},
	{cmd: `dd if=/dev/zero of=/dev/mapper/thin-1 bs=4K count=16 oflag=direct status=none`},
	{cmd: `dmsetup status thin-1`, out: "0 1953 thin 128 127"},
	{cmd: `dmsetup ` + infoArgs + `thin-1`, attr: "L", noAt: "s"},
	{cmd: `dmsetup suspend thin-1`},
	{cmd: `dmsetup message pool-2 0 "create_snap 1 0"`},
	{cmd: `dmsetup resume thin-1`},
	{cmd: `dmsetup create snap-1 --table "0 1953 thin /dev/mapper/pool-2 1"`},
	{cmd: `blkdiscard /dev/mapper/snap-1`},
	{cmd: `dmsetup remove --retry --force /dev/mapper/snap-1`},
	{cmd: `dmsetup ` + infoArgs + `snap-1`, exit: 1, out: "Device does not exist.\nCommand failed."},
	{cmd: `dmsetup remove --retry --force /dev/mapper/snap-1`, exit: 1, errno: syscall.ENXIO},
	{cmd: `dmsetup message pool-2 0 "delete 1"`},
	{cmd: `dmsetup remove --retry --deferred /dev/mapper/thin-1`},
	{cmd: `dmsetup remove --retry --deferred --force /dev/mapper/thin-1`, exit: 1, errno: syscall.ENXIO},
	{cmd: `dmsetup remove --force --retry --deferred /dev/mapper/pool-2`},
}

const header = `# disk: meta 16M
# disk: data 16M
# disk: meta2 128M
# disk: data2 128M
`

// tryGetUnixError is containerd's rule (plugins/snapshots/devmapper/dmsetup,
// tryGetUnixError and parseDmsetupError), restated: the first line of the
// merged output, and only if another line follows; "…not found" is ENXIO,
// else the lower-cased text after the last "failed: " names the errno.
func tryGetUnixError(output string) (syscall.Errno, bool) {
	first, _, ok := strings.Cut(output, "\n")
	if !ok {
		return 0, false
	}
	if strings.HasSuffix(first, "not found") {
		return syscall.ENXIO, true
	}
	i := strings.LastIndex(first, "failed: ")
	if i < 0 {
		return 0, false
	}
	text := strings.ToLower(first[i+len("failed: "):])
	for e := syscall.EPERM; e <= syscall.Errno(133); e++ { // EHWPOISON
		if e.Error() == text {
			return e, true
		}
	}
	return 0, false
}

// call is one command of a `dmsim run` transcript.
type call struct {
	cmd    string
	output []string // stdout lines, then stderr lines (CombinedOutput order when only one is used)
	exit   int
}

func parseTranscript(t *testing.T, b []byte) []call {
	var calls []call
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "$ "):
			calls = append(calls, call{cmd: l[2:]})
		case len(calls) == 0:
		case strings.HasPrefix(l, "| "), strings.HasPrefix(l, "! "):
			calls[len(calls)-1].output = append(calls[len(calls)-1].output, l[2:])
		case strings.HasPrefix(l, "[exit "):
			if _, err := fmt.Sscanf(l, "[exit %d]", &calls[len(calls)-1].exit); err != nil {
				t.Fatalf("transcript line %q: %v", l, err)
			}
		}
	}
	return calls
}

// dmsimBinary builds cmd/dmsim of the repository this module lives in.
func dmsimBinary(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/dmsim/dmsim\n")) {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("not inside the dmsim repository: no cmd/dmsim to build")
		}
		dir = parent
	}
	bin := filepath.Join(t.TempDir(), "dmsim")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/dmsim")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dmsim: %v\n%s", err, out)
	}
	return bin
}

func TestContainerdShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/dmsim")
	}
	bin := dmsimBinary(t)
	var script strings.Builder
	script.WriteString(header)
	for _, s := range steps {
		script.WriteString(s.cmd + "\n")
	}
	path := filepath.Join(t.TempDir(), "containerd.sh")
	if err := os.WriteFile(path, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "run", "--command-time", "0", path).Output()
	if err != nil {
		t.Fatalf("dmsim run: %v", err)
	}
	calls := parseTranscript(t, out)
	if len(calls) != len(steps) {
		t.Fatalf("transcript has %d commands, want %d:\n%s", len(calls), len(steps), out)
	}
	for i, s := range steps {
		c := calls[i]
		merged := strings.Join(c.output, "\n")
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			if c.cmd != s.cmd {
				t.Fatalf("transcript command %q, want %q", c.cmd, s.cmd)
			}
			if c.exit != s.exit {
				t.Errorf("%s: exit %d, want %d; output:\n%s", s.cmd, c.exit, s.exit, merged)
			}
			if s.out != "" && strings.TrimSpace(merged) != s.out {
				t.Errorf("%s: output\n%q\nwant\n%q", s.cmd, strings.TrimSpace(merged), s.out)
			}
			if s.errno != 0 {
				if e, ok := tryGetUnixError(merged + "\n"); !ok || e != s.errno {
					t.Errorf("%s: containerd reads errno %v (found %v) from\n%s\nwant %v", s.cmd, e, ok, merged, s.errno)
				}
			}
			if s.attr != "" {
				checkInfo(t, s, merged)
			}
		})
	}
}

// checkInfo parses an info line the way containerd's dmsetup.Info does.
func checkInfo(t *testing.T, s step, out string) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("%s: %d lines, containerd wants 1:\n%s", s.cmd, len(lines), out)
	}
	var name, blk, attr string
	var major, minor, open, segs, events uint32
	if _, err := fmt.Sscan(lines[0], &name, &blk, &attr, &major, &minor, &open, &segs, &events); err != nil {
		t.Fatalf("%s: containerd cannot parse %q: %v", s.cmd, lines[0], err)
	}
	wantName := s.cmd[strings.LastIndexAny(s.cmd, " /")+1:]
	if name != wantName {
		t.Errorf("%s: name %q, want %q", s.cmd, name, wantName)
	}
	for _, a := range s.attr {
		if !strings.ContainsRune(attr, a) {
			t.Errorf("%s: attr %q lacks %q", s.cmd, attr, a)
		}
	}
	for _, a := range s.noAt {
		if strings.ContainsRune(attr, a) {
			t.Errorf("%s: attr %q has %q", s.cmd, attr, a)
		}
	}
	if int(open) != s.open {
		t.Errorf("%s: open count %d, want %d", s.cmd, open, s.open)
	}
	if segs != 1 {
		t.Errorf("%s: %d segments, want 1", s.cmd, segs)
	}
}

func TestTryGetUnixError(t *testing.T) {
	tests := []struct {
		out  string
		want syscall.Errno
		ok   bool
	}{
		{"device-mapper: message ioctl on p  failed: File exists\nCommand failed.\n", syscall.EEXIST, true},
		{"device-mapper: message ioctl on p  failed: No data available\nCommand failed.\n", syscall.ENODATA, true},
		{"device-mapper: remove ioctl on p  failed: Device or resource busy\nCommand failed.\n", syscall.EBUSY, true},
		{"Device /dev/mapper/x not found\nCommand failed.\n", syscall.ENXIO, true},
		{"/dev/mapper/control: open failed: No such device\nFailure to communicate with kernel device-mapper driver.\n", syscall.ENODEV, true},
		{"device-mapper: message ioctl on p  failed: File exists", 0, false}, // one line only
		{"Device does not exist.\nCommand failed.\n", 0, false},
		{"udev warning\ndevice-mapper: create ioctl on x  failed: Device or resource busy\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := tryGetUnixError(tt.out)
		if got != tt.want || ok != tt.ok {
			t.Errorf("tryGetUnixError(%q) = %v, %v; want %v, %v", tt.out, got, ok, tt.want, tt.ok)
		}
	}
}
