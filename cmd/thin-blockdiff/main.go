// Command thin-blockdiff compares two thin-pool metadata images block by
// block (the kernel's and dmsim's, say) and says what each differing block
// holds in each image: superblock, btree nodes by tree, space-map bitmaps
// and index, stale copies.
//
//	thin-blockdiff [-layout] [-show] A.img B.img
//
// It prints one line per differing block, "BLOCK: ROLE-IN-A | ROLE-IN-B"
// ("=" when the roles agree and only the contents differ; with -show,
// followed by what the block holds in each), then
// "N of M blocks differ". With -layout it prints every block that is not
// zero in both images, differing or not, marked "*" where they differ.
// It exits 1 when the images differ, 2 on errors.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dmsim/dmsim/thinmeta"
)

type file struct{ *os.File }

func (f file) Size() int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func open(path string) (*thinmeta.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return thinmeta.NewImage(file{f}), nil
}

func main() {
	layout := flag.Bool("layout", false, "print every non-zero block, not just the differing ones")
	show := flag.Bool("show", false, "also say what each differing block holds in each image")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: thin-blockdiff [-layout] [-show] A.img B.img")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	a, err := open(flag.Arg(0))
	if err == nil {
		var b *thinmeta.Image
		if b, err = open(flag.Arg(1)); err == nil {
			os.Exit(run(a, b, *layout, *show))
		}
	}
	fmt.Fprintln(os.Stderr, "thin-blockdiff:", err)
	os.Exit(2)
}

func run(a, b *thinmeta.Image, layout, show bool) int {
	diffs, err := thinmeta.DiffImages(a, b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "thin-blockdiff:", err)
		return 2
	}
	if layout {
		la, err := a.Layout()
		if err != nil {
			fmt.Fprintln(os.Stderr, "thin-blockdiff:", err)
			return 2
		}
		lb, _ := b.Layout()
		differs := map[uint64]bool{}
		for _, d := range diffs {
			differs[d.Block] = true
		}
		for i := range max(len(la), len(lb)) {
			ra, rb := role(la, i), role(lb, i)
			if ra == "stale zero" && rb == "stale zero" {
				continue
			}
			mark := " "
			if differs[uint64(i)] {
				mark = "*"
			}
			fmt.Printf("%s%6d: %-40s | %s\n", mark, i, ra, rb)
		}
	} else {
		for _, d := range diffs {
			rb := d.B
			if d.SameAs {
				rb = "="
			}
			fmt.Printf("%6d: %s | %s\n", d.Block, d.A, rb)
			if show {
				da, _ := a.DescribeBlock(d.Block)
				db, _ := b.DescribeBlock(d.Block)
				fmt.Printf("        A: %s\n        B: %s\n", da, db)
			}
		}
	}
	fmt.Printf("%d of %d blocks differ\n", len(diffs), max(a.NrBlocks, b.NrBlocks))
	if len(diffs) > 0 {
		return 1
	}
	return 0
}

func role(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "past the end"
}
