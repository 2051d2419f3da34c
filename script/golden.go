package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dmsim/dmsim/internal/fsutil"
	"github.com/dmsim/dmsim/userland"
)

// Golden is a script and its golden files: NAME.txt, the transcript, and
// NAME.DISK.xml, the thin_dump of each disk named meta* after the last
// power-off (docs/script-format.md, "Goldens"). The recorder writes them
// from the kernel; UpdateGolden from dmsim.
type Golden struct {
	Name       string            // NAME
	Script     string            // path of NAME.sh
	Transcript string            // path of NAME.txt
	Dumps      map[string]string // disk -> path of NAME.DISK.xml (only those that exist)
}

// FindGolden returns the golden files of the script in dir ("" for the
// script's own directory); the transcript need not exist.
func FindGolden(scriptPath, dir string) Golden {
	name := strings.TrimSuffix(filepath.Base(scriptPath), ".sh")
	if dir == "" {
		dir = filepath.Dir(scriptPath)
	}
	g := Golden{Name: name, Script: scriptPath, Transcript: filepath.Join(dir, name+".txt"), Dumps: map[string]string{}}
	matches, _ := filepath.Glob(filepath.Join(dir, name+".*.xml"))
	for _, m := range matches {
		disk := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), name+"."), ".xml")
		if !strings.Contains(disk, ".") {
			g.Dumps[disk] = m
		}
	}
	return g
}

// Check is a script replayed on dmsim and compared with its golden.
type Check struct {
	Result *ScriptResult
	// Dumps are dmsim's thin_dumps of the meta* disks, formatted as
	// NAME.DISK.xml (DumpGolden).
	Dumps map[string]string
	// Missing: the golden transcript does not exist (Diff is empty).
	Missing bool
	// Diff is the unified diffs from the golden files to dmsim's, `# env:`
	// lines aside; "" if they agree.
	Diff string
	// Notes are what could not be compared, and why.
	Notes []string
}

// CompareGolden replays g.Script on dmsim with o and compares its
// transcript with g.Transcript and, for every NAME.DISK.xml in g.Dumps,
// dmsim's thin_dump of that disk's image with it. The images are kept only
// if o.KeepDir says so. An error is a script that did not run (or a golden
// that cannot be read).
func CompareGolden(ctx context.Context, g Golden, o Options) (*Check, error) {
	if o.KeepDir == "" {
		tmp, err := os.MkdirTemp("", "dmsim-test-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		o.KeepDir = tmp
	}
	res, err := RunFile(ctx, g.Script, o)
	if err != nil {
		return nil, err
	}
	c := &Check{Result: res, Dumps: map[string]string{}}
	for disk, img := range res.Images {
		if !strings.HasPrefix(disk, "meta") {
			continue
		}
		if d, ok := thinDumpGolden(img); ok {
			c.Dumps[disk] = d
		}
	}
	want, err := os.ReadFile(g.Transcript)
	if errors.Is(err, fs.ErrNotExist) {
		c.Missing = true
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	var diffs strings.Builder
	diffs.WriteString(UnifiedDiff(g.Transcript+envLabel(string(want)), "dmsim", StripEnv(string(want)), StripEnv(res.Transcript)))
	disks := make([]string, 0, len(g.Dumps))
	for d := range g.Dumps {
		disks = append(disks, d)
	}
	sort.Strings(disks)
	for _, d := range disks {
		if _, ok := res.Images[d]; !ok {
			fmt.Fprintf(&diffs, "golden %s names disk %s, which the script does not declare\n", g.Dumps[d], d)
			continue
		}
		got, ok := c.Dumps[d]
		if !ok {
			c.Notes = append(c.Notes, fmt.Sprintf("thin_dump is not registered: %s not compared", g.Dumps[d]))
			continue
		}
		wantXML, err := os.ReadFile(g.Dumps[d])
		if err != nil {
			return nil, err
		}
		diffs.WriteString(UnifiedDiff(g.Dumps[d]+envLabel(string(want)), "dmsim "+d+" image", string(wantXML), got))
	}
	c.Diff = diffs.String()
	return c, nil
}

// envLabel names where a golden comes from, for diff headers: " (Linux
// 6.1.0-57-amd64)" for the kernel's, " (dmsim VERSION)" for dmsim's.
func envLabel(transcript string) string {
	for _, l := range strings.Split(transcript, "\n") {
		rest, ok := strings.CutPrefix(l, "# env: ")
		if !ok {
			break
		}
		if v, ok := strings.CutPrefix(rest, "kernel "); ok {
			return " (Linux " + v + ")"
		}
		if strings.HasPrefix(rest, "dmsim ") {
			return " (" + rest + ")"
		}
	}
	return ""
}

// UpdateGolden writes the golden files of g from dmsim's run c: the
// transcript, whose `# env: dmsim VERSION` line marks it as dmsim's and
// not a kernel recording, and a NAME.DISK.xml for every meta* disk; stale
// NAME.DISK.xml files go, as the recorder's WriteGoldens does.
func UpdateGolden(g Golden, c *Check) error {
	if !strings.HasPrefix(c.Result.Transcript, "# env: dmsim") {
		return fmt.Errorf("%s: dmsim's transcript has no `# env: dmsim` line", g.Name)
	}
	dir := filepath.Dir(g.Transcript)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(g.Transcript, c.Result.Transcript); err != nil {
		return err
	}
	for disk, p := range FindGolden(g.Script, dir).Dumps {
		if _, ok := c.Dumps[disk]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	for disk, xml := range c.Dumps {
		if err := fsutil.WriteAtomic(filepath.Join(dir, g.Name+"."+disk+".xml"), xml); err != nil {
			return err
		}
	}
	return nil
}

// thinDumpGolden formats dmsim's thin_dump of an image as the recorder
// writes NAME.DISK.xml (see DumpGolden); false if no thin_dump is
// registered.
func thinDumpGolden(image string) (string, bool) {
	if _, ok := userland.Lookup("thin_dump"); !ok {
		return "", false
	}
	var out, errb bytes.Buffer
	p := &userland.Proc{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Dir: "/", FS: userland.HostFS{}}
	st := userland.Run(p, []string{"thin_dump", image})
	return DumpGolden(st, out.String(), errb.String()), true
}

// DumpGolden formats a thin_dump run as the recorder writes NAME.DISK.xml:
// stdout when it exits 0 with nothing on stderr, else "# thin_dump exit
// N", "# stderr: LINE"... then stdout.
func DumpGolden(code int, stdout, stderr string) string {
	if code == 0 && stderr == "" {
		return stdout
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# thin_dump exit %d\n", code)
	for _, l := range SplitLines([]byte(stderr)) {
		b.WriteString("# stderr: " + l + "\n")
	}
	b.WriteString(stdout)
	return b.String()
}
