package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dmsim/dmsim/biolog"
	"github.com/dmsim/dmsim/internal/fsutil"
	"github.com/dmsim/dmsim/scenario"
)

// Options control a recording.
type Options struct {
	OutDir  string            // where NAME.txt and NAME.DISK.xml are written
	KeepDir string            // if set, disk images are kept there as NAME.DISK.img
	Disks   map[string]string // disk NAME -> existing image to attach (used in place, not zeroed)
	Timeout time.Duration     // per boot
	Accel   string            // "kvm" or "tcg"
	Image   *Image
	WorkDir string // scratch space (console logs, streams, temporary images)
	// LogWrites logs every disk's bios with qemu's blklogwrites (Result.BioLogs): the real
	// kernel's bio stream, in the dm-log-writes format.
	LogWrites bool
	// Icount, if set, is qemu's -icount option (e.g. "shift=0"): the guest's clocks then follow
	// the instructions it runs rather than the host's wall clock, so the time a command takes in
	// the guest no longer grows with TCG's slowness (see recorder/README.md).
	Icount string
	// DiskCache is qemu's cache mode for the disks: "writeback" when empty. "unsafe" answers the
	// guest's flushes without syncing the host's files: the guest still sends them and the bio
	// logs still have them, but its I/O waits shrink (see recorder/README.md).
	DiskCache string
}

// Result describes one recording.
type Result struct {
	Name       string
	Boots      int
	Elapsed    time.Duration
	Transcript string
	Dumps      map[string]string // disk name -> NAME.DISK.xml content
	WorkDir    string            // kept on failure: console logs and raw streams
	// BioLogs are, by disk name, the disks' bio logs across every boot (Options.LogWrites).
	BioLogs map[string][]byte
	// Starts are the guest's monotonic clock when each command started, by item index, on its
	// boot's clock (the commands whose start the guest could read): the pace it ran at.
	Starts map[int]time.Duration
}

// ThinDumpFile runs the host's thin_dump on a metadata image and returns the content of the
// NAME.DISK.xml golden: thin_dump's standard output when it exits 0 with nothing on standard
// error; otherwise a first line `# thin_dump exit STATUS`, one `# stderr: LINE` line per line of
// standard error, then whatever it wrote on standard output.
func ThinDumpFile(ctx context.Context, image string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "thin_dump", image)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	status := 0
	if err != nil {
		status = -1
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		}
	}
	if status == 0 && errb.Len() == 0 {
		return out.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# thin_dump exit %d\n", status)
	for _, l := range splitLines(errb.Bytes()) {
		b.WriteString("# stderr: " + l + "\n")
	}
	b.WriteString(out.String())
	return b.String()
}

// ScriptName is the golden name of a script path: scripts/thin-create.sh -> thin-create.
func ScriptName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".sh")
}

// Record runs one script on the kernel and returns its transcript and metadata dumps. It does not
// write goldens (see WriteGoldens).
func Record(ctx context.Context, path string, o Options) (*Result, error) {
	start := time.Now()
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := ScriptName(path)
	s, err := scenario.Parse(name, src)
	if err != nil {
		return nil, err
	}
	if c := s.CrashItem(); c != nil {
		return nil, fmt.Errorf("%s:%d: a `# crash:` directive cannot be recorded on a real kernel (run the script with `dmsim run`)", name, c.Line)
	}
	for n := range o.Disks {
		found := false
		for _, d := range s.Disks {
			found = found || d.Name == n
		}
		if !found {
			return nil, fmt.Errorf("%s: --disk %s: the script declares no such disk", name, n)
		}
	}
	work, err := os.MkdirTemp(o.WorkDir, "dmsim-record-"+name+"-")
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, WorkDir: work, Dumps: map[string]string{}}
	fail := func(err error) (*Result, error) {
		return res, fmt.Errorf("%s: %w (logs kept in %s)", name, err, work)
	}

	imgDir := work
	if o.KeepDir != "" {
		imgDir = o.KeepDir
		if err := os.MkdirAll(imgDir, 0o755); err != nil {
			return fail(err)
		}
	}
	var disks []vmDisk
	for _, d := range s.Disks {
		p, ok := o.Disks[d.Name]
		format := "raw"
		if !ok {
			p = filepath.Join(imgDir, name+"."+d.Name+".img")
			if format, err = newDiskImage(p, d.Size); err != nil {
				return fail(err)
			}
		} else if p, err = filepath.Abs(p); err != nil {
			return fail(err)
		} else if format, err = imageFormat(p); err != nil {
			return fail(err)
		}
		if strings.ContainsAny(p, ",") {
			return fail(fmt.Errorf("disk image path %q contains a comma, which qemu cannot take", p))
		}
		vd := vmDisk{Name: d.Name, Path: p, Format: format, Discard: d.Discard, Cache: o.DiskCache}
		if o.LogWrites {
			vd.Log = filepath.Join(work, name+"."+d.Name+".log")
			// qemu's file driver opens the log; it does not create it.
			if err := os.WriteFile(vd.Log, nil, 0o644); err != nil {
				return fail(err)
			}
		}
		disks = append(disks, vd)
	}

	results := map[int]CmdResult{}
	var env []string
	for i, cmds := range s.Commands() {
		n := i + 1
		stream, err := bootVM(ctx, o.Image, o.Accel, o.Icount, work, n, segment(s, n, cmds), disks, o.Timeout)
		res.Boots = n
		if err != nil {
			return fail(err)
		}
		br, err := parseStream(stream)
		if err != nil {
			return fail(fmt.Errorf("boot %d: %v", n, err))
		}
		if br.Boot != n {
			return fail(fmt.Errorf("boot %d: the guest did not start its script", n))
		}
		for _, c := range cmds {
			r, ok := br.Results[c]
			if !ok {
				it := s.Items[c]
				return fail(fmt.Errorf("boot %d: no result for line %d %q (did it exit the shell?)", n, it.Line, it.Text))
			}
			results[c] = r
			if r.Start >= 0 {
				if res.Starts == nil {
					res.Starts = map[int]time.Duration{}
				}
				res.Starts[c] = time.Duration(r.Start)
			}
		}
		if !br.Ended {
			return fail(fmt.Errorf("boot %d: the guest shell did not reach the end of the boot", n))
		}
		if n == 1 {
			env = formatEnv(br.Env, s)
		}
	}
	res.Transcript = Transcript(s, env, results)
	for i, d := range s.Disks {
		if strings.HasPrefix(d.Name, "meta") {
			res.Dumps[d.Name] = ThinDumpFile(ctx, disks[i].Path)
		}
	}
	for _, d := range disks {
		if d.Log == "" {
			continue
		}
		b, err := os.ReadFile(d.Log)
		if err != nil {
			return fail(err)
		}
		if res.BioLogs == nil {
			res.BioLogs = map[string][]byte{}
		}
		res.BioLogs[d.Name] = b
	}
	res.Elapsed = time.Since(start)
	os.RemoveAll(work)
	res.WorkDir = ""
	return res, nil
}

