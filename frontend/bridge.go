package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/frontend/wire"
	"github.com/dmsim/dmsim/linuxerr"
)

// BridgeServer answers one connection of the LD_PRELOAD bridge (package
// frontend/preload): the device-mapper ioctls and the /dev/mapper, /proc
// and /sys calls of one process, such as the real /usr/sbin/dmsetup, on
// kernel K. The daemon serves one for every connection that starts with a
// Bridge frame; tests serve one on a machine of their own.
type BridgeServer struct {
	K *dmsim.Kernel
	// Ctx interrupts waits in the kernel (dmsetup wait): EINTR.
	Ctx context.Context
	// Do runs f, a call into the kernel, as a clock actor.
	Do func(f func())
	// After, if set, runs after each ioctl that may have changed the
	// devices (the daemon makes its /dev/mapper links then, as udev would).
	After func()
	// Trace, if set, gets a line for each call.
	Trace io.Writer
	// HostView serves a program of the host (the daemon's case): /proc and
	// /sys are the host's, with device-mapper added (a "device-mapper" line
	// in /proc/devices with dmsim's major and in /proc/misc, and dmsim's
	// mapped devices under /sys); calls on the host's own devices are
	// answered ErrnoHost, which sends them to the host's C library.
	// Without it, /proc and /sys are the emulated machine's.
	HostView bool
}

// dmMiscMinor is /dev/mapper/control's minor on major 10 (misc).
const dmMiscMinor = 236

// Serve answers calls until the process closes the connection.
func (s *BridgeServer) Serve(c net.Conn) error {
	for {
		f, err := wire.ReadFrame(c)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var r wire.Reply
		switch f.Kind {
		case wire.KindBridge:
			continue // the connection's first frame, if the caller left it
		case wire.KindIoctl:
			io, err := wire.DecodeIoctl(f.Payload)
			if err != nil {
				return err
			}
			r = s.ioctl(c, io)
			if s.Ctx != nil && s.Ctx.Err() != nil {
				// interrupted by a fatal signal: the process gets no answer
				return s.Ctx.Err()
			}
		case wire.KindPathOp:
			op, err := wire.DecodePathOp(f.Payload)
			if err != nil {
				return err
			}
			r = s.pathOp(op)
		default:
			return errors.New("bridge: unexpected frame " + string(rune(f.Kind)))
		}
		if err := wire.WriteFrame(c, wire.KindReply, wire.EncodeReply(r)); err != nil {
			return err
		}
	}
}

func errnoReply(err error, data []byte) wire.Reply {
	if err == nil {
		return wire.Reply{Data: data}
	}
	return wire.Reply{Errno: uint32(linuxerr.ToErrno(err)), Data: data}
}

// ioctl runs one ioctl. A wait (DEV_WAIT) ends with EINTR when the
// process goes away meanwhile.
func (s *BridgeServer) ioctl(c net.Conn, io wire.Ioctl) wire.Reply {
	ctx := s.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	cmd := int(io.Command & 0xff)
	var wg sync.WaitGroup
	if cmd == dmsim.DMDevWaitCmd {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil && !errors.Is(err, context.Canceled) {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					cancel()
				}
			}
		}()
		defer func() {
			c.SetReadDeadline(time.Now())
			wg.Wait()
			c.SetReadDeadline(time.Time{})
		}()
	}
	var out []byte
	var err error
	s.Do(func() { out, err = s.K.CtlIoctl(ctx, io.Command, io.Buf) })
	if s.Trace != nil {
		fmt.Fprintf(s.Trace, "bridge: %s in %s\n      out %s err %v\n", dmsim.CtlCommandName(cmd), dmsim.DescribeDMIoctl(io.Buf), dmsim.DescribeDMIoctl(out), err)
	}
	switch cmd {
	case dmsim.DMRemoveAllCmd, dmsim.DMDevCreateCmd, dmsim.DMDevRemoveCmd, dmsim.DMDevRenameCmd,
		dmsim.DMDevSuspendCmd, dmsim.DMTableLoadCmd, dmsim.DMTableClearCmd:
		if s.After != nil {
			s.After()
		}
	}
	return errnoReply(err, out)
}

// isBridged says whether the bridge sends calls on p to dmsim.
func isBridged(p string) bool {
	return isUnder(p, "/dev/mapper") || isUnder(p, "/sys") || isUnder(p, "/proc")
}

