package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/frontend/shim"
	"github.com/dmsim/dmsim/script"
	"github.com/dmsim/dmsim/sim"
)

// Config is a daemon's configuration.
type Config struct {
	// StateDir holds the disk images (NAME.img), the socket (dmsim.sock),
	// the lock and pid file (dmsim.pid), the device files' mount point
	// (devices/) and the kernel log (kernel.log).
	StateDir string
	// Disks are the emulated virtio disks, /dev/vda, /dev/vdb, ... A disk
	// without an Image is StateDir/NAME.img, created with Size if missing
	// and reopened as it is otherwise (as after `# reboot`).
	Disks []script.Disk
	// Socket is where shims find the daemon (shim.SocketPath when empty): a
	// symlink to the socket in StateDir.
	Socket string
	// MapperDir is where /dev/mapper/NAME links go ("/dev/mapper" when
	// empty).
	MapperDir string
	// NoBlockDevices serves commands only: mapped devices get no FUSE file,
	// loop device or /dev/mapper link.
	NoBlockDevices bool
	// Log gets the daemon's messages and the kernel's log lines (stderr when
	// nil).
	Log io.Writer
}

// Daemon is a running `dmsim serve`.
type Daemon struct {
	cfg    Config
	k      *dmsim.Kernel
	lock   *os.File
	ln     *net.UnixListener
	ctx    context.Context
	cancel context.CancelFunc
	conns  sync.WaitGroup // requests being served
	bg     sync.WaitGroup // the clock and the deferred-remove poller
	devs   *devices       // nil with NoBlockDevices
	hosts  *hostDevices
	logMu  sync.Mutex
	closed sync.Once
}

const (
	pidFile    = "dmsim.pid"
	socketFile = "dmsim.sock"
	logFile    = "kernel.log"
)

// ErrLocked is returned by Start when another daemon holds the state
// directory.
var ErrLocked = errors.New("another dmsim daemon is using the state directory")

// Start boots the machine and starts serving. Close (or a cancelled ctx)
// stops it.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("dmsim serve: no state directory")
	}
	if cfg.Socket == "" {
		cfg.Socket = shim.SocketPath
	}
	if cfg.MapperDir == "" {
		cfg.MapperDir = "/dev/mapper"
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg}
	if err := d.takeLock(); err != nil {
		return nil, err
	}
	fail := func(err error) (*Daemon, error) {
		d.shutdown()
		return nil, err
	}
	specs, err := d.diskSpecs()
	if err != nil {
		return fail(err)
	}
	d.hosts = newHostDevices(d)
	k, err := dmsim.NewKernel(dmsim.Config{DMMajor: dmsim.DMMajor, BootModules: script.BootModules, Disks: specs, HostDevices: d.hosts})
	if err != nil {
		return fail(fmt.Errorf("boot: %w", err))
	}
	d.k = k
	d.ctx, d.cancel = context.WithCancel(ctx)
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		k.Clock.FollowWallClock(d.ctx, sim.HostWall{})
	}()
	if !cfg.NoBlockDevices {
		if d.devs, err = newDevices(d); err != nil {
			return fail(err)
		}
	}
	if err := d.listen(); err != nil {
		return fail(err)
	}
	d.bg.Add(1)
	go d.housekeeping()
	go d.serve()
	d.logf("dmsim: serving on %s (state in %s)", cfg.Socket, cfg.StateDir)
	return d, nil
}

// Kernel is the emulated kernel.
func (d *Daemon) Kernel() *dmsim.Kernel { return d.k }

// Done is closed once the daemon has stopped.
func (d *Daemon) Done() <-chan struct{} { return d.ctx.Done() }

