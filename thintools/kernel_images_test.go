package thintools

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/thinmeta"
)

// TestKernelImages opens the metadata images the real 6.1 kernel left
// behind in the golden recordings (testdata/kernel/NAME.DISK.img.zst, see
// its README) and checks that dmsim reads them as the kernel wrote them:
// dmsim's thin_dump equals ../goldens/NAME.DISK.xml (the real thin_dump
// 0.9.0 of the same image) byte for byte and dmsim's checks pass; then it
// reopens the metadata as the pool does (no format), creates a fresh thin
// device, commits and closes, and the result still passes both checks
// (the real thin_check too when installed).
func TestKernelImages(t *testing.T) {
	files, err := filepath.Glob("testdata/kernel/*.img.zst")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no images in testdata/kernel")
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".img.zst") // NAME.DISK
		t.Run(name, func(t *testing.T) {
			comp, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			img, err := dec.DecodeAll(comp, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("..", "goldens", name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(want, []byte("# thin_dump exit")) {
				t.Fatalf("goldens/%s.xml records a failing thin_dump; pick images the real thin_dump reads", name)
			}
			path := filepath.Join(t.TempDir(), name+".img")
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			checkKernelImage(t, path, "kernel image")
			if got := dmsimTool(t, "thin_dump", path); got != string(want) {
				t.Fatalf("dmsim thin_dump of the kernel image differs from goldens/%s.xml:\n%s", name, firstDiffLine(got, string(want)))
			}

			// Reopen as the pool does (dm_pool_metadata_open, no format)
			// with the block size the superblock records.
			dev, err := block.OpenFile(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			sb, err := thinmeta.NewImage(dev).Superblock(thinmeta.SuperblockLocation)
			if err != nil {
				t.Fatal(err)
			}
			pmd, err := thinmeta.Open(dev, uint64(sb.DataBlockSize), false, thinmeta.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			fresh := uint32(0)
			for _, line := range strings.Split(string(want), "\n") {
				var id uint32
				if n, _ := fmt.Sscanf(line, `  <device dev_id="%d"`, &id); n == 1 && id >= fresh {
					fresh = id + 1
				}
			}
			if err := pmd.CreateThin(fresh); err != nil {
				t.Fatalf("create_thin %d: %v", fresh, err)
			}
			if err := pmd.CommitMetadata(); err != nil {
				t.Fatalf("commit: %v", err)
			}
			if err := pmd.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			checkKernelImage(t, path, "after create_thin")
			after := dmsimTool(t, "thin_dump", path)
			dev0 := `  <device dev_id="` + strconv.FormatUint(uint64(fresh), 10) + `" mapped_blocks="0"`
			if !strings.Contains(after, dev0) {
				t.Fatalf("thin_dump after create_thin %d has no %s:\n%s", fresh, dev0, after)
			}
			requireRealTools(t) // skips off CI, fails with CI=true
			out, err := exec.Command("thin_check", path).CombinedOutput()
			if err != nil {
				t.Fatalf("real thin_check after create_thin %d: %v\n%s", fresh, err, out)
			}
		})
	}
}

// checkKernelImage runs thinmeta's check and dmsim's thin_check on path.
func checkKernelImage(t *testing.T, path, what string) {
	t.Helper()
	dev, err := block.OpenFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	rep := thinmeta.NewImage(dev).Check()
	dev.Close()
	for _, p := range rep.Problems {
		t.Errorf("%s: thinmeta check: %s", what, p.Msg)
	}
	if !rep.OK() {
		t.FailNow()
	}
	var stdout, stderr bytes.Buffer
	rc := Commands["thin_check"](context.Background(), []string{"thin_check", path},
		&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if rc != 0 {
		t.Fatalf("%s: dmsim thin_check exit %d\n%s%s", what, rc, stdout.String(), stderr.String())
	}
}

// dmsimTool runs one of dmsim's tools on path and returns its stdout; any
// stderr or a non-zero exit fails the test.
func dmsimTool(t *testing.T, tool, path string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rc := Commands[tool](context.Background(), []string{tool, path},
		&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
	if rc != 0 || stderr.Len() > 0 {
		t.Fatalf("dmsim %s %s: exit %d\n%s", tool, path, rc, stderr.String())
	}
	return stdout.String()
}

// firstDiffLine names the first line where got and want differ.
func firstDiffLine(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  dmsim:  " + a + "\n  kernel: " + b
		}
	}
	return "(same lines)"
}
