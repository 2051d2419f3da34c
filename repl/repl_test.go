package repl

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/targets/thin"
)

// The piped REPL: commands line by line, shorthands for dmsetup verbs,
// kernel log lines after each command, [exit N] on failure, help, reboot
// and exit.
func TestPiped(t *testing.T) {
	in := strings.Join([]string{
		`create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 16"`,
		`message pool 0 create_thin 0`,
		`create thin0 --table "0 2097152 thin /dev/mapper/pool 0"`,
		`dd if=/dev/zero of=/dev/mapper/thin0 bs=64K count=2 oflag=direct status=none`,
		`status thin0`,
		`dmsetup ls`,
		`message pool 0 frobnicate`,
		`x=5; echo $x`,
		`echo $x`,
		`reboot`,
		`ls`,
		`echo $x`,
		`# a comment`,
		``,
		`help`,
		`exit`,
		`echo never`,
	}, "\n") + "\n"
	var out, errb bytes.Buffer
	if st := Main(context.Background(), nil, strings.NewReader(in), &out, &errb); st != 0 {
		t.Fatalf("exit %d: %s", st, errb.String())
	}
	wantOut := "0 2097152 thin 256 255\n" +
		"pool\t(253:0)\nthin0\t(253:1)\n" +
		"5\n5\n" +
		"No devices found\n" +
		"\n" + helpText
	if out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	wantErr := "device-mapper: message ioctl on pool  failed: Invalid argument\nCommand failed.\n" +
		"kernel: <4>device-mapper: thin: Unrecognised thin pool target message received: frobnicate\n[exit 1]\n"
	if errb.String() != wantErr {
		t.Errorf("stderr:\n%q\nwant:\n%q", errb.String(), wantErr)
	}
}

func TestParseArgs(t *testing.T) {
	o, err := ParseArgs([]string{"--disk", "m=4M", "--disk=d=/some/image"})
	if err != nil {
		t.Fatal(err)
	}
	want := []script.Disk{{Name: "m", Size: 4 << 20}, {Name: "d", Image: "/some/image"}}
	if !reflect.DeepEqual(o.Disks, want) {
		t.Errorf("got %+v", o.Disks)
	}
	for _, bad := range [][]string{{"--disk"}, {"--disk", "x"}, {"--frob"}, {"--disk", "=4M"}} {
		if _, err := ParseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestComplete(t *testing.T) {
	var out bytes.Buffer
	s, err := NewSession(Options{}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Exec(context.Background(), `create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 16"`)
	cases := []struct {
		line string
		want []string // must be among the completions
		not  []string // must not be
	}{
		{"dmset", []string{"dmsetup"}, nil},
		{"sta", []string{"status"}, []string{"create"}},
		{"dmsetup re", []string{"reload", "remove", "remove_all", "rename", "resume"}, []string{"create"}},
		{"status p", []string{"pool"}, nil},
		{"dmsetup status /dev/mapper/p", []string{"/dev/mapper/pool"}, nil},
		{"message pool 0 cr", []string{"create_thin", "create_snap"}, []string{"delete"}},
		{"dmsetup message pool 0 re", []string{"reserve_metadata_snap", "release_metadata_snap"}, nil},
		{"dmsetup --no", []string{"--noflush", "--nolockfs", "--notable"}, nil},
		{"status --t", []string{"--target", "--table"}, nil},
		{"dd o", []string{"of=", "oflag="}, nil},
		{"blockdev --get", []string{"--getsz", "--getsize64"}, nil},
		{`create x --table "0 8 thin`, []string{"thin", "thin-pool"}, nil},
	}
	for _, c := range cases {
		head, comps, _ := s.Complete(c.line, len(c.line))
		set := map[string]bool{}
		for _, x := range comps {
			set[x] = true
		}
		for _, w := range c.want {
			if !set[w] {
				t.Errorf("%q: %q missing from %q (head %q)", c.line, w, comps, head)
			}
		}
		for _, w := range c.not {
			if set[w] {
				t.Errorf("%q: %q offered", c.line, w)
			}
		}
		if !strings.HasPrefix(c.line, head) {
			t.Errorf("%q: head %q", c.line, head)
		}
	}
}
