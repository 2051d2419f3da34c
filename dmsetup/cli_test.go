package dmsetup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/targets/thin"
	"github.com/dmsim/dmsim/userland"
)

// Command-line handling that happens before dmsetup talks to the kernel
// (option parsing, usage errors, help) is compared with dmsetup 1.02.185
// itself: testdata/cli.json holds what Debian 12's dmsetup printed for each
// case (it needs no kernel for these), and the test also runs the installed
// dmsetup when it is 1.02.185. `go test -run TestCLI -update-cli` re-records.

var updateCLI = flag.Bool("update-cli", false, "re-record testdata/cli.json from the host's dmsetup 1.02.185")

type cliResult struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Status int    `json:"status"`
}

var cliCases = [][]string{
	{"--foo"},
	{"-x", "ls"},
	{"create", "x", "--table"},
	{"-u"},
	{"--noflush=3", "ls"},
	{"--no", "ls"},
	{"--a", "ls"},
	{"--c", "ls"},
	{"--r", "ls"},
	{"--s", "ls"},
	{"--u", "ls"},
	{"--tab"},
	{"--tabl"},
	{"ls", "--target"},
	{"frob"},
	{},
	{"create"},
	{"message", "a"},
	{"remove_all", "x"},
	{"rename"},
	{"setgeometry", "a", "b"},
	{"-j", "5", "info"},
	{"-m", "3", "info"},
	{"create", "--notable", "--table", "x", "a"},
	{"--addnodeonresume", "--addnodeoncreate", "ls"},
	{"load", "--notable", "x"},
	{"reload", "--notable", "x"},
	{"load"},
	{"wait"},
	{"--readahead", "-5", "ls"},
	{"--mode", "999", "ls"},
	{"--mode", "0", "ls"},
	{"--manglename", "x", "ls"},
	{"--count", "-1", "ls"},
	{"--interval", "0", "ls"},
	{"--headings", "x", "ls"},
	{"help"},
	{"-h"},
	{"--help", "frob"},
	{"help", "-c"},
	{"help", "--columns"},
	// The column report's field and key parsing happens before dmsetup
	// talks to the kernel, and splitname never does.
	{"info", "-c", "-o", "devnames_used"},
	{"info", "-c", "-o", "info_attr"},
	{"info", "-c", "-o", "name,"},
	{"info", "-c", "-o", ","},
	{"info", "-c", "-o", "abcdefghijklmnopqrstuvwxyz0123456789,attr"},
	{"info", "-c", "-O", "-"},
	{"info", "-c", "-O", "nme"},
	{"info", "-c", "-O", "name,"},
	{"info", "-c", "-O", "name_all"},
	{"info", "-c", "-O", "a_bcdefghijklmnopqrstuvwxyz0123456789"},
	{"status", "-c", "-O", "name"},
	{"splitname", "vg-lv-layer"},
	{"splitname", "a--b-c--d-e-f"},
	{"splitname", "x-"},
	{"splitname", "a---b"},
	{"splitname", "a-b-"},
	{"splitname", "a-b", "CRYPT"},
	{"splitname", "-o", "subsystem,vg_name,lv_name,lv_layer,name", "a-b"},
	{"splitname", "--nameprefixes", "it's-a-b"},
	{"splitname", "--nameprefixes", "--unquoted", "--separator", ";", "v-l"},
	{"splitname", "--rows", "v-l"},
	{"splitname", "--rows", "--noheadings", "v-l-x"},
	{"splitname", "--rows", "--nameprefixes", "v-l-x"},
	{"splitname", "--noheadings", "v-l"},
	{"splitname", "--separator", "", "v-l"},
	{"splitname", "-o", "", "a"},
	{"splitname", "-o", "all", "v-l-x"},
	{"splitname", "-o", "+subsystem", "v-l-x"},
	{"splitname", "-o", "LV_NAME,l_v_name,VGNAME,vg_name", "a-b"},
	{"splitname", "-o", "splitname_all", "x-y-z"},
	{"splitname", "-o", "vg_name,lv_name", "-O", "lv_layer", "a-b-c"},
	{"splitname", "-o", "vg_name", "-O", "-lv_name,vg_name,+lv_name", "a-b"},
	{"splitname", "-o", "selected,vg_name", "a-b"},
	{"splitname", "-o", "vg_name", "-O", "selected", "a-b"},
	{"splitname", "-o", "help", "a"},
	{"splitname", "-o", "vg_name", "-O", "?", "a"},
	{"splitname", "-o", "name_all", "a"},
	{"splitname", "-o", "vg_name", "-O", "name", "a"},
	{"splitname", "-o", "read_count", "a"},
	{"splitname", "-o", "region_id", "a"},
	{"splitname", "-o", "vg_name,vg_name", "this-is-a-very-long-volume-group--name-x"},
	{"splitname", "-c", "a-b"},
	{"splitname"},
	{"splitname", "a", "b", "c"},
}

