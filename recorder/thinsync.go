package recorder

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// addThinsync builds cmd/thinsync from this checkout as a static binary
// (CGO_ENABLED=0, -trimpath) and puts it into the image as
// /usr/sbin/thinsync, so that scripts/app-*.sh run the same tool on the
// kernel as in dmsim. The image key hashes the binary's bytes.
func (s *imageSpec) addThinsync() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dmsim-thinsync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "thinsync")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", bin, "./cmd/thinsync")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/thinsync: %v: %s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	s.add(&imgEntry{path: "usr/sbin/thinsync", mode: modeFile, perm: 0o755, data: data})
	return nil
}

// moduleRoot is the directory of this module's go.mod, searched upwards
// from the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/dmsim/dmsim\n") {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("thinsync: go.mod of github.com/dmsim/dmsim not found above the working directory")
		}
		dir = up
	}
}