func isUnder(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// The d_type values of OpReadDir entries.
const (
	dtChr = 2
	dtDir = 4
	dtBlk = 6
	dtReg = 8
	dtLnk = 10
)

// File type bits of st_mode.
const (
	sIFCHR = 0o020000
	sIFDIR = 0o040000
	sIFBLK = 0o060000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// diskGID is the "disk" group libdm gives the nodes it makes.
const diskGID = 6

// pathOp answers a file system call as the emulated machine's /dev/mapper,
// /proc and /sys would.
func (s *BridgeServer) pathOp(op wire.PathOp) wire.Reply {
	p := path.Clean(op.Path)
	// "/dev/mapper/.." cleans to /dev: a directory, as on Linux.
	if !isBridged(p) && p != "/dev" {
		return wire.Reply{Errno: uint32(linuxerr.ENOENT)}
	}
	var r wire.Reply
	s.Do(func() { r = s.pathOpLocked(op, p) })
	if s.Trace != nil {
		fmt.Fprintf(s.Trace, "bridge: path op %c %s %s: errno %d, %d bytes\n", op.Op, op.Path, op.Path2, r.Errno, len(r.Data))
	}
	return r
}

func (s *BridgeServer) pathOpLocked(op wire.PathOp, p string) wire.Reply {
	k := s.K
	if s.HostView && !isUnder(p, "/dev/mapper") {
		if r, ok := s.hostPathOp(op, p); ok {
			return r
		}
	}
	switch op.Op {
	case wire.OpStat, wire.OpLstat:
		st, err := s.stat(p, op.Op == wire.OpStat)
		if err != nil {
			return errnoReply(err, nil)
		}
		return wire.Reply{Data: wire.EncodeStat(st)}
	case wire.OpChown:
		_, err := s.stat(p, true)
		return errnoReply(err, nil)
	case wire.OpRead:
		if isUnder(p, "/dev") {
			return errnoReply(linuxerr.EACCES, nil)
		}
		data, err := k.SysfsRead(p)
		if err != nil {
			if _, lerr := k.SysfsList(p); lerr == nil {
				err = linuxerr.EISDIR
			}
		}
		return errnoReply(err, []byte(data))
	case wire.OpReadDir:
		return s.readDir(p)
	case wire.OpReadlink:
		if name, ok := s.sysLink(p); ok {
			return wire.Reply{Data: []byte("../../devices/virtual/block/" + name)}
		}
		if isUnder(p, "/dev/mapper") {
			if e, _, err := k.DevStat(p, false); err == nil && e.Kind == dmsim.DevLink {
				return wire.Reply{Data: []byte(e.Target)}
			}
		}
		if _, err := s.stat(p, false); err != nil {
			return errnoReply(err, nil)
		}
		return errnoReply(linuxerr.EINVAL, nil)
	case wire.OpMknod:
		if !isUnder(p, "/dev/mapper") || p == "/dev/mapper" {
			return errnoReply(linuxerr.EACCES, nil)
		}
		if p == "/dev/mapper/control" {
			return errnoReply(linuxerr.EEXIST, nil)
		}
		if op.Mode&0o170000 != sIFBLK {
			return errnoReply(linuxerr.EPERM, nil)
		}
		return errnoReply(k.Mknod(p, dmsim.DevT{Major: op.Major, Minor: op.Minor}), nil)
	case wire.OpUnlink:
		if !isUnder(p, "/dev/mapper") || p == "/dev/mapper" || p == "/dev/mapper/control" {
			return errnoReply(linuxerr.EACCES, nil)
		}
		return errnoReply(k.Unlink(p), nil)
	case wire.OpRename:
		to := path.Clean(op.Path2)
		if !isUnder(p, "/dev/mapper") || !isUnder(to, "/dev/mapper") || p == "/dev/mapper/control" || to == "/dev/mapper/control" {
			return errnoReply(linuxerr.EACCES, nil)
		}
		return errnoReply(k.Rename(p, to), nil)
	}
	return errnoReply(linuxerr.EINVAL, nil)
}

// stat is stat(2) (follow) or lstat(2) of a bridged path.
func (s *BridgeServer) stat(p string, follow bool) (wire.Stat, error) {
	k := s.K
	switch {
	case p == "/dev" || p == "/dev/mapper" || p == "/sys" || p == "/proc":
		return wire.Stat{Mode: sIFDIR | 0o755}, nil
	case p == "/dev/mapper/control":
		return wire.Stat{Mode: sIFCHR | 0o600, Major: 10, Minor: dmMiscMinor}, nil
	case isUnder(p, "/dev/mapper"):
		return devStat(k, p, follow)
	}
	if _, ok := s.sysLink(p); ok {
		// stat follows the link to the device's directory
		return wire.Stat{Mode: sIFDIR | 0o755}, nil
	}
	if data, err := k.SysfsRead(p); err == nil {
		return wire.Stat{Mode: sIFREG | 0o444, Size: uint64(len(data))}, nil
	}
	if _, err := k.SysfsList(p); err == nil {
		return wire.Stat{Mode: sIFDIR | 0o755}, nil
	}
	return wire.Stat{}, linuxerr.ENOENT
}

// devStat is stat(2) or lstat(2) of a devtmpfs path: nodes, regular
// files, directories and symlinks. A symlink that leads out of /dev finds
// nothing (the emulated machine has no other file systems to show).
func devStat(k *dmsim.Kernel, p string, follow bool) (wire.Stat, error) {
	e, resolved, err := k.DevStat(p, follow)
	if err != nil {
		return wire.Stat{}, err
	}
	if !isUnder(resolved, "/dev") {
		return wire.Stat{}, linuxerr.ENOENT
	}
	switch e.Kind {
	case dmsim.DevDir:
		return wire.Stat{Mode: sIFDIR | 0o755}, nil
	case dmsim.DevLink:
		return wire.Stat{Mode: sIFLNK | 0o777, Size: uint64(e.Size)}, nil
	case dmsim.DevReg:
		return wire.Stat{Mode: sIFREG | 0o644, Size: uint64(e.Size)}, nil
	case dmsim.DevChr:
		mode := uint32(0o666)
		if resolved == "/dev/mapper/control" {
			mode = 0o600
		}
		return wire.Stat{Mode: sIFCHR | mode, Major: e.Dev.Major, Minor: e.Dev.Minor}, nil
	}
	return wire.Stat{Mode: sIFBLK | 0o600, Major: e.Dev.Major, Minor: e.Dev.Minor, GID: diskGID}, nil
}

// devTypes are the d_type of each devtmpfs entry kind.
var devTypes = map[dmsim.DevKind]byte{dmsim.DevDir: dtDir, dmsim.DevLink: dtLnk, dmsim.DevReg: dtReg,
	dmsim.DevBlk: dtBlk, dmsim.DevChr: dtChr}

// sysLink is the block device a /sys/dev/block/M:m or /sys/class/block/NAME
// link names.
func (s *BridgeServer) sysLink(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/sys/dev/block/"); ok && !strings.Contains(rest, "/") {
		d, ok, err := dmsim.ParseDevT(rest)
		if !ok || err != nil {
			return "", false
		}
		b, err := s.K.BdevByDevT(d)
		if err != nil {
			return "", false
		}
		return b.Name(), true
	}
	if rest, ok := strings.CutPrefix(p, "/sys/class/block/"); ok && !strings.Contains(rest, "/") {
		if _, err := s.K.SysfsList("/sys/block/" + rest); err == nil {
			return rest, true
		}
	}
	return "", false
}

// readDir lists a bridged directory: NAME NUL TYPE NUL entries, sorted;
// devtmpfs's in getdents order (newest first, control, made when dm_mod
// loaded, last).
func (s *BridgeServer) readDir(p string) wire.Reply {
	type ent = dirEnt
	var ents []ent
	switch {
	case isUnder(p, "/dev/mapper"):
		kinds, err := s.K.DevEntries(p)
		if err != nil {
			return errnoReply(err, nil)
		}
		names, err := s.K.DevReadDir(p)
		if err != nil {
			return errnoReply(err, nil)
		}
		for _, n := range names {
			if !(p == "/dev/mapper" && n == "control") {
				ents = append(ents, ent{n, devTypes[kinds[n].Kind]})
			}
		}
		if p == "/dev/mapper" {
			ents = append(ents, ent{"control", dtChr})
		}
		return dirReply(ents)
	default:
		names, err := s.K.SysfsList(p)
		if err != nil {
			if _, rerr := s.K.SysfsRead(p); rerr == nil {
				err = linuxerr.ENOTDIR
			}
			return errnoReply(err, nil)
		}
		for _, n := range names {
			q := path.Join(p, n)
			typ := byte(dtReg)
			if _, ok := s.sysLink(q); ok || p == "/sys/block" || isUnder(p, "/sys/block") && strings.HasSuffix(p, "holders") || strings.HasSuffix(p, "slaves") {
				typ = dtLnk
			} else if _, err := s.K.SysfsList(q); err == nil {
				typ = dtDir
			}
			ents = append(ents, ent{n, typ})
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	return dirReply(ents)
}

// dirEnt is one directory entry of a readDir reply.
type dirEnt struct {
	name string
	typ  byte // d_type
}

// dirReply encodes directory entries: NAME NUL TYPE NUL each.
func dirReply(ents []dirEnt) wire.Reply {
	var b []byte
	for _, e := range ents {
		b = append(b, e.name...)
		b = append(b, 0, '0'+e.typ/10, '0'+e.typ%10, 0)
	}
	return wire.Reply{Data: b}
}

// hostPathOp answers a /proc or /sys call with HostView: ok is false for
// the paths of dmsim's mapped devices, which pathOpLocked answers.
func (s *BridgeServer) hostPathOp(op wire.PathOp, p string) (wire.Reply, bool) {
	host := wire.Reply{Errno: wire.ErrnoHost}
	dm := s.K.DMMajor()
	switch {
	case p == "/proc/devices" && op.Op == wire.OpRead:
		b, err := os.ReadFile(p)
		if err != nil {
			return errnoReply(err, nil), true
		}
		return wire.Reply{Data: []byte(withBlockMajor(string(b), dm, "device-mapper"))}, true
	case p == "/proc/misc" && op.Op == wire.OpRead:
		b, err := os.ReadFile(p)
		if err != nil {
			return errnoReply(err, nil), true
		}
		line := fmt.Sprintf("%3d device-mapper\n", dmMiscMinor)
		if !strings.Contains(string(b), " device-mapper\n") {
			b = append([]byte(line), b...)
		}
		return wire.Reply{Data: b}, true
	case p == "/sys/dev/block" && op.Op == wire.OpReadDir:
		ents, err := os.ReadDir(p)
		if err != nil {
			return errnoReply(err, nil), true
		}
		var b []byte
		for _, e := range ents {
			if d, ok, _ := dmsim.ParseDevT(e.Name()); ok && d.Major == dm {
				continue
			}
			b = append(b, e.Name()...)
			b = append(b, 0, '1', '0', 0)
		}
		names, _ := s.K.SysfsList(p)
		for _, n := range names {
			if d, ok, _ := dmsim.ParseDevT(n); ok && d.Major == dm {
				b = append(b, n...)
				b = append(b, 0, '1', '0', 0)
			}
		}
		return wire.Reply{Data: b}, true
	case p == "/sys/block" || p == "/sys/class/block":
		if op.Op != wire.OpReadDir {
			return host, true
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return errnoReply(err, nil), true
		}
		var b []byte
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "dm-") {
				b = append(b, e.Name()...)
				b = append(b, 0, '1', '0', 0)
			}
		}
		names, _ := s.K.SysfsList(p)
		for _, n := range names {
			if strings.HasPrefix(n, "dm-") {
				b = append(b, n...)
				b = append(b, 0, '1', '0', 0)
			}
		}
		return wire.Reply{Data: b}, true
	}
	if rest, ok := strings.CutPrefix(p, "/sys/dev/block/"); ok {
		first, _, _ := strings.Cut(rest, "/")
		if d, ok, _ := dmsim.ParseDevT(first); ok && d.Major == dm {
			return wire.Reply{}, false
		}
		return host, true
	}
	for _, dir := range []string{"/sys/block/", "/sys/class/block/"} {
		if rest, ok := strings.CutPrefix(p, dir); ok {
			if strings.HasPrefix(rest, "dm-") {
				return wire.Reply{}, false
			}
			return host, true
		}
	}
	return host, true
}

// withBlockMajor is /proc/devices text with name on block major maj (in
// place of whatever the host has there).
func withBlockMajor(text string, maj uint32, name string) string {
	var b strings.Builder
	block, done := false, false
	add := func() {
		if !done {
			fmt.Fprintf(&b, "%3d %s\n", maj, name)
			done = true
		}
	}
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "Block devices:") {
			block = true
			b.WriteString(l)
			continue
		}
		if block {
			f := strings.Fields(l)
			if len(f) == 2 {
				var m uint32
				if _, err := fmt.Sscan(f[0], &m); err == nil {
					if m == maj {
						continue
					}
					if m > maj {
						add()
					}
				}
			}
		}
		b.WriteString(l)
	}
	if block {
		add()
	}
	return b.String()
}