const cliGolden = "testdata/cli.json"

func hostDmsetup() string {
	p, err := exec.LookPath("dmsetup")
	if err != nil {
		p = "/usr/sbin/dmsetup"
	}
	out, _ := exec.Command(p, "version").CombinedOutput()
	if !bytes.Contains(out, []byte("Library version:   1.02.185")) {
		return ""
	}
	return p
}

func runHost(t *testing.T, bin string, args []string) cliResult {
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = "dmsetup" // as a shell runs it from PATH
	cmd.Env = []string{"DM_DISABLE_UDEV=1", "LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	st := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		st = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{out.String(), errb.String(), st}
}

// boot starts a machine with one 1M disk.
func boot(t *testing.T) *script.Machine {
	t.Helper()
	img := t.TempDir() + "/a.img"
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 20)
	f.Close()
	m, err := script.Boot([]dmsim.DiskSpec{{Path: img, Size: 1 << 20}}, []string{"DISK_a=/dev/vda"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Halt)
	return m
}

func runOurs(t *testing.T, m *script.Machine, args []string) cliResult {
	var out, errb bytes.Buffer
	p := &userland.Proc{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Dir: "/tmp", FS: m.FS, Kernel: m.Kernel, Env: func(n string) string {
			if n == "DM_DISABLE_UDEV" {
				return "1"
			}
			return ""
		}}
	st := userland.Run(p, append([]string{"dmsetup"}, args...))
	return cliResult{out.String(), errb.String(), st}
}

func key(args []string) string { return strings.Join(append([]string{"dmsetup"}, args...), " ") }

func TestCLI(t *testing.T) {
	host := hostDmsetup()
	golden := map[string]cliResult{}
	if *updateCLI {
		if host == "" {
			t.Fatal("-update-cli needs dmsetup 1.02.185 on the host")
		}
		for _, c := range cliCases {
			golden[key(c)] = runHost(t, host, c)
		}
		data, _ := json.MarshalIndent(golden, "", " ")
		if err := os.WriteFile(cliGolden, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		data, err := os.ReadFile(cliGolden)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &golden); err != nil {
			t.Fatal(err)
		}
	}
	m := boot(t)
	for _, c := range cliCases {
		t.Run(key(c), func(t *testing.T) {
			want, ok := golden[key(c)]
			if !ok {
				t.Fatalf("no recording: run go test -run TestCLI -update-cli")
			}
			if got := runOurs(t, m, c); got != want {
				t.Errorf("got status %d\nstdout %q\nstderr %q\nwant status %d\nstdout %q\nstderr %q",
					got.Status, got.Stdout, got.Stderr, want.Status, want.Stdout, want.Stderr)
			}
			if host != "" {
				if live := runHost(t, host, c); live != want {
					t.Errorf("recording differs from the host's dmsetup: re-record with -update-cli")
				}
			}
		})
	}
}
