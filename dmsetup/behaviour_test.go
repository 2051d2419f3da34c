package dmsetup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/script"
)

// Behaviour on the emulated kernel that the recorded scenarios do not pin
// down line by line. Kernel log lines are left out: they are the kernel's.
func TestBehaviour(t *testing.T) {
	cases := []struct {
		name, script, want string
	}{
		{"remove-retry-logs-each-attempt", `dmsetup create base --table "0 64 linear $DISK_a 0"
dmsetup create top --table "0 8 linear /dev/mapper/base 0"
dmsetup remove --retry base
dmsetup remove top base`,
			"$ dmsetup create base --table \"0 64 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup create top --table \"0 8 linear /dev/mapper/base 0\"\n[exit 0]\n" +
				"$ dmsetup remove --retry base\n" +
				strings.Repeat("! device-mapper: remove ioctl on base  failed: Device or resource busy\n", 25) +
				"! Command failed.\n[exit 1]\n" +
				"$ dmsetup remove top base\n[exit 0]\n"},
		{"paths-resolve-to-names", `dmsetup create a --table "0 8 linear $DISK_a 0"
dmsetup status /dev/mapper/a
dmsetup info -c mapper/a
dmsetup info /dev/mapper/nosuch
dmsetup create x/y --notable
echo /dev/mapper/*`,
			"$ dmsetup create a --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup status /dev/mapper/a\n| 0 8 linear \n[exit 0]\n" +
				"$ dmsetup info -c mapper/a\n" +
				"| Name             Maj Min Stat Open Targ Event  UUID                            \n" +
				"| a                253   0 L--w    0    1      0                                 \n[exit 0]\n" +
				"$ dmsetup info /dev/mapper/nosuch\n! Device /dev/mapper/nosuch not found\n! Command failed.\n[exit 1]\n" +
				"$ dmsetup create x/y --notable\n! Name \"x/y\" invalid. It contains \"/\".\n! Command failed.\n[exit 1]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/a /dev/mapper/control\n[exit 0]\n"},
		{"columns-widen-and-unaligned", `dmsetup create a-much-longer-name --table "0 8 linear $DISK_a 0"
dmsetup create b -u some-uuid --notable
dmsetup info -c
dmsetup info -c --noheadings
dmsetup info -c -o name,uuid --separator ,
dmsetup info -c -o name -O -name`,
			"$ dmsetup create a-much-longer-name --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup create b -u some-uuid --notable\n[exit 0]\n" +
				"$ dmsetup info -c\n" +
				"| Name               Maj Min Stat Open Targ Event  UUID                            \n" +
				"| a-much-longer-name 253   0 L--w    0    1      0                                 \n" +
				"| b                  253   1 ---w    0    0      0 some-uuid                       \n[exit 0]\n" +
				"$ dmsetup info -c --noheadings\n| a-much-longer-name:253:0:L--w:0:1:0:\n| b:253:1:---w:0:0:0:some-uuid\n[exit 0]\n" +
				"$ dmsetup info -c -o name,uuid --separator ,\n| Name,UUID\n| a-much-longer-name,\n| b,some-uuid\n[exit 0]\n" +
				"$ dmsetup info -c -o name -O -name\n| Name              \n| b                 \n| a-much-longer-name\n[exit 0]\n"},
		{"mknodes-fixes-nodes", `dmsetup create a --table "0 8 linear $DISK_a 0"
dmsetup rename a b
echo /dev/mapper/*
dmsetup mknodes nosuch
dmsetup mknodes
echo /dev/mapper/*`,
			"$ dmsetup create a --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup rename a b\n[exit 0]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/b /dev/mapper/control\n[exit 0]\n" +
				"$ dmsetup mknodes nosuch\n[exit 0]\n" +
				"$ dmsetup mknodes\n[exit 0]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/b /dev/mapper/control\n[exit 0]\n"},
		{"mknodes-regular-files", `echo f > /dev/mapper/a
echo f > /dev/mapper/gone
dmsetup create a --table "0 8 linear $DISK_a 0"
dmsetup mknodes
echo /dev/mapper/*
dmsetup remove a
echo /dev/mapper/*`,
			"$ echo f > /dev/mapper/a\n[exit 0]\n" +
				"$ echo f > /dev/mapper/gone\n[exit 0]\n" +
				"$ dmsetup create a --table \"0 8 linear $DISK_a 0\"\n! A non-block device file at '/dev/mapper/a' is already present\n[exit 0]\n" +
				"$ dmsetup mknodes\n! A non-block device file at '/dev/mapper/a' is already present\n! A non-block device file at '/dev/mapper/a' is already present\n[exit 0]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/a /dev/mapper/control\n[exit 0]\n" +
				"$ dmsetup remove a\n[exit 0]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/control\n[exit 0]\n"},
		{"message-sector-and-words", `dmsetup create a --table "0 8 linear $DISK_a 0"
dmsetup message a x hi
dmsetup message a 12abc hi
dmsetup message a 0`,
			"$ dmsetup create a --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup message a x hi\n! Invalid sector.\n! Command failed.\n[exit 1]\n" +
				"$ dmsetup message a 12abc hi\n! Invalid sector.\n! Command failed.\n[exit 1]\n" +
				"$ dmsetup message a 0\n! No message supplied.\n! device-mapper: message ioctl on a  failed: Invalid argument\n! Command failed.\n[exit 1]\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := scenario.Parse(c.name, []byte("# disk: a 1M\n"+c.script+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := script.Run(context.Background(), s, script.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, l := range strings.SplitAfter(script.StripEnv(res.Transcript), "\n") {
				if !strings.HasPrefix(l, "k ") && !strings.HasPrefix(l, "# disk:") {
					got.WriteString(l)
				}
			}
			if d := script.UnifiedDiff("want", "got", c.want, got.String()); d != "" {
				t.Errorf("\n%s", d)
			}
		})
	}
}
