package thintools

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// scatteredNrData is N for n scattered mappings: n+1, raised until it is
// prime to 2, 3, 5 and 7919, so that k·7919 mod N visits distinct blocks.
func scatteredNrData(n uint64) uint64 {
	N := n + 1
	for N%2 == 0 || N%3 == 0 || N%5 == 0 || N%7919 == 0 {
		N++
	}
	return N
}

// writeScatteredXML writes the thin_dump XML of issue 13's benchmark pool:
// n single mappings spread over devs devices (0..devs-1, n/devs each, the
// first n%devs devices one more); device d's mapping i maps origin block
// 2i to data block (k·7919) mod N, where k counts mappings across devices.
// Only every stride-th mapping of each device is written (stride 1: all):
// a sample of the pool with the same data device.
func writeScatteredXML(w io.Writer, n uint64, devs int, stride uint64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	N := scatteredNrData(n)
	fmt.Fprintf(bw, "<superblock uuid=\"\" time=\"1\" transaction=\"1\" flags=\"0\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"%d\">\n", N)
	k := uint64(0)
	for d := 0; d < devs; d++ {
		per := n / uint64(devs)
		if uint64(d) < n%uint64(devs) {
			per++
		}
		fmt.Fprintf(bw, "  <device dev_id=\"%d\" mapped_blocks=\"%d\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n", d, divUp(per, stride))
		var line []byte
		for i := uint64(0); i < per; i++ {
			if i%stride != 0 {
				k++
				continue
			}
			line = append(line[:0], "    <single_mapping origin_block=\""...)
			line = fmt.Appendf(line, "%d\" data_block=\"%d\" time=\"0\"/>\n", 2*i, k*7919%N)
			bw.Write(line)
			k++
		}
		bw.WriteString("  </device>\n")
	}
	bw.WriteString("</superblock>\n")
	return bw.Flush()
}

func divUp(v, n uint64) uint64 { return (v + n - 1) / n }

// scatteredImageSize is a metadata device size with room for a sample of
// n scattered mappings (ascending inserts leave the tools' leaves of 126
// entries about full: 10M mappings take 80,000 blocks, 330 MB) and the
// data space map's bitmaps.
func scatteredImageSize(n, stride uint64) int64 {
	blocks := n/stride/100 + scatteredNrData(n)/16320 + 1024
	return int64(blocks) * blockSize
}

// makeScatteredXML writes the XML to path.
func makeScatteredXML(t testing.TB, path string, n uint64, devs int, stride uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeScatteredXML(f, n, devs, stride); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRealRestoreScattered restores samples of the scattered pool with the
// real thin_restore and with dmsim's and compares the images byte for
// byte. The samples keep the full pool's data device, so its space map
// index grows past one btree leaf (168 bitmaps, 2,741,760 data blocks),
// where the index entries' insertion order shows in the image.
func TestRealRestoreScattered(t *testing.T) {
	requireRealTools(t)
	for _, c := range []struct {
		name      string
		n, stride uint64
	}{
		{"100k", 100_000, 1},
		{"2.7M/1000, one index leaf", 2_700_000, 1000},
		{"2.8M/1000, two index leaves", 2_800_000, 1000},
		{"10M/1000, the benchmark's data device", 10_000_000, 1000},
		{"60M/20000, a two-level index", 60_000_000, 20000},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			makeScatteredXML(t, filepath.Join(dir, "p.xml"), c.n, 8, c.stride)
			compareRestores(t, dir, "p.xml", scatteredImageSize(c.n, c.stride))
		})
	}
}

// compareRestores restores dir/xml onto two images of size bytes, with the
// real thin_restore and with dmsim's, and fails if they differ.
func compareRestores(t testing.TB, dir, xml string, size int64) {
	t.Helper()
	for _, real := range []bool{true, false} {
		img := map[bool]string{true: "real.img", false: "ours.img"}[real]
		setup := fmt.Sprintf("rm -f %s; truncate -s %d %s", img, size, img)
		if _, e, rc := runLine(t, dir, setup, true, false); rc != 0 {
			t.Fatalf("%s: %s", setup, e)
		}
		if _, e, rc := runLine(t, dir, "thin_restore -i "+xml+" -o "+img, real, false); rc != 0 {
			t.Fatalf("thin_restore (real %v): %s", real, e)
		}
	}
	a, err := os.ReadFile(filepath.Join(dir, "real.img"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ours.img"))
	if err != nil {
		t.Fatal(err)
	}
	if first := firstDiffBlock(a, b); first >= 0 {
		nd := 0
		for i := 0; i+blockSize <= len(a) && i+blockSize <= len(b); i += blockSize {
			if !bytes.Equal(a[i:i+blockSize], b[i:i+blockSize]) {
				nd++
			}
		}
		t.Errorf("dmsim's thin_restore image differs from the real one in %d blocks, the first at block %d", nd, first)
	}
}
