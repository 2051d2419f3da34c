package preload_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/dmsim/dmsim/dmsetup"
	"github.com/dmsim/dmsim/frontend"
	"github.com/dmsim/dmsim/frontend/preload"
	"github.com/dmsim/dmsim/userland"
)

// realDmsetup runs the real dmsetup binary over the bridge in place of
// dmsim's, on the machine of the process that calls it.
type realDmsetup struct {
	bin, so, dir string
	n            atomic.Int64
}

// realDmsetupPath is the real dmsetup 1.02.185 (Debian 12's package).
const realDmsetupPath = "/usr/sbin/dmsetup"

// run is the dmsetup command: the real binary runs with the library
// preloaded, and this process answers its calls on the kernel, holding the
// clock (no virtual time passes while it runs, as for dmsim's dmsetup,
// except in the kernel's own waits).
func (r *realDmsetup) run(p *userland.Proc) (int, bool) {
	if p.Kernel == nil {
		return 0, false
	}
	fsys, ok := p.FS.(*userland.SimFS)
	if !ok {
		return 0, false
	}
	sock := filepath.Join(r.dir, fmt.Sprintf("%d.sock", r.n.Add(1)))
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintf(p.Stderr, "bridge: %v\n", err)
		return 1, true
	}
	defer ln.Close()

	clock := p.Kernel.Clock
	if !p.Token().Held() {
		clock.Enter()
		defer clock.Exit()
	}
	var in []byte
	if p.Stdin != nil && dmsetup.ReadsStdin(p.Args[1:]) {
		p.Token().Blocking(func() { in, _ = io.ReadAll(p.Stdin) })
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(r.bin)
	cmd.Args = append([]string{"dmsetup"}, p.Args[1:]...)
	cmd.Dir = fsys.HostPath(p.Dir)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C",
		"LD_PRELOAD=" + r.so, preload.SocketEnv + "=" + sock, preload.NodesEnv + "=1"}
	for _, v := range []string{"DM_DISABLE_UDEV", "DM_DEV_DIR", "DM_UDEV_DISABLE_LIBRARY_FALLBACK"} {
		if val := p.Getenv(v); val != "" {
			cmd.Env = append(cmd.Env, v+"="+val)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, &stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(p.Stderr, "bridge: %v\n", err)
		return 1, true
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		ln.Close()
		close(exited)
	}()
	ctx := p.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	// A signal (busybox timeout) ends the process where it is.
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
		case <-exited:
		}
	}()
	srv := &frontend.BridgeServer{K: p.Kernel, Ctx: ctx, Do: p.Kcall}
	if os.Getenv("DMSIM_BRIDGE_TRACE") != "" {
		srv.Trace = os.Stderr
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		srv.Serve(c)
		c.Close()
	}
	<-exited
	err = waitErr
	if ctx.Err() != nil {
		return p.KilledStatus(), true
	}
	p.Stdout.Write(stdout.Bytes())
	p.Stderr.Write(stderr.Bytes())
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return userland.Signaled(int(ws.Signal())), true
		}
		return ee.ExitCode(), true
	}
	if err != nil {
		fmt.Fprintf(p.Stderr, "bridge: %v\n", err)
		return 1, true
	}
	return 0, true
}

// useReal makes dmsetup the real one until the returned function runs.
func useReal(r *realDmsetup) func() {
	dmsetup.Replace(r.run)
	return func() { dmsetup.Replace(nil) }
}

// blocks splits a transcript into its entries: a comment line, or a
// command with its output.
func blocks(tr string) []string {
	var out []string
	for _, l := range strings.SplitAfter(tr, "\n") {
		if l == "" || strings.HasPrefix(l, "# env:") {
			continue
		}
		if strings.HasPrefix(l, "$ ") || strings.HasPrefix(l, "#") || len(out) == 0 {
			out = append(out, l)
			continue
		}
		out[len(out)-1] += l
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
