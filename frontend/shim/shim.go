// Package shim is the client half of dmsim's front end: the dmsetup,
// thin_*, blockdev, blkdiscard and udevadm programs a user puts on PATH
// (`dmsim shims DIR`). Each forwards its argv, working directory and
// standard input to the daemon over the fixed socket SocketPath, and writes
// back the command's standard output, standard error and exit status.
//
// A shim reads no environment variable: containerd runs dmsetup with only
// LANG=C set.
package shim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/dmsim/dmsim/frontend/wire"
)

// SocketPath is where every shim finds the daemon.
const SocketPath = "/run/dmsim/dmsim.sock"

// Commands are the names the multi-call shim answers to.
var Commands = []string{
	"dmsetup", "blkdiscard", "blockdev",
	"thin_check", "thin_dump", "thin_restore", "thin_ls", "thin_delta", "thin_rmap",
	"udevadm",
}

// Run forwards one command to the daemon listening on socket and returns
// its exit status. argv[0] may be a path; its base name is the command.
func Run(socket string, argv []string, stdin io.Reader, stdinTTY bool, stdout, stderr io.Writer) int {
	dir, err := os.Getwd()
	if err != nil {
		dir = "/"
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintf(stderr, "dmsim: no dmsim daemon answers on %s (start one with `dmsim serve` or `dmsim exec`)\n", socket)
		return 1
	}
	defer conn.Close()
	req := wire.Request{Argv: append([]string{filepath.Base(argv[0])}, argv[1:]...), Dir: dir, StdinTTY: stdinTTY}
	if err := wire.WriteFrame(conn, wire.KindRequest, wire.EncodeRequest(req)); err != nil {
		fmt.Fprintf(stderr, "dmsim: sending to the daemon on %s: %v\n", socket, err)
		return 1
	}
	sending := false
	for {
		f, err := wire.ReadFrame(conn)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("the daemon closed the connection")
			}
			fmt.Fprintf(stderr, "dmsim: %s: %v\n", socket, err)
			return 1
		}
		switch f.Kind {
		case wire.KindStdout:
			stdout.Write(f.Payload)
		case wire.KindStderr:
			stderr.Write(f.Payload)
		case wire.KindStdinWanted:
			if !sending {
				sending = true
				go sendStdin(conn, stdin)
			}
		case wire.KindExit:
			status, err := wire.DecodeExit(f.Payload)
			if err != nil {
				fmt.Fprintf(stderr, "dmsim: %s: %v\n", socket, err)
				return 1
			}
			return status
		default:
			fmt.Fprintf(stderr, "dmsim: %s: unexpected frame %q from the daemon\n", socket, f.Kind)
			return 1
		}
	}
}

// sendStdin streams standard input to the daemon, then an empty frame.
func sendStdin(w io.Writer, stdin io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			if wire.WriteFrame(w, wire.KindStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			wire.WriteFrame(w, wire.KindStdin, nil)
			return
		}
	}
}

// Main is the multi-call shim's main: it runs the command named by
// argv[0] (or by argv[1] when called as dmsim-shim).
func Main(argv []string) int {
	if filepath.Base(argv[0]) == "dmsim-shim" {
		if len(argv) < 2 {
			fmt.Fprintf(os.Stderr, "usage: dmsim-shim COMMAND [ARG]...\n")
			return 2
		}
		argv = argv[1:]
	}
	tty := false
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		tty = true
	}
	return Run(SocketPath, argv, os.Stdin, tty, os.Stdout, os.Stderr)
}
