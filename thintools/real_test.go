package thintools

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/internal/realtools"
)

// requireRealTools skips (off CI) or fails (CI=true) when the real
// thin-provisioning-tools 0.9.0 are not installed. The cases run them
// through bash, so they must be on PATH.
func requireRealTools(t *testing.T) {
	t.Helper()
	if realtools.Version != Version {
		t.Fatalf("realtools.Version %s, thintools.Version %s", realtools.Version, Version)
	}
	p := realtools.Path(t, "thin_dump")
	if onPath, err := exec.LookPath("thin_dump"); err != nil || onPath != p {
		realtools.Missing(t, p+" is not the thin_dump on PATH")
	}
}

// TestRealGoldenCases runs every golden case with the real tools and with
// dmsim's, on the same inputs, and compares stdout, stderr and exit code
// directly (this also catches stale goldens).
func TestRealGoldenCases(t *testing.T) {
	requireRealTools(t)
	shared := t.TempDir()
	setupDir(t, shared)
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			realDir, oursDir := shared, shared
			if strings.Contains(c.flags, "w") {
				realDir, oursDir = t.TempDir(), t.TempDir()
				setupDir(t, realDir)
				setupDir(t, oursDir)
			}
			ro, re, rrc := runLine(t, realDir, c.cmd, true, false)
			oo, oe, orc := runLine(t, oursDir, c.cmd, false, false)
			compare(t, "stdout", oo, ro)
			compare(t, "stderr", oe, re)
			if orc != rrc {
				t.Errorf("%s: exit code %d, real %d", c.cmd, orc, rrc)
			}
			if c.post != "" {
				rp, _, _ := runLine(t, realDir, c.post, true, true)
				op, _, _ := runLine(t, oursDir, c.post, false, true)
				compare(t, "post", op, rp)
			}
		})
	}
}

// randomXML makes a random pool: devices sharing data blocks (snapshot
// style), overlapping runs, sizes that need internal nodes.
func randomXML(r *rand.Rand) string {
	nrData := uint64(1000 + r.Intn(50000))
	var b strings.Builder
	fmt.Fprintf(&b, "<superblock uuid=\"\" time=\"%d\" transaction=\"%d\" flags=\"0\" version=\"2\" data_block_size=\"%d\" nr_data_blocks=\"%d\">\n",
		r.Intn(10), r.Intn(100), 128*(1+r.Intn(16)), nrData)
	nrDevs := 1 + r.Intn(6)
	if r.Intn(4) == 0 {
		nrDevs = 130 + r.Intn(20)
	}
	id := uint64(0)
	for d := 0; d < nrDevs; d++ {
		id += uint64(1 + r.Intn(5))
		fmt.Fprintf(&b, "  <device dev_id=\"%d\" mapped_blocks=\"0\" transaction=\"%d\" creation_time=\"%d\" snap_time=\"%d\">\n", id, r.Intn(9), r.Intn(5), r.Intn(9))
		v := uint64(r.Intn(100))
		runs := r.Intn(8)
		if nrDevs < 10 && r.Intn(3) == 0 {
			runs = 200 + r.Intn(300)
		}
		for i := 0; i < runs; i++ {
			n := uint64(1 + r.Intn(40))
			db := uint64(r.Intn(int(nrData - n)))
			if r.Intn(2) == 0 {
				db = v % (nrData - n) // shared with other devices at the same offset
			}
			if n == 1 {
				fmt.Fprintf(&b, "    <single_mapping origin_block=\"%d\" data_block=\"%d\" time=\"%d\"/>\n", v, db, r.Intn(4))
			} else {
				fmt.Fprintf(&b, "    <range_mapping origin_begin=\"%d\" data_begin=\"%d\" length=\"%d\" time=\"%d\"/>\n", v, db, n, r.Intn(4))
			}
			v += n + uint64(r.Intn(3)*r.Intn(30))
		}
		b.WriteString("  </device>\n")
	}
	b.WriteString("</superblock>\n")
	return b.String()
}

