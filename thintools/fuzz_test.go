package thintools

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/thinmeta"
)

// memDev is an in-memory Device for tests and fuzzing.
type memDev struct {
	b []byte
	// writes lists the offsets written, in order; syncs counts Sync calls.
	writes []int64
	syncs  int
}

func (m *memDev) Sync() error { m.syncs++; return nil }

func (m *memDev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memDev) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("write beyond end of device")
	}
	m.writes = append(m.writes, off)
	return copy(m.b[off:], p), nil
}

func (m *memDev) Size() int64 { return int64(len(m.b)) }

// memFS serves named in-memory devices and files.
type memFS struct{ files map[string]*memDev }

func (f memFS) OpenDevice(p string, write, excl bool) (Device, error) {
	d, ok := f.files[p]
	if !ok {
		return nil, os.ErrNotExist
	}
	return d, nil
}

func (f memFS) Open(p string) (io.ReadCloser, error) {
	d, ok := f.files[p]
	if !ok {
		return nil, os.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(d.b)), nil
}

func (f memFS) Create(p string) (io.WriteCloser, error) {
	return nopWriteCloser{io.Discard}, nil
}

func loadImage(t testing.TB, name string) []byte {
	f, err := os.Open(filepath.Join("testdata/images", name+".img.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readerCommands are the invocations the image fuzzer runs on a corrupted
// image: every reading entry point of every tool.
var readerCommands = [][]string{
	{"thin_check", "img"},
	{"thin_check", "-m", "img"},
	{"thin_dump", "img"},
	{"thin_dump", "-m", "img"},
	{"thin_dump", "-f", "human_readable", "--dev-id", "1", "img"},
	{"thin_ls", "-o", "DEV,MAPPED,EXCLUSIVE,SHARED", "img"},
	{"thin_ls", "-m", "img"},
	{"thin_delta", "--thin1", "1", "--thin2", "2", "img"},
	{"thin_rmap", "--region", "0..1000000", "img"},
}

// runOnImage runs every reader on img and checks the outcome is clean: an
// exit status of 0 or 1, and on failure a message on stderr.
func runOnImage(t *testing.T, img []byte) {
	for _, args := range readerCommands {
		var out, errb bytes.Buffer
		dev := &memDev{b: append([]byte(nil), img...)}
		rc := Commands[args[0]](context.Background(), args, &Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			FS: memFS{files: map[string]*memDev{"img": dev}},
		})
		if rc != 0 && rc != 1 {
			t.Fatalf("%v: exit status %d", args, rc)
		}
		if rc == 1 && errb.Len() == 0 {
			t.Fatalf("%v: failed without a message", args)
		}
	}
}

// FuzzImage corrupts real images (block by block, so the damage lands in
// superblocks, nodes, bitmaps and index blocks alike) and runs every
// reader: a clear error every time, never a panic or a hang.
func FuzzImage(f *testing.F) {
	base := loadImage(f, "basic")[:40*blockSize]
	snap := loadImage(f, "basic_snap")[:40*blockSize]
	f.Add(uint8(0), uint16(0), uint16(3000), []byte{0xff})
	f.Add(uint8(0), uint16(7), uint16(16), []byte{0, 0, 0, 0})     // nr_entries of the top level
	f.Add(uint8(1), uint16(0), uint16(56), []byte{7, 0, 0, 0})     // held root -> a node
	f.Add(uint8(0), uint16(11), uint16(2048), []byte{11, 0, 0, 0}) // a child pointing at its parent
	f.Fuzz(func(t *testing.T, which uint8, block, off uint16, patch []byte) {
		img := base
		if which%2 == 1 {
			img = snap
		}
		img = append([]byte(nil), img...)
		b := int(block) % (len(img) / blockSize)
		o := b*blockSize + int(off)%blockSize
		if len(patch) > 64 {
			patch = patch[:64]
		}
		copy(img[o:min(len(img), (b+1)*blockSize)], patch)
		// keep the checksum valid half the time so the structural checks
		// are reached, not only the checksum ones
		if which&2 == 0 {
			fixChecksum(img[b*blockSize : (b+1)*blockSize])
		}
		runOnImage(t, img)
	})
}

// fixChecksum recomputes a block's checksum for whatever type it claims.
func fixChecksum(p []byte) {
	sum := func(x uint32) uint32 { return block.Checksum(p[4:], x) }
	for _, x := range []uint32{thinmeta.SuperblockCsumXor, btree.CsumXor, spacemap.BitmapCsumXor, spacemap.IndexCsumXor} {
		if le.Uint32(p) == sum(x) {
			return
		}
	}
	// guess the type from the layout: superblock magic, node flags
	switch f := le.Uint32(p[4:]); {
	case le.Uint64(p[32:]) == thinmeta.SuperblockMagic:
		le.PutUint32(p, sum(thinmeta.SuperblockCsumXor))
	case f == btree.LeafNode || f == btree.InternalNode:
		le.PutUint32(p, sum(btree.CsumXor))
	default:
		le.PutUint32(p, sum(spacemap.BitmapCsumXor))
	}
}

// FuzzRestoreXML feeds arbitrary XML to thin_restore's parser and writer:
// an error or an image thin_check accepts, never a panic.
func FuzzRestoreXML(f *testing.F) {
	for _, name := range []string{"basic", "snaps", "empty"} {
		b, err := os.ReadFile(filepath.Join("testdata/xml", name+".xml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<superblock uuid="" time="1" transaction="1" data_block_size="128" nr_data_blocks="100"><foo/></superblock>`))
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><superblock uuid='x' time="1" transaction="1" data_block_size="128" nr_data_blocks="18446744073709551615"><device dev_id="1" mapped_blocks="0" transaction="0" creation_time="0" snap_time="0"><range_mapping origin_begin="0" data_begin="0" length="18446744073709551615" time="0"/></device></superblock>`))
	f.Fuzz(func(t *testing.T, xml []byte) {
		dev := &memDev{b: make([]byte, 64*blockSize)}
		fs := memFS{files: map[string]*memDev{"in.xml": {b: xml}, "out": dev}}
		var out, errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, FS: fs}
		rc := ThinRestore(context.Background(), []string{"thin_restore", "-i", "in.xml", "-o", "out"}, env)
		if rc == 1 {
			if errb.Len() == 0 {
				t.Fatal("failed without a message")
			}
			return
		}
		if rc != 0 {
			t.Fatalf("exit status %d", rc)
		}
		errb.Reset()
		if rc := ThinCheck(context.Background(), []string{"thin_check", "-q", "out"}, env); rc != 0 {
			t.Fatalf("restored image fails thin_check")
		}
	})
}
