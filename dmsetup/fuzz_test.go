package dmsetup_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/userland"
)

var (
	fuzzOnce    sync.Once
	fuzzMachine *script.Machine
)

// FuzzArgs runs dmsetup with arbitrary command lines (words separated by
// NUL bytes) on one machine: it must never panic, and it exits 0 or 1
// (help and --version: 0).
func FuzzArgs(f *testing.F) {
	for _, c := range cliCases {
		f.Add(strings.Join(c, "\x00"))
	}
	for _, s := range []string{
		"create\x00p\x00--table\x000 8 linear /dev/vda 0",
		"create\x00q\x00--notable",
		"info\x00-c\x00-o\x00name,devno,blkdevname\x00--noheadings",
		"status\x00/dev/mapper/p",
		"message\x00p\x000\x00hello",
		"rename\x00p\x00r",
		"remove\x00--retry\x00r",
		"ls\x00--tree",
		"ls\x00--tree\x00-o\x00compact,inverted,blkdevname,uuid,open,active,rw,notrunc",
		"ls\x00--tree\x00-o\x00,,utf",
		"create\x00s p\x00--notable",
		"mangle",
		"--manglename\x00none\x00mangle\x00s\\x20p",
		"deps\x00-o\x00devname",
		"wait\x00q\x001",
		"mknodes",
		"table\x00--target\x00linear",
		"load\x00q\x00--table\x000 8 error",
		"resume\x00q",
		"remove_all\x00-f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, argline string) {
		fuzzOnce.Do(func() {
			dir, err := os.MkdirTemp("", "dmsetup-fuzz-")
			if err != nil {
				t.Fatal(err)
			}
			img := dir + "/a.img"
			fh, _ := os.Create(img)
			fh.Truncate(1 << 20)
			fh.Close()
			m, err := script.Boot([]dmsim.DiskSpec{{Path: img, Size: 1 << 20}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			fuzzMachine = m
		})
		m := fuzzMachine
		args := append([]string{"dmsetup"}, strings.Split(argline, "\x00")...)
		if argline == "" {
			args = args[:1]
		}
		for _, a := range args {
			if a == "wait" || a == "--retry" || a == "--interval" || a == "--count" {
				return // may wait in virtual time for events nobody raises
			}
		}
		var out, errb bytes.Buffer
		p := &userland.Proc{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Dir: "/tmp", FS: m.FS, Kernel: m.Kernel}
		st := userland.Run(p, args)
		if st != 0 && st != 1 {
			t.Errorf("%q: exit %d\n%s", args, st, errb.String())
		}
		m.Kernel.Log.Clear()
	})
}
