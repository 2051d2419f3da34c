package recorder

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/scenario"
)

// CmdResult is what one command did in the guest.
type CmdResult struct {
	Status int
	Stdout []byte
	Stderr []byte
	Kmsg   []byte // `dmesg -r -c` after the command: "<N>text" lines
	// Start is the guest's monotonic clock, in ns, when the command started: -1 if the guest could
	// not read it or sent none.
	Start int64
}

// bootResult is one boot's stream, decoded.
type bootResult struct {
	Boot    int
	Env     []byte
	Results map[int]CmdResult // by the command's index in the script's Items
	Ended   bool
}

// parseStream decodes the framed stream the guest wrote to its second serial port (see guest.go).
func parseStream(b []byte) (*bootResult, error) {
	r := &bootResult{Results: map[int]CmdResult{}}
	pos := 0
	take := func(n int) ([]byte, error) {
		if n < 0 || pos+n > len(b) {
			return nil, fmt.Errorf("stream truncated at byte %d (want %d more bytes)", pos, n)
		}
		d := b[pos : pos+n]
		pos += n
		return d, nil
	}
	for pos < len(b) {
		if r.Ended {
			return r, fmt.Errorf("data after END at byte %d", pos)
		}
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 || !bytes.HasPrefix(b[pos:], []byte("@@DMSIM ")) {
			end := min(len(b), pos+80)
			return r, fmt.Errorf("bad frame at byte %d: %q", pos, b[pos:end])
		}
		f := strings.Fields(string(b[pos+len("@@DMSIM ") : pos+nl]))
		pos += nl + 1
		if len(f) == 0 {
			return r, fmt.Errorf("empty frame header at byte %d", pos)
		}
		nums := make([]int, len(f)-1)
		for i, s := range f[1:] {
			n, err := strconv.Atoi(s)
			if err != nil {
				return r, fmt.Errorf("bad number %q in %s frame", s, f[0])
			}
			nums[i] = n
		}
		switch {
		case f[0] == "BOOT" && len(nums) == 1:
			r.Boot = nums[0]
		case f[0] == "ENV" && len(nums) == 1:
			d, err := take(nums[0])
			if err != nil {
				return r, err
			}
			r.Env = d
		case f[0] == "CMD" && (len(nums) == 5 || len(nums) == 6):
			c := CmdResult{Start: -1}
			var err error
			c.Status = nums[1]
			if len(nums) == 6 && nums[5] >= 0 {
				c.Start = int64(nums[5])
			}
			if c.Stdout, err = take(nums[2]); err != nil {
				return r, err
			}
			if c.Stderr, err = take(nums[3]); err != nil {
				return r, err
			}
			if c.Kmsg, err = take(nums[4]); err != nil {
				return r, err
			}
			r.Results[nums[0]] = c
		case f[0] == "END" && len(nums) == 0:
			r.Ended = true
		default:
			return r, fmt.Errorf("unknown frame %q", strings.Join(f, " "))
		}
	}
	return r, nil
}

// splitLines splits output into lines: a last line without a newline still counts, and empty
// output has no lines.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.Split(s, "\n")
}

// formatEnv turns the guest's "key\tvalue" lines into `# env:` lines.
func formatEnv(env []byte, s *scenario.Script) []string {
	var out []string
	disks := map[string]scenario.Disk{}
	for _, d := range s.Disks {
		disks[d.Name] = d
	}
	for _, l := range splitLines(env) {
		k, v, _ := strings.Cut(l, "\t")
		switch k {
		case "dmsetup":
			// "Library version: 1.02.185 (2022-05-18);Driver version: 4.47.0;"
			var parts []string
			for _, p := range strings.Split(v, ";") {
				if _, val, ok := strings.Cut(p, ": "); ok {
					parts = append(parts, strings.TrimSpace(val))
				}
			}
			if len(parts) == 2 {
				v = parts[0] + ", driver " + parts[1]
			}
			out = append(out, "# env: dmsetup "+v)
		case "busybox":
			v = strings.TrimPrefix(v, "BusyBox ")
			v = strings.TrimSuffix(v, " multi-call binary.")
			out = append(out, "# env: busybox "+v)
		case "disk":
			// NAME=DEV SECTORS MAJ:MIN DISCARD_MAX_BYTES
			f := strings.Fields(v)
			if len(f) == 4 {
				name, dev, _ := strings.Cut(f[0], "=")
				disc := "discard"
				if f[3] == "0" {
					disc = "nodiscard"
				}
				size := ""
				if d, ok := disks[name]; ok {
					size = " " + scenario.FormatSize(d.Size)
				}
				out = append(out, fmt.Sprintf("# env: disk %s = %s%s (%s sectors, %s, %s)", name, dev, size, f[1], f[2], disc))
				continue
			}
			out = append(out, "# env: disk "+v)
		default:
			out = append(out, "# env: "+k+" "+v)
		}
	}
	return out
}

// hostNoise matches kernel log lines that come from the host's scheduling of the emulated CPU
// (TCG on a busy machine), never from device-mapper: they are dropped from transcripts.
var hostNoise = regexp.MustCompile(`^<[0-7]>(hrtimer: interrupt took [0-9]+ ns|clocksource: .*|sched: RT throttling activated|random: crng init done)$`)

// kmsgLines splits `dmesg -r` output into lines, leaving out host noise.
func kmsgLines(b []byte) []string {
	var out []string
	for _, l := range splitLines(b) {
		if !hostNoise.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// Transcript formats the script's transcript from the env lines and the results of its commands
// (keyed by their index in s.Items).
func Transcript(s *scenario.Script, env []string, results map[int]CmdResult) string {
	var b strings.Builder
	for _, l := range env {
		b.WriteString(l + "\n")
	}
	for i, it := range s.Items {
		switch it.Kind {
		case scenario.Comment, scenario.Reboot:
			b.WriteString(it.Text + "\n")
		case scenario.Command:
			r := results[i]
			if it.Silent && r.Status == 0 {
				continue
			}
			b.WriteString("$ " + it.Cmd + "\n")
			for _, l := range splitLines(r.Stdout) {
				b.WriteString("| " + l + "\n")
			}
			for _, l := range splitLines(r.Stderr) {
				b.WriteString("! " + l + "\n")
			}
			for _, l := range kmsgLines(r.Kmsg) {
				b.WriteString("k " + l + "\n")
			}
			fmt.Fprintf(&b, "[exit %d]\n", r.Status)
		}
	}
	return b.String()
}
