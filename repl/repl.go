// Package repl is dmsim's interactive shell: an emulated machine with a
// few disks, where every script command works (dmsetup, dd, ...), plus
// shorthands for the dmsetup verbs (create, status, message, ...), `help`,
// `reboot` and `exit`. On a terminal it uses github.com/peterh/liner (line
// editing, persistent history, tab completion); on a pipe it reads plain
// lines.
package repl

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/peterh/liner"

	"github.com/dmsim/dmsim/dmsetup"
	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/userland"
)

// LineReader reads one line of input after showing a prompt.
type LineReader interface {
	Prompt(prompt string) (string, error)
	// AppendHistory records an entered line.
	AppendHistory(line string)
	Close() error
}

// plainReader reads lines from a pipe, printing no prompt.
type plainReader struct{ sc *bufio.Scanner }

// NewPlainReader reads commands line by line from r.
func NewPlainReader(r io.Reader) LineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	return &plainReader{sc: sc}
}

func (p *plainReader) Prompt(string) (string, error) {
	if p.sc.Scan() {
		return strings.TrimSuffix(p.sc.Text(), "\r"), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}
func (p *plainReader) AppendHistory(string) {}
func (p *plainReader) Close() error         { return nil }

// linerReader is a terminal line editor with history and completion.
type linerReader struct {
	st      *liner.State
	history string
}

func newLinerReader(complete func(line string, pos int) (string, []string, string), history string) *linerReader {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(complete)
	if history != "" {
		if f, err := os.Open(history); err == nil {
			st.ReadHistory(f)
			f.Close()
		}
	}
	return &linerReader{st: st, history: history}
}

func (l *linerReader) Prompt(p string) (string, error) {
	s, err := l.st.Prompt(p)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", nil
	}
	return s, err
}

func (l *linerReader) AppendHistory(line string) { l.st.AppendHistory(line) }

func (l *linerReader) Close() error {
	if l.history != "" {
		os.MkdirAll(filepath.Dir(l.history), 0o755)
		if f, err := os.Create(l.history); err == nil {
			l.st.WriteHistory(f)
			f.Close()
		}
	}
	return l.st.Close()
}

type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// HistoryFile is where the terminal REPL keeps its history.
func HistoryFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "dmsim", "history")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "dmsim", "history")
	}
	return ""
}

// shorthands are dmsetup verbs usable without "dmsetup".
var shorthands = map[string]bool{
	"create": true, "load": true, "reload": true, "message": true, "status": true, "table": true,
	"info": true, "ls": true, "suspend": true, "resume": true, "remove": true, "remove_all": true,
	"targets": true, "deps": true, "clear": true, "rename": true, "wait": true, "mknodes": true,
}

// poolMessages are the thin-pool messages.
var poolMessages = []string{"create_thin", "create_snap", "delete", "set_transaction_id",
	"reserve_metadata_snap", "release_metadata_snap"}

// Options configure a REPL session.
type Options struct {
	// Disks in declaration order (an Image is used in place); empty gives
	// meta 4M and data 64M.
	Disks []script.Disk
}

// Session is a running REPL.
type Session struct {
	m      *script.Machine
	specs  []dmsim.DiskSpec
	disks  []scenario.Disk
	tmp    string
	out    io.Writer
	errOut io.Writer
}

// NewSession boots a machine on the disks.
func NewSession(o Options, out, errOut io.Writer) (*Session, error) {
	disks := o.Disks
	if len(disks) == 0 {
		disks = []script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 64 << 20}}
	}
	tmp, err := os.MkdirTemp("", "dmsim-repl-")
	if err != nil {
		return nil, err
	}
	// plain writers: the shell must not take the terminal for a pipe
	s := &Session{tmp: tmp, out: writerOnly{out}, errOut: writerOnly{errOut}}
	for i, d := range disks {
		p, size := d.Image, d.Size
		if p == "" {
			p = filepath.Join(tmp, d.Name+".img")
		} else {
			st, err := os.Stat(p)
			if err != nil {
				os.RemoveAll(tmp)
				return nil, err
			}
			size = st.Size()
		}
		s.specs = append(s.specs, dmsim.DiskSpec{Path: p, Size: size})
		s.disks = append(s.disks, scenario.Disk{Name: d.Name, Size: size, Discard: true,
			Dev: "/dev/vd" + string(rune('a'+i))})
	}
	if s.m, err = script.Boot(s.specs, script.DiskEnv(s.disks)); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return s, nil
}

