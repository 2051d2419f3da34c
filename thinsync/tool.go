package thinsync

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// Exit codes (docs/thinsync.md, "Exit codes").
const (
	ExitOK        = 0
	ExitError     = 1  // I/O error, a tool failed
	ExitUsage     = 2  // bad arguments
	ExitStream    = 3  // corrupt, truncated or unknown stream
	ExitHeld      = 4  // the pool's metadata snapshot is held by someone else
	ExitWrongBase = 5  // the base does not match the stream
	ExitBusy      = 6  // target open, mounted, or already exists
	ExitGeometry  = 7  // size or granule mismatch
	ExitVerify    = 8  // the received image's root is not the stream's
	ExitNoSpace   = 9  // the pool ran out of space
	ExitState     = 10 // resume state missing or for another stream
	// ExitKilled is returned (to the back end) when a termination signal
	// ended the run after cleanup; the back end dies of that signal.
	ExitKilled = -1
)

// exitError is a refusal with its exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &exitError{code, fmt.Sprintf(format, args...)}
}

var errKilled = errors.New("killed")

// tool is one run of thinsync.
type tool struct {
	sys Sys
}

// errText is the text of an error: host errors reduce to glibc's strerror
// so that messages are the same on Linux and in dmsim.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + linuxerr.Strerror(pe.Err)
	}
	return linuxerr.Strerror(err)
}

// exec runs a program and returns its stdout, or an error naming it with
// the first line it wrote on stderr.
func (t *tool) exec(nokill bool, argv ...string) ([]byte, error) {
	out, errb, st := t.sys.Exec(argv, nokill)
	if st != 0 {
		line, _, _ := strings.Cut(strings.TrimSpace(string(errb)), "\n")
		if line == "" {
			line = fmt.Sprintf("exit status %d", st)
		}
		return out, fmt.Errorf("%s: %s", strings.Join(argv, " "), line)
	}
	return out, nil
}

func (t *tool) dmsetup(args ...string) ([]byte, error) {
	return t.exec(false, append([]string{"dmsetup"}, args...)...)
}

// cleanup runs dmsetup even after a kill, reporting failures on stderr.
func (t *tool) cleanup(args ...string) {
	if _, err := t.exec(true, append([]string{"dmsetup"}, args...)...); err != nil {
		fmt.Fprintf(t.sys.Stderr(), "thinsync: cleanup: %v\n", err)
	}
}

// poolInfo is what a thin-pool table line says.
type poolInfo struct {
	name      string
	metaDev   string // major:minor
	blockSize uint64 // sectors
}

func (t *tool) pool(name string) (*poolInfo, error) {
	out, err := t.dmsetup("table", name)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(out))
	if len(f) < 6 || f[2] != "thin-pool" {
		return nil, fail(ExitError, "%s is not a thin-pool device", name)
	}
	bs, err := strconv.ParseUint(f[5], 10, 64)
	if err != nil || bs == 0 {
		return nil, fail(ExitError, "pool %s: bad block size %q", name, f[5])
	}
	return &poolInfo{name: name, metaDev: f[3], blockSize: bs}, nil
}

// devPath finds /dev/NAME for major:minor through /sys/block/*/dev.
func (t *tool) devPath(devt string) (string, error) {
	if strings.HasPrefix(devt, "/") {
		return devt, nil
	}
	names, err := t.sys.ReadDir("/sys/block")
	if err != nil {
		return "", err
	}
	for _, n := range names {
		f, err := t.sys.Open(path.Join("/sys/block", n, "dev"), ORead)
		if err != nil {
			continue
		}
		var buf [64]byte
		k, _ := f.Read(buf[:])
		f.Close()
		if strings.TrimSpace(string(buf[:k])) == devt {
			return "/dev/" + n, nil
		}
	}
	return "", fail(ExitError, "no block device %s (give --meta)", devt)
}

// tableSectors is the length of a device's table.
func (t *tool) tableSectors(name string) (uint64, error) {
	out, err := t.dmsetup("table", name)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return 0, fail(ExitError, "device %s has no table", name)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, fail(ExitError, "device %s: bad table line %q", name, line)
		}
		total += n
	}
	return total, nil
}

// tableOrigin is the external origin of a thin device's table (its 5th
// argument, thin_ctr()), "" when it has none.
func (t *tool) tableOrigin(name string) (string, error) {
	out, err := t.dmsetup("table", name)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) >= 6 && f[2] == "thin" {
		return f[5], nil
	}
	return "", nil
}

// heldRoot is field 4 of the pool's status params (the 7th field of the
// line): the held metadata root, "-" when none (pool_status()).
func (t *tool) heldRoot(pool string) (string, error) {
	out, err := t.dmsetup("status", pool)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) < 7 || f[2] != "thin-pool" {
		if len(f) >= 4 && f[3] == "Fail" {
			return "", fail(ExitError, "pool %s has failed", pool)
		}
		return "", fail(ExitError, "pool %s: unexpected status %q", pool, strings.TrimSpace(string(out)))
	}
	return f[6], nil
}

// activation is a thin device thinsync activated under its own name.
type activation struct {
	name string
	dev  string
}

// activate creates NAME as "0 SECTORS thin /dev/mapper/POOL ID [ORIGIN]".
func (t *tool) activate(name, pool string, id, sectors uint64, readonly bool, origin ...string) (*activation, error) {
	args := []string{"create", name}
	if readonly {
		args = append(args, "--readonly")
	}
	table := fmt.Sprintf("0 %d thin /dev/mapper/%s %d", sectors, pool, id)
	if len(origin) > 0 && origin[0] != "" {
		table += " " + origin[0] // thin_ctr(): the optional external origin
	}
	if _, err := t.dmsetup(append(args, "--table", table)...); err != nil {
		return nil, err
	}
	return &activation{name: name, dev: "/dev/mapper/" + name}, nil
}

func (t *tool) deactivate(a *activation) {
	if a != nil {
		t.cleanup("remove", a.name)
	}
}

// poolMessage sends a pool message.
func (t *tool) poolMessage(pool string, msg string) error {
	_, err := t.dmsetup("message", pool, "0", msg)
	return err
}

// parseSize reads a size in sectors (a plain number) or bytes with a
// suffix: 4M, 1G, 512K (binary), 123b (bytes).
func parseSectors(s string) (uint64, error) {
	mult := uint64(512)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'b':
			mult, s = 1, s[:n-1]
		case 'K', 'k':
			mult, s = 1<<10, s[:n-1]
		case 'M', 'm':
			mult, s = 1<<20, s[:n-1]
		case 'G', 'g':
			mult, s = 1<<30, s[:n-1]
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v*mult/mult != v || v*mult%512 != 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult / 512, nil
}
