// Package recorder runs dmsim scenario scripts on the real Linux kernel under qemu and writes the
// kernel's transcript (docs/script-format.md) and the host-side thin_dump of every metadata disk.
//
// The host side (this package) parses the script, builds and caches a small initramfs, boots qemu
// once per `# reboot`-separated segment, reads the framed results the guest sends over its second
// serial port and formats them as a transcript. The guest side is a busybox shell script
// (guest.go) that evals each command line in one shell.
package recorder

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Disk is one `# disk: NAME SIZE [nodiscard]` declaration.
type Disk struct {
	Name    string
	Size    int64 // bytes
	Discard bool
	Dev     string // guest path: /dev/vda, /dev/vdb, ...
}

// ItemKind says what a logical script line is.
type ItemKind int

const (
	// Comment lines (including `# disk:`) are copied to the transcript as they are.
	Comment ItemKind = iota
	// Command lines are run in the guest shell.
	Command
	// Reboot (`# reboot`) powers the machine off without teardown and boots it again.
	Reboot
)

// Item is one logical line of a script.
type Item struct {
	Kind   ItemKind
	Text   string // the logical line as written (comments, reboot, and commands with their @)
	Cmd    string // for commands: the text run in the guest (without a leading @)
	Silent bool   // the command line started with @
	Index  int    // for commands: 1-based command number, unique within the script
	Line   int    // 1-based physical line number where the logical line starts
}

// Script is a parsed scenario script.
type Script struct {
	Name  string
	Disks []Disk
	Items []Item
}

var (
	diskNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sizeRE     = regexp.MustCompile(`^([0-9]+)([KMG])$`)
)

// ParseSize parses a disk size: a number with a K, M or G suffix (binary units).
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad disk size %q (want a number with a K, M or G suffix)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad disk size %q: %v", s, err)
	}
	shift := map[string]uint{"K": 10, "M": 20, "G": 30}[m[2]]
	if n <= 0 || n > (1<<40)>>shift {
		return 0, fmt.Errorf("disk size %q out of range", s)
	}
	return n << shift, nil
}

// logicalLines joins backslash-continued lines. It returns the logical lines and the physical
// line number each starts on.
func logicalLines(src []byte) ([]string, []int, error) {
	var lines []string
	var starts []int
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var cur strings.Builder
	cont := false
	start := 0
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSuffix(sc.Text(), "\r")
		if !cont {
			start = n
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(l[:len(l)-1])
			cont = true
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		starts = append(starts, start)
		cur.Reset()
		cont = false
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if cont {
		lines = append(lines, cur.String())
		starts = append(starts, start)
	}
	return lines, starts, nil
}

// ParseScript parses a scenario script. Disk declarations must come before the first command.
func ParseScript(name string, src []byte) (*Script, error) {
	s := &Script{Name: name}
	lines, starts, err := logicalLines(src)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	ncmd := 0
	for i, l := range lines {
		ln := starts[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "#"):
			if t == "# reboot" {
				s.Items = append(s.Items, Item{Kind: Reboot, Text: l, Line: ln})
				continue
			}
			if rest, ok := strings.CutPrefix(t, "# disk:"); ok {
				f := strings.Fields(rest)
				if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "nodiscard") {
					return nil, fmt.Errorf("%s:%d: want `# disk: NAME SIZE [nodiscard]`", name, ln)
				}
				if ncmd > 0 {
					return nil, fmt.Errorf("%s:%d: disk declared after the first command", name, ln)
				}
				if !diskNameRE.MatchString(f[0]) {
					return nil, fmt.Errorf("%s:%d: bad disk name %q", name, ln, f[0])
				}
				if seen[f[0]] {
					return nil, fmt.Errorf("%s:%d: disk %q declared twice", name, ln, f[0])
				}
				seen[f[0]] = true
				size, err := ParseSize(f[1])
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", name, ln, err)
				}
				if len(s.Disks) >= 26 {
					return nil, fmt.Errorf("%s:%d: too many disks", name, ln)
				}
				s.Disks = append(s.Disks, Disk{
					Name:    f[0],
					Size:    size,
					Discard: len(f) == 2,
					Dev:     "/dev/vd" + string(rune('a'+len(s.Disks))),
				})
			}
			s.Items = append(s.Items, Item{Kind: Comment, Text: l, Line: ln})
		default:
			ncmd++
			it := Item{Kind: Command, Text: l, Cmd: l, Index: ncmd, Line: ln}
			if strings.HasPrefix(l, "@") {
				it.Silent = true
				it.Cmd = l[1:]
			}
			s.Items = append(s.Items, it)
		}
	}
	return s, nil
}

// Boots splits the script's commands into boots: one slice of commands per boot.
func (s *Script) Boots() [][]Item {
	boots := [][]Item{nil}
	for _, it := range s.Items {
		switch it.Kind {
		case Reboot:
			boots = append(boots, nil)
		case Command:
			boots[len(boots)-1] = append(boots[len(boots)-1], it)
		}
	}
	return boots
}