// Close powers the machine off and drops temporary images.
func (s *Session) Close() {
	s.m.Halt()
	os.RemoveAll(s.tmp)
}

// Banner describes the session.
func (s *Session) Banner() string {
	var b strings.Builder
	b.WriteString("dmsim: Linux 6.1 device-mapper in userspace. Type help for commands, exit to quit.\n")
	for _, d := range s.disks {
		fmt.Fprintf(&b, "disk %s = %s (%d sectors), $DISK_%s\n", d.Name, d.Dev, d.Size/512, d.Name)
	}
	return b.String()
}

const helpText = `Commands are the ones scripts use, run in a persistent shell:
  dmsetup ...            create, load/reload, suspend, resume, remove, remove_all, rename, clear,
                         message, status, table, info [-c], ls, deps, targets, version, wait, mknodes
  create, load, message, status, table, info, ls, suspend, resume, remove, ...
                         shorthands for "dmsetup VERB ..."
  dd, blkdiscard, blockdev, losetup, modprobe, dmesg, od, md5sum, head, cmp, ...
                         busybox 1.35 utilities
  thin_check, thin_dump, thin_ls, ...   thin-provisioning-tools 0.9.0 (when built in)
  reboot                 power off (no teardown) and boot again on the same disks
  help                   this text
  exit                   leave
Kernel log lines a command causes are printed after it. Time is virtual: sleep returns at once.
Example:
  create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 16"
  message pool 0 create_thin 0
  create thin0 --table "0 2097152 thin /dev/mapper/pool 0"
  dd if=/dev/zero of=/dev/mapper/thin0 bs=64K count=4 oflag=direct
  status pool
`

// Exec runs one REPL line; it reports false when the session should end.
func (s *Session) Exec(ctx context.Context, line string) bool {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return true
	}
	first, rest, _ := strings.Cut(t, " ")
	switch first {
	case "exit", "quit":
		return false
	case "help", "?":
		io.WriteString(s.out, helpText)
		return true
	case "reboot":
		s.m.Halt()
		m, err := script.Boot(s.specs, script.DiskEnv(s.disks))
		if err != nil {
			fmt.Fprintf(s.errOut, "dmsim: reboot: %v\n", err)
			return false
		}
		s.m = m
		return true
	}
	if shorthands[first] {
		t = "dmsetup " + first + " " + rest
	}
	st := s.m.Exec(ctx, t, s.out, s.errOut)
	for _, l := range s.m.Kernel.Log.ReadClear() {
		fmt.Fprintf(s.errOut, "kernel: %s\n", l)
	}
	if st != 0 {
		fmt.Fprintf(s.errOut, "[exit %d]\n", st)
	}
	return true
}

