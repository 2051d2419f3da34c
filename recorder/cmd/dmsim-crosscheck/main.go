// Command dmsim-crosscheck boots the real kernel on disk images written by dmsim and checks that
// it sees the same pool dmsim does. See recorder/README.md.
//
//	dmsim-crosscheck [flags] [SCRIPT...]
//
// With no SCRIPT it runs every scripts/crosscheck/*.sh. Each script is split at its first
// `# reboot` (recorder.SplitHalves): `dmsim run --keep` runs the build half and keeps the images;
// the reopen half then runs on the real kernel (the recorder, with --disk on a copy of the images)
// and in dmsim (`dmsim run --disk` on another copy). The two transcripts must be identical but
// for `# env:` lines, and so must the host's thin_dump of every meta* image afterwards. It exits
// 1 on any difference, and keeps the work directory (scripts, images, transcripts) then.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dmsim/dmsim/recorder"
	"github.com/dmsim/dmsim/scenario"
)

type checker struct {
	dmsim string
	opts  recorder.Options
	work  string
}

// outcome is one scenario's result.
type outcome struct {
	name    string
	ok      bool
	report  string // what to print
	elapsed time.Duration
}

func main() {
	fs := flag.NewFlagSet("dmsim-crosscheck", flag.ExitOnError)
	dir := fs.String("scripts", "scripts/crosscheck", "where script names are looked up, and all scripts are taken from")
	dmsimBin := fs.String("dmsim", "", "the dmsim `binary` (default: go build ./cmd/dmsim into the work directory)")
	keep := fs.String("keep", "", "keep the work `dir` (split scripts, images, transcripts) even when all agree")
	jobs := fs.Int("j", 2, "check this many scripts at once (each qemu is one host thread)")
	timeout := fs.Duration("timeout", 5*time.Minute, "time limit for one kernel boot")
	accel := fs.String("accel", "auto", "qemu accelerator: auto, kvm or tcg (see dmsim-record)")
	setup := recorder.AddSetupFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: dmsim-crosscheck [flags] [SCRIPT...]\n\nBoots the real kernel on pools built by dmsim and compares what it reports with dmsim.\n\n")
		fs.PrintDefaults()
	}
	args := recorder.ParseArgs(fs, os.Args[1:])
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, "dmsim-crosscheck: "+f+"\n", a...) }
	die := func(err error) {
		logf("%v", err)
		os.Exit(2)
	}

	scripts, err := recorder.FindScripts(*dir, args)
	if err != nil {
		die(err)
	}
	if len(scripts) == 0 {
		die(fmt.Errorf("no scripts in %s", *dir))
	}

	start := time.Now()
	work := *keep
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "dmsim-crosscheck-"); err != nil {
			die(err)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		die(err)
	}
	work, _ = filepath.Abs(work)

	bin := *dmsimBin
	if bin == "" {
		bin = filepath.Join(work, "dmsim")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/dmsim")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			die(fmt.Errorf("go build ./cmd/dmsim: %v", err))
		}
	} else if bin, _ = filepath.Abs(bin); bin == "" {
		die(fmt.Errorf("bad --dmsim"))
	}

	img, err := setup.PrepareImage("", logf)
	if err != nil {
		die(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *accel == "auto" {
		*accel = recorder.DetectAccel(ctx, img, *setup.Cache, 30*time.Second, logf)
	}
	c := &checker{
		dmsim: bin,
		work:  work,
		opts:  recorder.Options{Timeout: *timeout, Accel: *accel, Image: img},
	}

	results := make([]outcome, len(scripts))
	jobc := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < max(1, *jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobc {
				t0 := time.Now()
				o := c.check(ctx, scripts[i])
				o.elapsed = time.Since(t0)
				mu.Lock()
				results[i] = o
				status := "ok  "
				if !o.ok {
					status = "FAIL"
				}
				logf("%s %-24s %6.1fs", status, o.name, o.elapsed.Seconds())
				mu.Unlock()
			}
		}()
	}
	for i := range scripts {
		if ctx.Err() != nil {
			break
		}
		jobc <- i
	}
	close(jobc)
	wg.Wait()

	failed := 0
	for _, o := range results {
		fmt.Print(o.report)
		if !o.ok {
			failed++
		}
	}
	fmt.Printf("crosscheck: %d scenario(s), %d differ, %.1fs (%s, -j %d)\n", len(scripts), failed,
		time.Since(start).Seconds(), *accel, *jobs)
	if failed > 0 || ctx.Err() != nil {
		fmt.Printf("crosscheck: work directory kept: %s\n", work)
		os.Exit(1)
	}
	if *keep == "" {
		os.RemoveAll(work)
	}
}