// newDiskImage makes a zero-filled disk image of size bytes at p: a sparse raw file, or, when the
// host file system cannot hold a file that big (ext4 stops at 16 TiB - 4 KiB: EFBIG), a qcow2
// image (`qemu-img create`), which stays as small as what the guest writes. Either way the guest
// sees the same virtio-blk disk: qemu's format driver does not show through virtio-blk's limits.
func newDiskImage(p string, size int64) (string, error) {
	os.Remove(p)
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	err = f.Truncate(size)
	f.Close()
	if err == nil {
		return "raw", nil
	}
	if !errors.Is(err, syscall.EFBIG) {
		return "", err
	}
	os.Remove(p)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", p, strconv.FormatInt(size, 10)).CombinedOutput(); err != nil {
		return "", fmt.Errorf("disk image %s of %d bytes: too big for a raw file here, and qemu-img: %v: %s",
			p, size, err, bytes.TrimSpace(out))
	}
	return "qcow2", nil
}

// qcow2Magic starts every qcow2 image ("QFI\xfb").
const qcow2Magic = "QFI\xfb"

// imageFormat tells an attached image's format: qcow2 (as newDiskImage makes for huge disks, kept
// with --keep) or raw.
func imageFormat(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	magic := make([]byte, len(qcow2Magic))
	if _, err := io.ReadFull(f, magic); err == nil && string(magic) == qcow2Magic {
		return "qcow2", nil
	}
	return "raw", nil
}

// WriteGoldens writes dir/NAME.txt and dir/NAME.DISK.xml and removes stale dir/NAME.*.xml files.
func WriteGoldens(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(filepath.Join(dir, r.Name+".txt"), r.Transcript); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, r.Name+".*.xml"))
	for _, p := range old {
		disk := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), r.Name+"."), ".xml")
		if _, ok := r.Dumps[disk]; !ok && !strings.Contains(disk, ".") {
			os.Remove(p)
		}
	}
	for disk, xml := range r.Dumps {
		if err := fsutil.WriteAtomic(filepath.Join(dir, r.Name+"."+disk+".xml"), xml); err != nil {
			return err
		}
	}
	return WriteBioLogs(dir, r)
}

// BioLogDir is where, under a goldens directory, the kernel's bio logs are kept:
// logs/NAME.DISK.log.zst, zstd-compressed dm-log-writes logs.
const BioLogDir = "logs"

// BioLogPath is the kept bio log of a scenario's disk under a goldens directory.
func BioLogPath(goldens, name, disk string) string {
	return filepath.Join(goldens, BioLogDir, name+"."+disk+".log.zst")
}

// StartsPath is the kept pace of a scenario's recording under a goldens directory: when each
// command started on the guest's clock (scenario.FormatStarts), beside its bio logs.
func StartsPath(goldens, name string) string {
	return filepath.Join(goldens, BioLogDir, name+".starts")
}

// WriteBioLogs writes the recording's bio logs (--log-writes) as dir/logs/NAME.DISK.log.zst,
// with the commands' start times as dir/logs/NAME.starts, replacing the scenario's old ones.
// Without bio logs it changes nothing.
func WriteBioLogs(dir string, r *Result) error {
	if len(r.BioLogs) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, BioLogDir), 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(BioLogPath(dir, r.Name, "*"))
	for _, p := range append(old, StartsPath(dir, r.Name)) {
		os.Remove(p)
	}
	if len(r.Starts) > 0 {
		if err := fsutil.WriteAtomic(StartsPath(dir, r.Name), string(scenario.FormatStarts(r.Starts))); err != nil {
			return err
		}
	}
	for disk, b := range r.BioLogs {
		z, err := biolog.Compress(b)
		if err != nil {
			return err
		}
		if err := fsutil.WriteAtomic(BioLogPath(dir, r.Name, disk), string(z)); err != nil {
			return err
		}
	}
	return nil
}