// Complete is the tab completion: commands, options, device names, target
// types and thin-pool messages.
func (s *Session) Complete(line string, pos int) (head string, completions []string, tail string) {
	head, tail = line[:pos], line[pos:]
	start := strings.LastIndexAny(head, " \t") + 1
	word := head[start:]
	head = head[:start]
	words := strings.Fields(head)
	var cands []string
	verb := ""
	if len(words) > 0 {
		verb = words[0]
		if verb == "dmsetup" {
			verb = ""
			if len(words) > 1 {
				verb = words[1]
			}
		}
	}
	devices := func() []string {
		var out []string
		if api := s.m.Kernel.Ioctl(); api != nil {
			s.m.Kernel.Clock.Enter()
			for _, e := range api.ListDevices() {
				out = append(out, e.Name, "/dev/mapper/"+e.Name)
			}
			s.m.Kernel.Clock.Exit()
		}
		return out
	}
	targets := func() []string {
		var out []string
		if api := s.m.Kernel.Ioctl(); api != nil {
			s.m.Kernel.Clock.Enter()
			for _, v := range api.ListVersions() {
				out = append(out, v.Name)
			}
			s.m.Kernel.Clock.Exit()
		}
		return out
	}
	switch {
	case len(words) == 0:
		cands = append(cands, "help", "exit", "reboot")
		for v := range shorthands {
			cands = append(cands, v)
		}
		for _, c := range userland.Commands() {
			cands = append(cands, c.Name)
		}
	case words[0] == "dmsetup" && len(words) == 1:
		cands = dmsetup.CommandNames()
		if strings.HasPrefix(word, "-") {
			cands = dmsetup.OptionNames()
		}
	case strings.HasPrefix(word, "-"):
		if c, ok := userland.Lookup(words[0]); ok {
			cands = c.Options
		}
		if shorthands[words[0]] || words[0] == "dmsetup" {
			cands = dmsetup.OptionNames()
		}
	case verb == "message" && (len(words) == 3 && words[0] != "dmsetup" || len(words) == 4 && words[0] == "dmsetup"):
		cands = poolMessages
	case shorthands[verb] || words[0] == "dmsetup":
		cands = append(devices(), targets()...)
		for _, d := range s.disks {
			cands = append(cands, d.Dev, "$DISK_"+d.Name)
		}
		if strings.HasPrefix(word, "\"") || strings.Contains(head, "--table") {
			cands = append(cands, "thin-pool", "thin", "linear", "striped", "error", "zero")
		}
	default:
		cands = devices()
		for _, d := range s.disks {
			cands = append(cands, d.Dev, "$DISK_"+d.Name)
		}
		if c, ok := userland.Lookup(words[0]); ok {
			cands = append(cands, c.Options...)
		}
	}
	seen := map[string]bool{}
	for _, c := range cands {
		if strings.HasPrefix(c, word) && !seen[c] {
			seen[c] = true
			completions = append(completions, c)
		}
	}
	sort.Strings(completions)
	return head, completions, tail
}

// Loop reads and runs lines until exit or end of input.
func (s *Session) Loop(ctx context.Context, in LineReader, prompt string) {
	for {
		line, err := in.Prompt(prompt)
		if err != nil {
			if prompt != "" {
				fmt.Fprintln(s.out)
			}
			return
		}
		if strings.TrimSpace(line) != "" {
			in.AppendHistory(line)
		}
		if !s.Exec(ctx, line) {
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// usage is `dmsim repl`'s synopsis.
const usage = "usage: dmsim repl [--disk NAME=SIZE|NAME=PATH]..."

func flagSet(o *Options) *flag.FlagSet {
	fs := flag.NewFlagSet("dmsim repl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(script.DiskFlag{Disks: &o.Disks}, "disk", "a disk `NAME=SIZE` (new, zero-filled) or NAME=PATH (an existing image); "+
		"default: meta=4M and data=64M")
	return fs
}

// ParseArgs parses `dmsim repl` arguments (--disk NAME=SIZE|NAME=PATH, as
// --disk VALUE or --disk=VALUE); flag.ErrHelp asks for the usage.
func ParseArgs(args []string) (Options, error) {
	var o Options
	fs := flagSet(&o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// printUsage writes the synopsis and the flags.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, usage)
	fs := flagSet(&Options{})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// isTerminal reports whether f is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Main runs the REPL: liner on a terminal, plain lines otherwise.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "dmsim repl: %v\n", err)
		printUsage(stderr)
		return 2
	}
	s, err := NewSession(o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim repl: %v\n", err)
		return 1
	}
	defer s.Close()
	if isTerminal(stdin) {
		io.WriteString(stdout, s.Banner())
		in := newLinerReader(s.Complete, HistoryFile())
		defer in.Close()
		s.Loop(ctx, in, "dmsim> ")
		return 0
	}
	s.Loop(ctx, NewPlainReader(stdin), "")
	return 0
}
