// Command dmsim-record runs scenario scripts on the real Linux kernel under qemu and writes their
// transcripts and metadata dumps (goldens). See recorder/README.md.
//
//	dmsim-record [flags] [SCRIPT...]
//
// With no SCRIPT it records every scripts/*.sh. A SCRIPT is a path or a name (thin-create-limits
// means scripts/thin-create-limits.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/dmsim/dmsim/recorder"
)

type diskFlags map[string]string

func (d diskFlags) String() string { return fmt.Sprint(map[string]string(d)) }
func (d diskFlags) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH")
	}
	d[name] = path
	return nil
}

func main() {
	fs := flag.NewFlagSet("dmsim-record", flag.ExitOnError)
	out := fs.String("out", "goldens", "write NAME.txt and NAME.DISK.xml into this `dir`")
	scriptsDir := fs.String("scripts", "scripts", "where script names are looked up, and all scripts are taken from")
	keep := fs.String("keep", "", "keep the disk images in this `dir` (as NAME.DISK.img)")
	disks := diskFlags{}
	fs.Var(disks, "disk", "attach the existing image `NAME=PATH` for the script's disk NAME (used in place; one script only)")
	timeout := fs.Duration("timeout", 5*time.Minute, "time limit for one boot")
	accel := fs.String("accel", "auto", "qemu accelerator: auto (probe KVM once, cache the answer), kvm or tcg")
	setup := recorder.AddSetupFlags(fs)
	jobs := fs.Int("j", 1, "record this many scripts at once")
	logWrites := fs.Bool("log-writes", false, "log every disk's bios with qemu's blklogwrites and keep the logs as `dir`/logs/NAME.DISK.log.zst (dir: --out)")
	icount := fs.String("icount", "", "qemu's -icount `option` (e.g. shift=0): the guest's clocks follow its instructions, not the host's wall clock")
	diskCache := fs.String("disk-cache", "writeback", "qemu's cache `mode` for the disks; unsafe answers the guest's flushes without syncing the host's files (they are still logged)")
	kernel := fs.String("kernel", "", "kernel version (default: the one linux-image-amd64 depends on)")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: dmsim-record [flags] [SCRIPT...]\n\nRecords scenario scripts on the real kernel under qemu.\n\n")
		fs.PrintDefaults()
	}
	args := recorder.ParseArgs(fs, os.Args[1:])

	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "dmsim-record: "+f+"\n", a...) }
	die := func(err error) {
		logf("%v", err)
		os.Exit(1)
	}

	scripts, err := recorder.FindScripts(*scriptsDir, args)
	if err != nil {
		die(err)
	}
	if len(scripts) == 0 {
		die(fmt.Errorf("no scripts to record"))
	}
	if len(disks) > 0 && len(scripts) != 1 {
		die(fmt.Errorf("--disk needs exactly one script"))
	}

	img, err := setup.PrepareImage(*kernel, logf)
	if err != nil {
		die(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *accel == "auto" {
		*accel = recorder.DetectAccel(ctx, img, *setup.Cache, 30*time.Second, logf)
	}

	opts := recorder.Options{
		OutDir: *out, KeepDir: *keep, Disks: disks, Timeout: *timeout, Accel: *accel, Image: img,
		LogWrites: *logWrites, Icount: *icount, DiskCache: *diskCache,
	}
	start := time.Now()
	type job struct {
		i    int
		path string
	}
	jobc := make(chan job)
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for w := 0; w < max(1, *jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobc {
				r, err := recorder.Record(ctx, j.path, opts)
				if err == nil {
					err = recorder.WriteGoldens(*out, r)
				}
				mu.Lock()
				if err != nil {
					failed++
					logf("FAIL %v", err)
				} else {
					logf("ok   %-36s %6.1fs  %d boot(s)", r.Name, r.Elapsed.Seconds(), r.Boots)
				}
				mu.Unlock()
			}
		}()
	}
	for i, p := range scripts {
		if ctx.Err() != nil {
			break
		}
		jobc <- job{i, p}
	}
	close(jobc)
	wg.Wait()
	logf("%d script(s), %d failed, %.1fs in all (%s, -j %d)", len(scripts), failed, time.Since(start).Seconds(), *accel, *jobs)
	if failed > 0 || ctx.Err() != nil {
		os.Exit(1)
	}
}
