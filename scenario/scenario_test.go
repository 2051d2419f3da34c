package scenario

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		disks   string // name:size:discard:dev, space separated
		items   string // kind letters: c comment, x command, s silent command, r reboot
		cmds    []string
		lines   []int // physical line of each item
		boots   [][]int
		wantErr string
	}{
		{name: "basic", src: "# disk: meta 4M\n# disk: data 1G nodiscard\n\necho a\n@true\n# reboot\n# note\n",
			disks: "meta:4194304:true:/dev/vda data:1073741824:false:/dev/vdb", items: "ccxsrc",
			cmds: []string{"echo a", "true"}, lines: []int{1, 2, 4, 5, 6, 7}, boots: [][]int{{2, 3}, nil}},
		{name: "continuation", src: "echo a \\\nb\\\n c\n", items: "x", cmds: []string{"echo a b c"},
			lines: []int{1}, boots: [][]int{{0}}},
		{name: "trailing backslash", src: "echo a\\", items: "x", cmds: []string{"echo a"}, lines: []int{1},
			boots: [][]int{{0}}},
		{name: "crlf and indented comment", src: "x=1\r\n  # c\r\n\r\n# reboot\r\n\r\necho $x\r\n",
			items: "xcrx", cmds: []string{"x=1", "echo $x"}, lines: []int{1, 2, 4, 6}, boots: [][]int{{0}, {3}}},
		{name: "empty", src: "", boots: [][]int{nil}},
		{name: "bad size", src: "# disk: meta 4X\n", wantErr: "bad disk size"},
		{name: "no suffix", src: "# disk: meta 4096\n", wantErr: "bad disk size"},
		{name: "zero size", src: "# disk: meta 0M\n", wantErr: "out of range"},
		{name: "too big", src: "# disk: meta 8192P\n", wantErr: "out of range"},
		{name: "too big in T", src: "# disk: meta 8388608T\n", wantErr: "out of range"},
		{name: "overflows int64", src: "# disk: meta 99999999999999999999K\n", wantErr: "out of range"},
		{name: "big disks", src: "# disk: meta 16G\n# disk: data 64T\n# disk: huge 8191P nodiscard\n# disk: t 2000G\n",
			disks: "meta:17179869184:true:/dev/vda data:70368744177664:true:/dev/vdb " +
				"huge:9222246136947933184:false:/dev/vdc t:2147483648000:true:/dev/vdd",
			items: "cccc", lines: []int{1, 2, 3, 4}, boots: [][]int{nil}},
		{name: "no size", src: "# disk: meta\n", wantErr: "want `# disk:"},
		{name: "bad option", src: "# disk: meta 4M discard\n", wantErr: "want `# disk:"},
		{name: "twice", src: "# disk: a 4M\n# disk: a 4M\n", wantErr: "declared twice"},
		{name: "bad name", src: "# disk: a-b 4M\n", wantErr: "bad disk name"},
		{name: "late disk", src: "true\n# disk: a 4M\n", wantErr: "after the first command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("x", []byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ds []string
			for _, d := range s.Disks {
				ds = append(ds, fmt.Sprintf("%s:%d:%v:%s", d.Name, d.Size, d.Discard, d.Dev))
			}
			if got := strings.Join(ds, " "); got != tt.disks {
				t.Errorf("disks = %q, want %q", got, tt.disks)
			}
			var kinds string
			var cmds []string
			var lines []int
			for _, it := range s.Items {
				switch {
				case it.Kind == Comment:
					kinds += "c"
				case it.Kind == Reboot:
					kinds += "r"
				case it.Silent:
					kinds += "s"
				default:
					kinds += "x"
				}
				if it.Kind == Command {
					cmds = append(cmds, it.Cmd)
				}
				lines = append(lines, it.Line)
			}
			if kinds != tt.items {
				t.Errorf("items = %q, want %q", kinds, tt.items)
			}
			if !reflect.DeepEqual(cmds, tt.cmds) {
				t.Errorf("cmds = %q, want %q", cmds, tt.cmds)
			}
			if !reflect.DeepEqual(lines, tt.lines) {
				t.Errorf("lines = %v, want %v", lines, tt.lines)
			}
			if got := s.Commands(); !reflect.DeepEqual(got, tt.boots) {
				t.Errorf("Commands() = %v, want %v", got, tt.boots)
			}
		})
	}
}

