package loopdev

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestUnder(t *testing.T) {
	sys := t.TempDir()
	// name -> backing_file contents ("" means not attached: no loop/ directory)
	devs := map[string]string{
		"loop0": "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-1\n",
		"loop1": "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-2 (deleted)\n",
		"loop2": "/tmp/run-10/tmp/x\n", // a sibling directory sharing the prefix
		"loop3": "",
		"loop4": "/var/lib/images/disk.img\n",
		"loop5": "/tmp/run-1\n", // the directory itself
		"vda":   "/tmp/run-1/not-a-loop\n",
	}
	for name, backing := range devs {
		if err := os.MkdirAll(filepath.Join(sys, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if backing == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Join(sys, name, "loop"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sys, name, "loop", "backing_file"), []byte(backing), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir     string
		want    []Loop
		wantErr bool
	}{
		{dir: "/tmp/run-1", want: []Loop{
			{"/dev/loop0", "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-1"},
			{"/dev/loop1", "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-2"},
			{"/dev/loop5", "/tmp/run-1"},
		}},
		{dir: "/tmp/run-1/", want: []Loop{
			{"/dev/loop0", "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-1"},
			{"/dev/loop1", "/tmp/run-1/tmp/TestDMSetup1/001/dmsetup-tests-2"},
			{"/dev/loop5", "/tmp/run-1"},
		}},
		{dir: "/tmp/run-10", want: []Loop{{"/dev/loop2", "/tmp/run-10/tmp/x"}}},
		{dir: "/tmp/run-2", want: nil},
		{dir: "/", wantErr: true},
		{dir: "tmp/run-1", wantErr: true},
		{dir: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := Under(sys, tt.dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Under(%q) error = %v, want error %v", tt.dir, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Under(%q) = %v, want %v", tt.dir, got, tt.want)
			}
		})
	}
}
