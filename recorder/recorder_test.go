package recorder

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dmsim/dmsim/scenario"
)

// The guest runs exactly the commands the shared parser (package scenario) gives, boot by boot
// and in order: every scenario script, split at its `# reboot` lines, becomes one segment per
// boot whose /dmsim/cmd/N files hold the parsed commands (without their @) and whose boot.sh
// evals them in script order.
func TestGuestCommandsFromParser(t *testing.T) {
	files, _ := filepath.Glob("../scripts/*.sh")
	more, _ := filepath.Glob("../scripts/*/*.sh")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	// Silent commands, continuations, indented comments and reboots, which the scenarios may lack.
	fixture := filepath.Join(t.TempDir(), "fixture.sh")
	err := os.WriteFile(fixture, []byte("# disk: meta 4M\n@true\necho a \\\n  b\n  # c\n# reboot\n"+
		"@dmsetup ls\r\nx=1\n# reboot\n# reboot\necho $x\\"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, fixture)
	evalRE := regexp.MustCompile(`^eval "\$\(cat /dmsim/cmd/([0-9]+)\)"`)
	rebootRE := regexp.MustCompile(`(?m)^# reboot\r?$`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Parse(ScriptName(f), src)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, it := range s.Items {
			if it.Kind == scenario.Command {
				want = append(want, it.Cmd)
			}
		}
		boots := s.Commands()
		if n := len(rebootRE.FindAll(src, -1)); len(boots) != n+1 {
			t.Errorf("%s: %d boots for %d reboot lines", f, len(boots), n)
		}
		for i, cmds := range boots {
			entries := readCpio(t, segment(s, i+1, cmds))
			var order []string
			for _, l := range strings.Split(string(entries["dmsim/boot.sh"]), "\n") {
				if m := evalRE.FindStringSubmatch(l); m != nil {
					order = append(order, m[1])
				}
			}
			if len(order) != len(cmds) {
				t.Fatalf("%s: boot %d: boot.sh evals %d commands, the parser gives %d", f, i+1, len(order), len(cmds))
			}
			for _, n := range order {
				data, ok := entries["dmsim/cmd/"+n]
				if !ok {
					t.Fatalf("%s: boot %d: boot.sh runs /dmsim/cmd/%s, which the segment lacks", f, i+1, n)
				}
				got = append(got, string(data))
			}
			if len(entries) != len(cmds)+2 { // the commands, dmsim/cmd and dmsim/boot.sh
				t.Errorf("%s: boot %d: %d entries in the segment for %d commands", f, i+1, len(entries), len(cmds))
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: guest commands\n%q\nparser commands\n%q", f, got, want)
		}
	}
}

// readCpio decodes a newc archive written by cpioWriter: name -> data, up to the trailer.
func readCpio(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	pos := 0
	align := func() { pos = (pos + 3) &^ 3 }
	for {
		if pos+110 > len(b) || string(b[pos:pos+6]) != "070701" {
			t.Fatalf("bad cpio header at %d", pos)
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(string(b[pos+6+8*i:pos+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		size, namesize := field(6), field(11)
		pos += 110
		name := string(b[pos : pos+namesize-1])
		pos += namesize
		align()
		data := b[pos : pos+size]
		pos += size
		align()
		if name == "TRAILER!!!" {
			return out
		}
		out[name] = data
	}
}

func TestStreamAndTranscript(t *testing.T) {
	s, err := scenario.Parse("x", []byte("# c\necho a\n@false\n@true\nprintf x\n"))
	if err != nil {
		t.Fatal(err)
	}
	stream := "@@DMSIM BOOT 1\n@@DMSIM ENV 9\nkernel\tk\n" +
		"@@DMSIM CMD 1 0 2 0 45 1500000\na\n<4>k\n<4>hrtimer: interrupt took 389309092 ns\n" +
		"@@DMSIM CMD 2 1 0 3 0 -1\n\ne\n" +
		"@@DMSIM CMD 3 0 0 0 0\n" +
		"@@DMSIM CMD 4 0 1 0 0\nx" +
		"@@DMSIM END\n"
	br, err := parseStream([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if !br.Ended || br.Boot != 1 {
		t.Fatalf("ended %v boot %d", br.Ended, br.Boot)
	}
	for item, want := range map[int]int64{1: 1500000, 2: -1, 3: -1, 4: -1} {
		if got := br.Results[item].Start; got != want {
			t.Errorf("command %d: start %d, want %d", item, got, want)
		}
	}
	got := Transcript(s, formatEnv(br.Env, s), br.Results)
	want := "# env: kernel k\n# c\n$ echo a\n| a\nk <4>k\n[exit 0]\n$ false\n! \n! e\n[exit 1]\n$ printf x\n| x\n[exit 0]\n"
	if got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []string{"junk\n", "@@DMSIM CMD 1 0 5 0 0\nab", "@@DMSIM FOO\n", "@@DMSIM END\n@@DMSIM END\n", "@@DMSIM CMD 1 0 0 0 0 5 6\n"} {
		if _, err := parseStream([]byte(bad)); err == nil {
			t.Errorf("parseStream(%q): no error", bad)
		}
	}
}

// FuzzParseStream: any bytes from the guest's serial port decode or get an
// error, never a panic.
func FuzzParseStream(f *testing.F) {
	f.Add([]byte("@@DMSIM BOOT 1\n@@DMSIM CMD 1 0 2 0 0 17\nab@@DMSIM END\n"))
	f.Add([]byte("@@DMSIM CMD 1 0 -2 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStream(b)
	})
}

func TestSplitHalves(t *testing.T) {
	tests := []struct {
		name, src, build, reopen, wantErr string
	}{
		{name: "basic",
			src:    "# story\n# disk: meta 4M\n\n# disk: data 8M\ncreate\n# c\n# reboot\nopen \\\n x\n# reboot\nagain\n",
			build:  "# story\n# disk: meta 4M\n\n# disk: data 8M\ncreate\n# c\n",
			reopen: "# story\n# disk: meta 4M\n\n# disk: data 8M\nopen \\\n x\n# reboot\nagain\n"},
		{name: "no disks", src: "true\n# reboot\nfalse", build: "true\n", reopen: "false\n"},
		{name: "empty reopen", src: "true\n# reboot\n", build: "true\n", reopen: ""},
		{name: "no reboot", src: "# disk: a 1M\ntrue\n", wantErr: "no `# reboot`"},
		{name: "reboot first", src: "# disk: a 1M\n# reboot\ntrue\n", wantErr: "no command before"},
		{name: "bad script", src: "# disk: a 1X\n", wantErr: "bad disk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, r, err := SplitHalves("x", []byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.build || string(r) != tt.reopen {
				t.Fatalf("build %q reopen %q, want %q and %q", b, r, tt.build, tt.reopen)
			}
			// Both halves are scripts on the same disks.
			whole, _ := scenario.Parse("x", []byte(tt.src))
			for _, half := range [][]byte{b, r} {
				s, err := scenario.Parse("x", half)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(s.Disks, whole.Disks) {
					t.Errorf("disks %+v, want %+v", s.Disks, whole.Disks)
				}
			}
		})
	}
}

func TestCompareAndStatusLines(t *testing.T) {
	tr := "# env: kernel k\n# c\n$ dmsetup status pool\n| 0 8 thin-pool 0\n[exit 0]\n$ dmsetup status\n| a: 0 8 zero \n| b: 0 8 error \n! x\n[exit 0]\n$ dmsetup table\n| 0 8 zero \n[exit 0]\n"
	if got := CompareLines(tr); got != strings.TrimPrefix(tr, "# env: kernel k\n") {
		t.Errorf("CompareLines: %q", got)
	}
	want := []string{"dmsetup status pool: 0 8 thin-pool 0", "dmsetup status: a: 0 8 zero ", "dmsetup status: b: 0 8 error "}
	if got := StatusLines(tr); !reflect.DeepEqual(got, want) {
		t.Errorf("StatusLines = %q, want %q", got, want)
	}
}

// newDiskImage makes a sparse raw image where the host file system takes
// one that long and a qcow2 image where it refuses (EFBIG), and
// imageFormat recognises both; neither allocates the disk's size.
func TestNewDiskImage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		size int64
		raw  bool // must be raw (small enough for any file system)
	}{{"small", 4 << 20, true}, {"64T", 64 << 40, false}} {
		p := filepath.Join(dir, c.name+".img")
		format, err := newDiskImage(p, c.size)
		if errors.Is(err, exec.ErrNotFound) {
			t.Logf("%s: %v (no qemu-img)", c.name, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.raw && format != "raw" {
			t.Errorf("%s: format %s, want raw", c.name, format)
		}
		if got, err := imageFormat(p); err != nil || got != format {
			t.Errorf("%s: imageFormat = %s, %v, want %s", c.name, got, err, format)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if format == "raw" && st.Size != c.size {
			t.Errorf("%s: raw image of %d bytes, want %d", c.name, st.Size, c.size)
		}
		if st.Blocks*512 > 4<<20 { // qcow2: 1 MiB of L1 table for 64 TiB
			t.Errorf("%s: %s image allocates %d bytes, want a sparse one", c.name, format, st.Blocks*512)
		}
	}
}
