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
		// Not a terminal: tree lines stop at 80 columns (_out_char); nameless
		// nodes are skipped with -o nodevice, their children still drawn.
		{"tree-compact-inverted-and-cut", `dmsetup create base --table "0 64 linear $DISK_a 0"
dmsetup create ` + strings.Repeat("n", 70) + ` --table "0 8 linear /dev/mapper/base 0"
dmsetup create top --table "0 8 linear /dev/mapper/base 8"
dmsetup ls --tree -o c
dmsetup ls --tree -o inv,nodev
dmsetup ls --tree
dmsetup ls --tree -o notrunc,d,rw
dmsetup ls --tree -o ascii,bogus`,
			"$ dmsetup create base --table \"0 64 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup create " + strings.Repeat("n", 70) + " --table \"0 8 linear /dev/mapper/base 0\"\n[exit 0]\n" +
				"$ dmsetup create top --table \"0 8 linear /dev/mapper/base 8\"\n[exit 0]\n" +
				"$ dmsetup ls --tree -o c\n| " + strings.Repeat("n", 70) + " (253:1)-...\n" +
				"| top (253:2)---base (253:0)--- (254:0)\n[exit 0]\n" +
				"$ dmsetup ls --tree -o inv,nodev\n|  `-base\n|     |-" + strings.Repeat("n", 70) + "\n|     `-top\n[exit 0]\n" +
				"$ dmsetup ls --tree\n| " + strings.Repeat("n", 70) + " (253:1)\n|  `-base (253:0)\n|     `- (254:0)\n" +
				"| top (253:2)\n|  `-base (253:0)\n|     `- (254:0)\n[exit 0]\n" +
				"$ dmsetup ls --tree -o notrunc,d,rw\n| " + strings.Repeat("n", 70) + " (253:1) [RW]\n|  `-base (253:0) [RW]\n|     `- (254:0)\n" +
				"| top (253:2) [RW]\n|  `-base (253:0) [RW]\n|     `- (254:0)\n[exit 0]\n" +
				"$ dmsetup ls --tree -o ascii,bogus\n! Tree options not recognised: bogus.\n! Couldn't process command line.\n[exit 1]\n"},
		// The kernel holds mangled names and uuids; mangle checks the uuid first.
		{"names-mangled-for-the-kernel", `dmsetup create 'a b' -u 'u v' --table "0 8 linear $DISK_a 0"
dmsetup create --manglename none 'c d' --table "0 8 linear $DISK_a 0"
echo /dev/mapper/*
dmsetup ls
dmsetup info -c --manglename none -o name,uuid
dmsetup mangle
dmsetup ls
dmsetup --manglename none mangle 'a\x20b'`,
			"$ dmsetup create 'a b' -u 'u v' --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ dmsetup create --manglename none 'c d' --table \"0 8 linear $DISK_a 0\"\n[exit 0]\n" +
				"$ echo /dev/mapper/*\n| /dev/mapper/a\\x20b /dev/mapper/c d /dev/mapper/control\n[exit 0]\n" +
				"$ dmsetup ls\n! The name \"c d\" should be mangled but it contains blacklisted characters.\n! Command failed.\n[exit 1]\n" +
				"$ dmsetup info -c --manglename none -o name,uuid\n| Name             UUID                            \n" +
				"| a\\x20b           u\\x20v                          \n| c d                                              \n[exit 0]\n" +
				"$ dmsetup mangle\n| a\\x20b: u\\x20v: name and UUID already in correct form\n| c d: renaming to c\\x20d\n[exit 0]\n" +
				"$ dmsetup ls\n| a b\t(253:0)\n| c d\t(253:1)\n[exit 0]\n" +
				"$ dmsetup --manglename none mangle 'a\\x20b'\n" +
				"! a\\x20b: u\\x20v: UUID in incorrect form. \n! Unable to change device UUID. The device must be deactivated first.\n! Command failed.\n[exit 1]\n"},
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
