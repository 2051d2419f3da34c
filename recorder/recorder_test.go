package recorder

import (
	"strings"
	"testing"
)

func TestParseScript(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		disks   string // name:size:discard:dev, space separated
		items   string // kind letters: c comment, x command, s silent command, r reboot
		cmds    []string
		wantErr string
	}{
		{name: "basic", src: "# disk: meta 4M\n# disk: data 1G nodiscard\n\necho a\n@true\n# reboot\n# note\n",
			disks: "meta:4194304:true:/dev/vda data:1073741824:false:/dev/vdb", items: "ccxsrc", cmds: []string{"echo a", "true"}},
		{name: "continuation", src: "echo a \\\nb\\\n c\n", items: "x", cmds: []string{"echo a b c"}},
		{name: "trailing backslash", src: "echo a\\", items: "x", cmds: []string{"echo a"}},
		{name: "bad size", src: "# disk: meta 4X\n", wantErr: "bad disk size"},
		{name: "no suffix", src: "# disk: meta 4096\n", wantErr: "bad disk size"},
		{name: "bad option", src: "# disk: meta 4M discard\n", wantErr: "want `# disk:"},
		{name: "twice", src: "# disk: a 4M\n# disk: a 4M\n", wantErr: "declared twice"},
		{name: "bad name", src: "# disk: a-b 4M\n", wantErr: "bad disk name"},
		{name: "late disk", src: "true\n# disk: a 4M\n", wantErr: "after the first command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScript("x", []byte(tt.src))
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
				ds = append(ds, strings.Join([]string{d.Name, itoa(d.Size), map[bool]string{true: "true", false: "false"}[d.Discard], d.Dev}, ":"))
			}
			if got := strings.Join(ds, " "); got != tt.disks {
				t.Errorf("disks = %q, want %q", got, tt.disks)
			}
			var kinds string
			var cmds []string
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
			}
			if kinds != tt.items {
				t.Errorf("items = %q, want %q", kinds, tt.items)
			}
			if strings.Join(cmds, "\n") != strings.Join(tt.cmds, "\n") {
				t.Errorf("cmds = %q, want %q", cmds, tt.cmds)
			}
		})
	}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestStreamAndTranscript(t *testing.T) {
	s, err := ParseScript("x", []byte("# c\necho a\n@false\n@true\nprintf x\n"))
	if err != nil {
		t.Fatal(err)
	}
	stream := "@@DMSIM BOOT 1\n@@DMSIM ENV 9\nkernel\tk\n" +
		"@@DMSIM CMD 1 0 2 0 45\na\n<4>k\n<4>hrtimer: interrupt took 389309092 ns\n" +
		"@@DMSIM CMD 2 1 0 3 0\n\ne\n" +
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
	got := Transcript(s, formatEnv(br.Env, s), br.Results)
	want := "# env: kernel k\n# c\n$ echo a\n| a\nk <4>k\n[exit 0]\n$ false\n! \n! e\n[exit 1]\n$ printf x\n| x\n[exit 0]\n"
	if got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []string{"junk\n", "@@DMSIM CMD 1 0 5 0 0\nab", "@@DMSIM FOO\n", "@@DMSIM END\n@@DMSIM END\n"} {
		if _, err := parseStream([]byte(bad)); err == nil {
			t.Errorf("parseStream(%q): no error", bad)
		}
	}
}
