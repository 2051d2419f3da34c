// Package script runs scenario scripts (docs/script-format.md) on dmsim and
// prints their transcripts: `# disk:` lines declare virtio disks, each
// logical line runs in one persistent POSIX shell (mvdan.cc/sh) whose
// commands are dmsetup and the busybox utilities of package userland, and
// `# reboot` powers the machine off and boots a new kernel on the same
// disk images.
//
// Time is the kernel's virtual clock: every command line costs
// DefaultCommandTime of it, and the shell's processes (commands, pipeline
// stages, background jobs) are clock actors (procs.go), so a run never
// waits in real time and two runs print the same bytes.
package script

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
	Dev     string // /dev/vda, /dev/vdb, ...
}

// ItemKind says what a logical line is.
type ItemKind int

const (
	Comment ItemKind = iota // copied to the transcript as it is (includes `# disk:`)
	Command                 // run in the shell
	Reboot                  // `# reboot`
)

// Item is one logical line of a script.
type Item struct {
	Kind   ItemKind
	Text   string // the logical line as written
	Cmd    string // for commands: what the shell runs (without a leading @)
	Silent bool   // the line started with @
	Line   int    // 1-based physical line the logical line starts on
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

// LogicalLines joins backslash-continued lines (the backslash and newline
// are removed, as the shell does). It returns each logical line and the
// physical line it starts on.
func LogicalLines(src []byte) ([]string, []int) {
	var lines []string
	var starts []int
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	var cur strings.Builder
	cont := false
	start, n := 0, 0
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
	if cont {
		lines = append(lines, cur.String())
		starts = append(starts, start)
	}
	return lines, starts
}

// Parse parses a scenario script. Disks must be declared before the first
// command.
func Parse(name string, src []byte) (*Script, error) {
	s := &Script{Name: name}
	lines, starts := LogicalLines(src)
	seen := map[string]bool{}
	commands := 0
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
				if commands > 0 {
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
				s.Disks = append(s.Disks, Disk{Name: f[0], Size: size, Discard: len(f) == 2,
					Dev: "/dev/vd" + string(rune('a'+len(s.Disks)))})
			}
			s.Items = append(s.Items, Item{Kind: Comment, Text: l, Line: ln})
		default:
			commands++
			it := Item{Kind: Command, Text: l, Cmd: l, Line: ln}
			if strings.HasPrefix(l, "@") {
				it.Silent, it.Cmd = true, l[1:]
			}
			s.Items = append(s.Items, it)
		}
	}
	return s, nil
}