// takeLock locks StateDir/dmsim.pid and writes the pid into it.
func (d *Daemon) takeLock() error {
	p := filepath.Join(d.cfg.StateDir, pidFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(f)
		f.Close()
		if pid := strings.TrimSpace(string(b)); pid != "" {
			return fmt.Errorf("%w: %s (pid %s)", ErrLocked, d.cfg.StateDir, pid)
		}
		return fmt.Errorf("%w: %s", ErrLocked, d.cfg.StateDir)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	d.lock = f
	return nil
}

// diskSpecs places the disks in StateDir.
func (d *Daemon) diskSpecs() ([]dmsim.DiskSpec, error) {
	var specs []dmsim.DiskSpec
	for _, disk := range d.cfg.Disks {
		p, size := disk.Image, disk.Size
		if p == "" {
			p = filepath.Join(d.cfg.StateDir, disk.Name+".img")
		}
		if st, err := os.Stat(p); err == nil && (disk.Image == "" || size == 0) {
			size = st.Size()
		} else if err != nil && disk.Image != "" {
			return nil, fmt.Errorf("disk %s: %w", disk.Name, err)
		}
		if size <= 0 {
			return nil, fmt.Errorf("disk %s: no size", disk.Name)
		}
		specs = append(specs, dmsim.DiskSpec{Path: p, Size: size, NoDiscard: disk.NoDiscard})
	}
	return specs, nil
}

// listen makes StateDir/dmsim.sock and the link at Socket.
func (d *Daemon) listen() error {
	sock := filepath.Join(d.cfg.StateDir, socketFile)
	if d.cfg.Socket != sock {
		if err := os.MkdirAll(filepath.Dir(d.cfg.Socket), 0o755); err != nil {
			return err
		}
		// Before our own socket exists: a link to it from a daemon that
		// died must not answer as another daemon.
		if c, err := net.DialTimeout("unix", d.cfg.Socket, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("another dmsim daemon answers on %s", d.cfg.Socket)
		}
	}
	os.Remove(sock) // ours: we hold the lock
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return err
	}
	ln.SetUnlinkOnClose(true)
	d.ln = ln
	if d.cfg.Socket == sock {
		return nil
	}
	os.Remove(d.cfg.Socket)
	return os.Symlink(sock, d.cfg.Socket)
}

// serve accepts connections until the listener closes.
func (d *Daemon) serve() {
	for {
		c, err := d.ln.AcceptUnix()
		if err != nil {
			return
		}
		d.conns.Add(1)
		go func() {
			defer d.conns.Done()
			d.handle(c)
		}()
	}
}

// housekeeping runs deferred removals once the host has closed a device.
func (d *Daemon) housekeeping() {
	defer d.bg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if d.devs == nil || !d.devs.anyDeferred() {
			continue
		}
		d.k.Clock.Enter()
		d.k.RunDeferredRemoves()
		d.k.Clock.Exit()
		d.devs.reconcile()
	}
}

// Close stops the daemon cleanly: no new requests, the running ones finish,
// the loop devices it attached are detached and its links removed, and the
// disk images are synced.
func (d *Daemon) Close() error {
	d.shutdown()
	return nil
}

func (d *Daemon) shutdown() {
	d.closed.Do(func() {
		if d.ln != nil {
			d.ln.Close()
			if d.cfg.Socket != filepath.Join(d.cfg.StateDir, socketFile) {
				if t, err := os.Readlink(d.cfg.Socket); err == nil && t == filepath.Join(d.cfg.StateDir, socketFile) {
					os.Remove(d.cfg.Socket)
				}
			}
		}
		d.conns.Wait()
		if d.devs != nil {
			d.devs.close()
		}
		if d.cancel != nil {
			d.cancel()
		}
		d.bg.Wait()
		if d.k != nil {
			d.k.Clock.Enter()
			d.k.Sync()
			d.k.Clock.Exit()
			d.k.Halt()
		}
		if d.hosts != nil {
			d.hosts.closeAll()
		}
		if d.lock != nil {
			d.lock.Close()
		}
	})
}

// logf writes one line to the daemon's log.
func (d *Daemon) logf(format string, a ...any) {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	fmt.Fprintf(d.cfg.Log, format+"\n", a...)
}