// FuzzParse: any input either parses or is refused with an error; a parse
// keeps every non-blank logical line, commands keep their text, disks get
// consecutive device names, and Commands lists every command once, in order.
func FuzzParse(f *testing.F) {
	f.Add("# disk: meta 4M\n# disk: data 64M\ndmsetup ls\n@true\n# reboot\necho a \\\nb\n")
	f.Add("# disk: a 1M nodiscard\n\n  # c\r\nx=1\\")
	f.Add("\\\n\\\n# disk: b 2G")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse("f", []byte(src))
		if err != nil {
			return
		}
		lines, starts := LogicalLines([]byte(src))
		if len(lines) != len(starts) {
			t.Fatalf("%d lines, %d starts", len(lines), len(starts))
		}
		n := 0
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				n++
			}
		}
		if n != len(s.Items) {
			t.Fatalf("%d non-blank logical lines, %d items", n, len(s.Items))
		}
		for i, d := range s.Disks {
			if d.Dev != "/dev/vd"+string(rune('a'+i)) || d.Size <= 0 {
				t.Fatalf("disk %d: %+v", i, d)
			}
		}
		var cmds, listed []int
		reboots := 0
		for i, it := range s.Items {
			switch it.Kind {
			case Command:
				cmds = append(cmds, i)
				if it.Silent != strings.HasPrefix(it.Text, "@") || it.Text != map[bool]string{true: "@", false: ""}[it.Silent]+it.Cmd {
					t.Fatalf("command text wrong: %+v", it)
				}
			case Reboot:
				reboots++
			}
		}
		boots := s.Commands()
		for _, b := range boots {
			listed = append(listed, b...)
		}
		if len(boots) != reboots+1 || fmt.Sprint(listed) != fmt.Sprint(cmds) {
			t.Fatalf("Commands() = %v for commands %v and %d reboots", boots, cmds, reboots)
		}
	})
}

// FormatSize picks the largest suffix that divides the size, and ParseSize
// reads it back.
func TestFormatSize(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{512, "512"}, {4096, "4K"}, {4 << 20, "4M"}, {3 << 30, "3G"}, {64 << 40, "64T"}, {1536 << 30, "1536G"},
		{8191 << 50, "8191P"}, {1<<40 + 1024, "1073741825K"}} {
		if got := FormatSize(c.n); got != c.want {
			t.Errorf("FormatSize(%d) = %q, want %q", c.n, got, c.want)
		}
		if back, err := ParseSize(c.want); c.n%1024 == 0 && (err != nil || back != c.n) {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", c.want, back, err, c.n)
		}
	}
}

func TestCrashDirective(t *testing.T) {
	head := "# disk: meta 4M\n"
	for _, tc := range []struct {
		src, want, err string
	}{
		{"# crash: meta point=3 keep=0,2\n", "meta point=3 keep=0,2", ""},
		{"# crash: meta point=0 keep=none tear=1:0+7\n", "meta point=0 keep=none tear=1:0+7", ""},
		{"# crash: data point=3 keep=0\n", "", "not declared"},
		{"# crash: meta point=x keep=0\n", "", "bad point"},
		{"# crash: meta point=1 keep=2,1\n", "", "must increase"},
		{"# crash: meta point=1 keep=0 tear=1:0+0\n", "", "at least one sector"},
		{"# crash: meta point=1\n", "", "want `# crash:"},
		{"# crash: meta point=1 keep=0\necho hi\n", "", "nothing may follow"},
		{"# crash: meta point=1 keep=0\n# crash: meta point=1 keep=0\n", "", "one `# crash:`"},
	} {
		s, err := Parse("t", []byte(head+tc.src))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if c := s.CrashItem(); c == nil || c.Crash.String() != tc.want {
			t.Errorf("%q: %v, want %s", tc.src, c, tc.want)
		}
	}
}

func FuzzParseCrashPoint(f *testing.F) {
	for _, s := range []string{"meta point=3 keep=0,2", "d point=0 keep=none tear=1:0+7", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCrashPoint(s)
		if err != nil {
			return
		}
		again, err := ParseCrashPoint(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("%q: %q does not parse back (%v)", s, c.String(), err)
		}
	})
}

// TestStarts: a starts file round-trips, and bad ones get an error.
func TestStarts(t *testing.T) {
	in := map[int]time.Duration{4: 1830127733, 5: 1834511203, 12: 0}
	got, err := ParseStarts(FormatStarts(in))
	if err != nil || !maps.Equal(got, in) {
		t.Fatalf("round trip: %v, %v; want %v", got, err, in)
	}
	for _, bad := range []string{"4\n", "4 5 6\n", "x 5\n", "-1 5\n", "4 -5\n", "4 1\n4 2\n", "4 99999999999999999999\n"} {
		if _, err := ParseStarts([]byte(bad)); err == nil {
			t.Errorf("ParseStarts(%q): no error", bad)
		}
	}
}

func FuzzParseStarts(f *testing.F) {
	f.Add([]byte("# c\n4 1830127733\n5 1834511203\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		starts, err := ParseStarts(b)
		if err != nil {
			return
		}
		again, err := ParseStarts(FormatStarts(starts))
		if err != nil || !maps.Equal(again, starts) {
			t.Fatalf("%v does not round-trip: %v, %v", starts, again, err)
		}
	})
}
