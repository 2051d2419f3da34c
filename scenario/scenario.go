// Package scenario parses scenario scripts (docs/script-format.md): `# disk:`
// declarations, comments, `# reboot` and command lines (with `@` and
// backslash continuations). It is the one parser of the script format: the
// recorder (which runs scripts on the real kernel) uses it, and so can
// dmsim's runner (package script); it imports nothing of the emulator.
package scenario

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
	// Crash is a `# crash:` directive (Item.Crash): the machine loses power
	// leaving that crash state. Only `dmsim run` and `dmsim crash` run
	// such a script; the recorder and the golden runner refuse it.
	Crash
)

// CrashPoint is a `# crash: DISK point=N keep=I,J,...|none [tear=I:FIRST+COUNT]`
// directive: a power cut that leaves disk DISK as a crash just before its
// flush number N (counting from 0, in the order the disk completed them;
// the number of flushes for the end of the boot) completed: the writes of
// that epoch (numbered from 0 in completion order) listed in keep reached
// the medium, and, with tear, write I reached it only in part (COUNT
// sectors from its sector FIRST, counted from the write's first sector).
// Every other disk keeps what was durable at that instant.
type CrashPoint struct {
	Disk  string
	Point int
	Keep  []int
	Tear  *CrashTear
}

// CrashTear is the torn write of a CrashPoint.
type CrashTear struct {
	Index          int
	First, Sectors uint64
}

// String is the directive's text after `# crash: `.
func (c *CrashPoint) String() string {
	keep := "none"
	if len(c.Keep) > 0 {
		var ks []string
		for _, k := range c.Keep {
			ks = append(ks, strconv.Itoa(k))
		}
		keep = strings.Join(ks, ",")
	}
	s := fmt.Sprintf("%s point=%d keep=%s", c.Disk, c.Point, keep)
	if c.Tear != nil {
		s += fmt.Sprintf(" tear=%d:%d+%d", c.Tear.Index, c.Tear.First, c.Tear.Sectors)
	}
	return s
}

// ParseCrashPoint parses the text of a `# crash:` directive after the colon.
func ParseCrashPoint(text string) (*CrashPoint, error) {
	f := strings.Fields(text)
	if len(f) < 3 || len(f) > 4 {
		return nil, fmt.Errorf("want `# crash: DISK point=N keep=I,J,...|none [tear=I:FIRST+COUNT]`")
	}
	c := &CrashPoint{Disk: f[0]}
	num := func(s, what string) (uint64, error) {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return 0, fmt.Errorf("bad %s %q", what, s)
		}
		return n, nil
	}
	p, ok := strings.CutPrefix(f[1], "point=")
	if !ok {
		return nil, fmt.Errorf("want point=N, not %q", f[1])
	}
	n, err := num(p, "point")
	if err != nil {
		return nil, err
	}
	c.Point = int(n)
	k, ok := strings.CutPrefix(f[2], "keep=")
	if !ok {
		return nil, fmt.Errorf("want keep=I,J,... or keep=none, not %q", f[2])
	}
	if k != "none" {
		for _, x := range strings.Split(k, ",") {
			n, err := num(x, "keep index")
			if err != nil {
				return nil, err
			}
			if len(c.Keep) > 0 && int(n) <= c.Keep[len(c.Keep)-1] {
				return nil, fmt.Errorf("keep indices must increase: %q", k)
			}
			c.Keep = append(c.Keep, int(n))
		}
	}
	if len(f) == 4 {
		t, ok := strings.CutPrefix(f[3], "tear=")
		i, rng, ok2 := strings.Cut(t, ":")
		first, cnt, ok3 := strings.Cut(rng, "+")
		if !ok || !ok2 || !ok3 {
			return nil, fmt.Errorf("want tear=I:FIRST+COUNT, not %q", f[3])
		}
		var vals [3]uint64
		for j, s := range []string{i, first, cnt} {
			if vals[j], err = num(s, "tear field"); err != nil {
				return nil, err
			}
		}
		if vals[2] == 0 {
			return nil, fmt.Errorf("a tear keeps at least one sector: %q", f[3])
		}
		c.Tear = &CrashTear{Index: int(vals[0]), First: vals[1], Sectors: vals[2]}
	}
	return c, nil
}