// TestRealRandomPools restores random pools with the real thin_restore and
// compares every reader's output, and checks that dmsim's thin_restore
// writes images the real thin_check accepts and the real thin_dump reads
// back identically.
func TestRealRandomPools(t *testing.T) {
	requireRealTools(t)
	n := 12
	if testing.Short() {
		n = 3
	}
	for seed := 0; seed < n; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(int64(seed)))
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.xml"), []byte(randomXML(r)), 0o644); err != nil {
				t.Fatal(err)
			}
			setup := "truncate -s 16M real.img; thin_restore -q -i p.xml -o real.img"
			if _, e, rc := runLine(t, dir, setup, true, false); rc != 0 {
				t.Fatalf("real thin_restore: %s", e)
			}
			devs := realDevIDs(t, dir)
			cmds := []string{
				"thin_check real.img",
				"thin_dump real.img",
				"thin_dump -f human_readable real.img",
				"thin_dump --skip-mappings real.img",
				"thin_ls -o " + strings.Join(lsFields, ",") + " real.img",
				"thin_ls real.img",
			}
			for i := 0; i < 4 && len(devs) > 0; i++ {
				a, b := devs[r.Intn(len(devs))], devs[r.Intn(len(devs))]
				cmds = append(cmds, fmt.Sprintf("thin_delta --thin1 %s --thin2 %s real.img", a, b),
					fmt.Sprintf("thin_delta --verbose --thin1 %s --thin2 %s real.img", a, b))
			}
			lo := r.Intn(20000)
			cmds = append(cmds, fmt.Sprintf("thin_rmap --region %d..%d --region 0..%d real.img", lo, lo+1+r.Intn(30000), 1+r.Intn(500)))
			for _, c := range cmds {
				ro, re, rrc := runLine(t, dir, c, true, false)
				oo, oe, orc := runLine(t, dir, c, false, false)
				compare(t, c+": stdout", oo, ro)
				compare(t, c+": stderr", oe, re)
				if orc != rrc {
					t.Errorf("%s: exit code %d, real %d", c, orc, rrc)
				}
			}
			// dmsim's restore, read back by the real tools
			ours := "truncate -s 16M ours.img; thin_restore -i p.xml -o ours.img"
			if _, e, rc := runLine(t, dir, ours, false, false); rc != 0 {
				t.Fatalf("dmsim thin_restore: %s", e)
			}
			if _, e, rc := runLine(t, dir, "thin_check ours.img", true, false); rc != 0 {
				t.Errorf("real thin_check rejects dmsim's image: %s", e)
			}
			want, _, _ := runLine(t, dir, "thin_dump real.img", true, false)
			got, _, _ := runLine(t, dir, "thin_dump ours.img", true, false)
			compare(t, "real thin_dump of dmsim's restore", got, want)
			// and the image itself is the real thin_restore's, byte for byte
			realImg, _ := os.ReadFile(filepath.Join(dir, "real.img"))
			ourImg, _ := os.ReadFile(filepath.Join(dir, "ours.img"))
			if b := firstDiffBlock(realImg, ourImg); b >= 0 {
				t.Errorf("dmsim's thin_restore image differs from the real one at block %d", b)
			}
			// and both fail alike on a device too small for the pool
			small := fmt.Sprintf("truncate -s %dK small.img; thin_restore -i p.xml -o small.img", 32+4*r.Intn(40))
			ro, re, rrc := runLine(t, dir, "rm -f small.img; "+small, true, false)
			oo, oe, orc := runLine(t, dir, "rm -f small.img; "+small, false, false)
			compare(t, small+": stdout", oo, ro)
			compare(t, small+": stderr", oe, re)
			if orc != rrc {
				t.Errorf("%s: exit code %d, real %d", small, orc, rrc)
			}
		})
	}
}

// firstDiffBlock is the first metadata block two images differ in, -1 if
// none (or the size, if only that differs).
func firstDiffBlock(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i += blockSize {
		if !bytes.Equal(a[i:min(i+blockSize, len(a))], b[i:min(i+blockSize, len(b))]) {
			return i / blockSize
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b)) / blockSize
	}
	return -1
}

func realDevIDs(t *testing.T, dir string) []string {
	out, _, _ := runLine(t, dir, "thin_ls --no-headers -o DEV real.img", true, false)
	return strings.Fields(out)
}
