package preload_test

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dmsim/dmsim/frontend"
	"github.com/dmsim/dmsim/frontend/preload"
	"github.com/dmsim/dmsim/script"
)

// TestDaemonBridge runs the real dmsetup against a daemon (`dmsim serve`)
// over its socket: the daemon answers Bridge connections beside the shims'.
func TestDaemonBridge(t *testing.T) {
	r := newReal(t)
	state := t.TempDir()
	sock := filepath.Join(state, "dmsim.sock")
	d, err := frontend.Start(t.Context(), frontend.Config{StateDir: state, Socket: sock, NoBlockDevices: true,
		Disks: []script.Disk{{Name: "a", Size: 1 << 20}}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tests := []struct {
		args           []string
		stdout, stderr string
		status         int
	}{
		{[]string{"version"}, "Library version:   1.02.185 (2022-05-18)\nDriver version:    4.47.0\n", "", 0},
		{[]string{"create", "z", "--table", "0 8 linear /dev/vda 0"}, "", "", 0},
		{[]string{"ls"}, "z\t(253:0)\n", "", 0},
		{[]string{"table", "z"}, "0 8 linear 254:0 0\n", "", 0},
		{[]string{"message", "z", "0", "hello"}, "", "device-mapper: message ioctl on z  failed: Invalid argument\nCommand failed.\n", 1},
		{[]string{"create", "z", "--table", "0 8 zero"}, "", "device-mapper: create ioctl on z  failed: Device or resource busy\nCommand failed.\n", 1},
		{[]string{"remove", "z"}, "", "", 0},
		{[]string{"info", "z"}, "", "Device does not exist.\nCommand failed.\n", 1},
		{[]string{"ls"}, "No devices found\n", "", 0},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		cmd := exec.Command(r.bin, tc.args...)
		cmd.Env = []string{"LANG=C", "LD_PRELOAD=" + r.so, preload.SocketEnv + "=" + sock}
		cmd.Stdout, cmd.Stderr = &out, &errb
		status := 0
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			status = ee.ExitCode()
		}
		if out.String() != tc.stdout || errb.String() != tc.stderr || status != tc.status {
			t.Errorf("dmsetup %q: status %d\nstdout %q\nstderr %q\nwant %d %q %q", tc.args, status, out.String(), errb.String(),
				tc.status, tc.stdout, tc.stderr)
		}
	}
	// Without a daemon the real dmsetup finds no driver, as on this host.
	var errb bytes.Buffer
	cmd := exec.Command(r.bin, "ls")
	cmd.Env = []string{"LANG=C", "LD_PRELOAD=" + r.so, preload.SocketEnv + "=" + filepath.Join(state, "none")}
	cmd.Stderr = &errb
	if err := cmd.Run(); err == nil || !bytes.Contains(errb.Bytes(), []byte("Failure to communicate with kernel device-mapper driver.")) {
		t.Errorf("no daemon: %v, %q", err, errb.String())
	}
}
