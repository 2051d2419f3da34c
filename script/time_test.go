package script

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/scenario"
)

// Every line costs the machine's CommandTime in virtual time, silent lines
// too; comments cost nothing (they are not run).
func TestCommandTime(t *testing.T) {
	for _, c := range []struct {
		cost  time.Duration
		lines []string
		want  time.Duration
	}{
		{DefaultCommandTime, []string{"true"}, DefaultCommandTime},
		{DefaultCommandTime, []string{"true", "false", "sleep 2"}, 3*DefaultCommandTime + 2*time.Second},
		{0, []string{"true", "sleep 1", "sleep 0.5"}, 1500 * time.Millisecond},
		{time.Second, []string{"true; true", "x=1"}, 2 * time.Second},
	} {
		m, err := Boot(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.CommandTime != DefaultCommandTime {
			t.Errorf("Boot: CommandTime %v, want DefaultCommandTime", m.CommandTime)
		}
		m.CommandTime = c.cost
		for _, l := range c.lines {
			m.Exec(context.Background(), l, io.Discard, io.Discard)
		}
		if got := m.Kernel.Clock.Now(); got != c.want {
			t.Errorf("cost %v, %q: clock at %v, want %v", c.cost, c.lines, got, c.want)
		}
		m.Halt()
	}
}

// Options.CommandTime: 0 is the default, negative none; the periodic
// commit fires between lines.
func TestOptionsCommandTime(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, DefaultCommandTime}, {-1, 0}, {time.Second, time.Second},
	} {
		if got := (Config{CommandTime: c.in}).commandTime(); got != c.want { // what Run passes Options.CommandTime to
			t.Errorf("CommandTime %v: %v, want %v", c.in, got, c.want)
		}
	}
	// The pool commits every second when its metadata changed: with a cost
	// per line, commits fall between the writes, which moves the blocks
	// the metadata snapshot's root lands on (the last status field).
	src := []byte(`# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dd if=/dev/zero of=/dev/mapper/thin bs=64K count=1 oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/thin bs=64K count=1 seek=1 oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/thin bs=64K count=1 seek=2 oflag=direct status=none
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
`)
	s, err := scenario.Parse("t", src)
	if err != nil {
		t.Fatal(err)
	}
	root := map[time.Duration]string{}
	for _, cost := range []time.Duration{-1, 600 * time.Millisecond} {
		res, err := Run(context.Background(), s, Options{CommandTime: cost})
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(res.Transcript, "| 0 32768 thin-pool ")
		if i < 0 {
			t.Fatalf("no pool status:\n%s", res.Transcript)
		}
		root[cost] = strings.Fields(res.Transcript[i:])[7]
	}
	if root[-1] == root[600*time.Millisecond] {
		t.Errorf("the held root is %s with and without a cost per line: no commit between the writes", root[-1])
	}
}

// --keep DIR keeps each disk's image as DIR/NAME.img (NAME the disk's name);
// --disk NAME=PATH attaches an image in place, which is not copied there.
func TestKeepImages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kept")
	attached := filepath.Join(t.TempDir(), "mine.img")
	if err := os.WriteFile(attached, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse("t", []byte("# disk: meta 4M\n# disk: other 1M\n# disk: data 2M nodiscard\n"+
		"echo kept | dd of=$DISK_data conv=notrunc status=none\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), s, Options{KeepDir: dir, Disks: map[string]string{"other": attached}})
	if err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int64{"meta": 4 << 20, "data": 2 << 20} {
		p := filepath.Join(dir, name+".img")
		fi, err := os.Stat(p)
		if err != nil || fi.Size() != size || res.Images[name] != p {
			t.Errorf("%s: %v, size %v, Images %q (want %s, %d bytes)", name, err, fi, res.Images[name], p, size)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "data.img")); !strings.HasPrefix(string(b), "kept\n") {
		t.Errorf("data.img does not hold what the script wrote: %q", b[:8])
	}
	if _, err := os.Stat(filepath.Join(dir, "other.img")); err == nil || res.Images["other"] != attached {
		t.Errorf("attached disk: kept a copy (%v) or Images[other] = %q", err, res.Images["other"])
	}
}
