package thinsync_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
)

// status runs a line and returns its exit status and standard error.
func status(t testing.TB, m *script.Machine, line string) (int, string) {
	t.Helper()
	r, err := m.Run(line)
	var ee *script.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", line, err)
	}
	return r.Status, string(r.Stderr)
}

// TestRecvInPlace: receives onto a plain disk with an undo file. Every
// case starts from a disk holding the image of snapshot 1 (received in
// place from a full stream) and a stream s2, the incremental 1 -> 2.
// "want" is what the disk must hold afterwards: the image of snapshot 1
// or 2 (md5), after the exit statuses of the lines.
func TestRecvInPlace(t *testing.T) {
	// The undo in a file (truncated by each new receive) and on a device
	// (not truncated: the entries of the first receive stay behind).
	for _, undo := range []string{"/tmp/undo", "$DISK_u"} {
		t.Run(undo, func(t *testing.T) { testRecvInPlace(t, undo) })
	}
}

func testRecvInPlace(t *testing.T, undo string) {
	recv := "thinsync recv --to $DISK_t --undo " + undo
	for _, tc := range []struct {
		name  string
		lines []string
		codes []int
		want  int // 1 or 2
		msg   string
	}{
		{"incremental", []string{recv + " -i /tmp/s2"}, []int{0}, 2, ""},
		{"killed then abort", []string{recv + " -i /tmp/s2 --stop-after-records 2", recv + " --abort"}, []int{137, 0}, 1, ""},
		{"killed then resume", []string{recv + " -i /tmp/s2c --stop-after-records 3", recv + " -i /tmp/s2c --resume"}, []int{137, 0}, 2, ""},
		{"killed twice then abort", []string{recv + " -i /tmp/s2c --stop-after-records 3", recv + " -i /tmp/s2c --resume --stop-after-records 2", recv + " --abort"}, []int{137, 137, 0}, 1, ""},
		{"pending undo refused", []string{recv + " -i /tmp/s2 --stop-after-records 1", recv + " -i /tmp/s2", recv + " --abort"}, []int{137, 10, 0}, 1, "unfinished receive"},
		{"nothing to abort", []string{recv + " --abort"}, []int{10}, 1, "nothing to abort"},
		{"wrong base", []string{recv + " -i /tmp/s2", recv + " -i /tmp/s2"}, []int{0, 5}, 2, "not the stream's base"},
		{"truncated stream rolls back", []string{"head -c 200000 /tmp/s2 | " + recv}, []int{3}, 1, "stream refused"},
		{"size mismatch", []string{"thinsync recv --to $DISK_small --undo " + undo + " -i /tmp/s2"}, []int{7}, 1, "the stream's volume"},
		{"target in use", []string{`dmsetup create hold --table "0 8 linear $DISK_t 0"`, recv + " -i /tmp/s2", "dmsetup remove hold"}, []int{0, 6, 0}, 1, "open or mounted"},
		{"no undo", []string{"thinsync recv --to $DISK_t -i /tmp/s2"}, []int{2}, 1, "--to takes --undo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t, script.Disk{Name: "t", Size: 4 << 20}, script.Disk{Name: "small", Size: 2 << 20}, script.Disk{Name: "u", Size: 8 << 20})
			run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`,
				"seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
				"thinsync send --pool pool --id 1 --size 8192 -o /tmp/s1",
				"yes junk | dd of=$DISK_t bs=64K oflag=direct status=none count=64",
				recv+" -i /tmp/s1",
				"head -c 327680 /dev/urandom | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none",
				"blkdiscard -o 1048576 -l 131072 /dev/mapper/thin",
				"yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=50 oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin",
				"thinsync send --pool pool --id 2 --base 1 --size 8192 -o /tmp/s2",
				"thinsync send --pool pool --id 2 --base 1 --size 8192 --checkpoint 65536 -o /tmp/s2c")
			img := map[int]string{2: md5of(t, m, "/dev/mapper/thin")}
			run(t, m, `dmsetup create one --readonly --table "0 8192 thin /dev/mapper/pool 1"`)
			img[1] = md5of(t, m, "/dev/mapper/one")
			if got := md5of(t, m, "$DISK_t"); got != img[1] {
				t.Fatalf("full in-place receive: md5 %s, want %s", got, img[1])
			}
			var msgs string
			for i, l := range tc.lines {
				code, msg := status(t, m, l)
				msgs += msg
				if code != tc.codes[i] {
					t.Fatalf("%s: exit %d, want %d (%s)", l, code, tc.codes[i], msg)
				}
			}
			if !strings.Contains(msgs, tc.msg) {
				t.Errorf("stderr %q does not say %q", msgs, tc.msg)
			}
			if got := md5of(t, m, "$DISK_t"); got != img[tc.want] {
				t.Errorf("target md5 %s, want image %d (%s)", got, tc.want, img[tc.want])
			}
		})
	}
}