// Item is one logical line of a script.
type Item struct {
	Kind   ItemKind
	Text   string      // the logical line as written
	Cmd    string      // for commands: what the shell runs (without a leading @)
	Silent bool        // the line started with @
	Line   int         // 1-based physical line the logical line starts on
	Crash  *CrashPoint // for Crash items
}

// Script is a parsed scenario script.
type Script struct {
	Name  string
	Disks []Disk
	Items []Item
}

var (
	diskNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sizeRE     = regexp.MustCompile(`^([0-9]+)([KMGTP])$`)
)

// MaxDiskSize is the largest `# disk:` size: a block device's size in
// bytes is a loff_t (bdev_nr_bytes(), MAX_LFS_FILESIZE on 64-bit), so
// Linux 6.1 addresses disks up to 2^63-1 bytes (8 EiB); sector_t (u64
// sectors) and virtio-blk's capacity (u64 sectors) reach further. The thin
// metadata is no tighter for a pool's data device: a mapping packs the data
// block into 40 bits (and the time into 24), so with the largest block of
// 1 GiB it addresses 2^70 bytes. With suffixes the largest size is 8191P.
const MaxDiskSize = 1<<63 - 1

// ParseSize parses a disk size: a number with a K, M, G, T or P suffix
// (binary units), at most MaxDiskSize.
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad disk size %q (want a number with a K, M, G, T or P suffix)", s)
	}
	shift := map[string]uint{"K": 10, "M": 20, "G": 30, "T": 40, "P": 50}[m[2]]
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > MaxDiskSize>>shift {
		return 0, fmt.Errorf("disk size %q out of range (1K to 8191P: Linux addresses 2^63-1 bytes)", s)
	}
	return n << shift, nil
}

// FormatSize writes a size as a `# disk:` line would: the largest binary
// suffix that divides it, or plain bytes.
func FormatSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{50, "P"}, {40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
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
	crashed := false // a `# crash:` directive was seen: it ends the script
	for i, l := range lines {
		ln := starts[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			continue
		case strings.HasPrefix(t, "#"):
			if t == "# reboot" {
				if crashed {
					return nil, fmt.Errorf("%s:%d: nothing may follow a `# crash:` directive", name, ln)
				}
				s.Items = append(s.Items, Item{Kind: Reboot, Text: l, Line: ln})
				continue
			}
			if rest, ok := strings.CutPrefix(t, "# crash:"); ok {
				c, err := ParseCrashPoint(rest)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", name, ln, err)
				}
				if !seen[c.Disk] {
					return nil, fmt.Errorf("%s:%d: `# crash:` names disk %q, which is not declared", name, ln, c.Disk)
				}
				if crashed {
					return nil, fmt.Errorf("%s:%d: a script has one `# crash:` directive at most", name, ln)
				}
				crashed = true
				s.Items = append(s.Items, Item{Kind: Crash, Text: l, Line: ln, Crash: c})
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
			if crashed {
				return nil, fmt.Errorf("%s:%d: nothing may follow a `# crash:` directive", name, ln)
			}
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

// CrashItem is the script's `# crash:` directive, nil if it has none.
func (s *Script) CrashItem() *Item {
	for i := range s.Items {
		if s.Items[i].Kind == Crash {
			return &s.Items[i]
		}
	}
	return nil
}

// Commands returns the script's command items, one slice per boot (the
// script's `# reboot` lines separate boots; a script with no reboot has one).
// Every command keeps its position in s.Items, so results can be matched to
// items.
func (s *Script) Commands() [][]int {
	boots := [][]int{nil}
	for i, it := range s.Items {
		switch it.Kind {
		case Reboot:
			boots = append(boots, nil)
		case Command:
			boots[len(boots)-1] = append(boots[len(boots)-1], i)
		}
	}
	return boots
}