// check runs one cross-check scenario.
func (c *checker) check(ctx context.Context, path string) (o outcome) {
	name := recorder.ScriptName(path)
	o.name = name
	var rep strings.Builder
	defer func() { o.report = rep.String() }()
	fail := func(f string, a ...any) outcome {
		fmt.Fprintf(&rep, "FAIL %s: %s\n", name, fmt.Sprintf(f, a...))
		o.ok = false
		return o
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return fail("%v", err)
	}
	build, reopen, err := recorder.SplitHalves(name, src)
	if err != nil {
		return fail("%v", err)
	}
	s, err := scenario.Parse(name, src)
	if err != nil {
		return fail("%v", err)
	}
	dir := filepath.Join(c.work, name)
	os.RemoveAll(dir)
	// dir/build/NAME.sh, dir/reopen/NAME.sh: the halves, under the scenario's own name.
	write := func(sub, file string, data []byte) (string, error) {
		p := filepath.Join(dir, sub, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		return p, os.WriteFile(p, data, 0o644)
	}
	buildPath, err := write("build", name+".sh", build)
	if err != nil {
		return fail("%v", err)
	}
	reopenPath, err := write("reopen", name+".sh", reopen)
	if err != nil {
		return fail("%v", err)
	}

	// 1. The build half in dmsim; its images are kept as dir/images/DISK.img.
	images := filepath.Join(dir, "images")
	out, err := c.run(ctx, filepath.Join(dir, "build.txt"), "run", "--keep", images, buildPath)
	if err != nil {
		return fail("dmsim run of the build half: %v\n%s", err, out)
	}

	// 2. Two copies of the images: one for the kernel, one for dmsim.
	kdisks, ddisks := map[string]string{}, map[string]string{}
	for _, d := range s.Disks {
		src := filepath.Join(images, d.Name+".img")
		for sub, m := range map[string]map[string]string{"kernel": kdisks, "dmsim": ddisks} {
			dst := filepath.Join(dir, sub, d.Name+".img")
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
				return fail("cp %s: %v: %s", src, err, out)
			}
			m[d.Name] = dst
		}
	}

	// 3. The reopen half on the kernel.
	opts := c.opts
	opts.Disks = kdisks
	opts.WorkDir = dir
	res, err := recorder.Record(ctx, reopenPath, opts)
	if err != nil {
		return fail("the kernel's run of the reopen half: %v", err)
	}
	kernelTr := res.Transcript
	os.WriteFile(filepath.Join(dir, "kernel.txt"), []byte(kernelTr), 0o644)

	// 4. The same on dmsim.
	args := []string{"run"}
	for _, d := range s.Disks {
		args = append(args, "--disk", d.Name+"="+ddisks[d.Name])
	}
	dmsimTr, err := c.run(ctx, filepath.Join(dir, "dmsim.txt"), append(args, reopenPath)...)
	if err != nil {
		return fail("dmsim run of the reopen half: %v\n%s", err, dmsimTr)
	}

	// 5. Compare the transcripts, the status lines and the final metadata.
	o.ok = true
	kst, dst := recorder.StatusLines(kernelTr), recorder.StatusLines(dmsimTr)
	same := 0
	for i := range min(len(kst), len(dst)) {
		if kst[i] == dst[i] {
			same++
		}
	}
	kc, dc := recorder.CompareLines(kernelTr), recorder.CompareLines(dmsimTr)
	if kc != dc {
		o.ok = false
		fmt.Fprintf(&rep, "FAIL %s: the transcripts of the reopen half differ (%d of %d kernel status lines identical in dmsim):\n%s",
			name, same, len(kst), diff(dir, "kernel.txt", kc, "dmsim.txt", dc))
	}
	var dumps []string
	for _, d := range s.Disks {
		if !strings.HasPrefix(d.Name, "meta") {
			continue
		}
		kx := res.Dumps[d.Name]
		dx := recorder.ThinDumpFile(ctx, ddisks[d.Name])
		os.WriteFile(filepath.Join(dir, "kernel."+d.Name+".xml"), []byte(kx), 0o644)
		os.WriteFile(filepath.Join(dir, "dmsim."+d.Name+".xml"), []byte(dx), 0o644)
		if kx != dx {
			o.ok = false
			fmt.Fprintf(&rep, "FAIL %s: thin_dump of %s after the reopen half differs:\n%s", name, d.Name,
				diff(dir, "kernel."+d.Name+".xml", kx, "dmsim."+d.Name+".xml", dx))
		}
		dumps = append(dumps, d.Name)
	}
	if o.ok {
		n := 0
		if r, err := scenario.Parse(name, reopen); err == nil {
			for _, it := range r.Items {
				if it.Kind == scenario.Command {
					n++
				}
			}
		}
		fmt.Fprintf(&rep, "ok   %s: %d commands on the kernel as in dmsim, %d status lines identical, thin_dump of %s identical\n",
			name, n, len(kst), strings.Join(dumps, ", "))
	}
	return o
}

// run runs the dmsim binary and saves its standard output to file.
func (c *checker) run(ctx context.Context, file string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.dmsim, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	os.WriteFile(file, out.Bytes(), 0o644)
	if err != nil {
		return out.String() + errb.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// diff is `diff -u` of two texts (written next to the work files).
func diff(dir, na, a, nb, b string) string {
	pa, pb := filepath.Join(dir, "cmp-"+na), filepath.Join(dir, "cmp-"+nb)
	os.WriteFile(pa, []byte(a), 0o644)
	os.WriteFile(pb, []byte(b), 0o644)
	out, _ := exec.Command("diff", "-u", pa, pb).CombinedOutput()
	const most = 200
	lines := strings.SplitAfter(string(out), "\n")
	if len(lines) > most {
		lines = append(lines[:most], fmt.Sprintf("... (%d more lines)\n", len(lines)-most))
	}
	return strings.Join(lines, "")
}
