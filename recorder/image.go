package recorder

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/dmsim/dmsim/scenario"
)

// imageVersion changes whenever the layout of the image changes, so that cached images are rebuilt.
const imageVersion = "dmsim-recorder-image-1"

// Packages are the Debian packages the recorder needs on the host.
var Packages = []string{
	"qemu-system-x86", "qemu-utils", "linux-image-amd64", "busybox-static", "dmsetup",
	"thin-provisioning-tools", "cpio", "kmod",
}

// bootModules are loaded at boot, in this order (with their dependencies first). virtio_blk
// before dm-mod makes the virtio disks major 254 and device-mapper major 253.
var bootModules = []string{"virtio_pci", "virtio_blk", "crc32c_generic", "dm-thin-pool"}

// extraModules are in the image for scripts to modprobe.
var extraModules = []string{"brd", "loop", "dm-zero", "dm-flakey", "dm-delay", "dm-log-writes"}

// skippedModules are never put in the image: TCG's CPU has no SSE4.2, so crc32c-intel cannot load
// (crc32c_generic provides crc32c instead).
var skippedModules = map[string]bool{"crc32c-intel.ko": true}

// EnsurePackages installs the missing host packages with apt (apt-get update first).
func EnsurePackages(logf func(string, ...any)) error {
	var missing []string
	for _, p := range Packages {
		out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", p).Output()
		if err != nil || !strings.HasPrefix(string(out), "ii") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	logf("installing %s", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, missing...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = env
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %v", args[0], err)
		}
	}
	return nil
}

// KernelVersion returns the version of the kernel linux-image-amd64 depends on
// (e.g. 6.1.0-56-amd64), falling back to the newest /boot/vmlinuz-*.
func KernelVersion() (string, error) {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64").Output()
	if err == nil {
		if m := regexp.MustCompile(`linux-image-([0-9][^ ,]*)`).FindStringSubmatch(string(out)); m != nil {
			if _, err := os.Stat("/boot/vmlinuz-" + m[1]); err == nil {
				return m[1], nil
			}
		}
	}
	vs, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(vs) == 0 {
		return "", fmt.Errorf("no kernel in /boot (is linux-image-amd64 installed?)")
	}
	sort.Strings(vs)
	return strings.TrimPrefix(vs[len(vs)-1], "/boot/vmlinuz-"), nil
}

// imgEntry is one file of the image.
type imgEntry struct {
	path   string // inside the image, no leading slash
	mode   uint32 // modeDir, modeFile, modeLink, modeChar
	perm   uint32
	src    string // host file for regular files copied from the host
	data   []byte // content for generated files
	target string // symlink target
	maj    int
	min    int
}

type imageSpec struct {
	kver    string
	entries map[string]*imgEntry
	modules []string // host paths of modules loaded at boot, in order
}

func (s *imageSpec) add(e *imgEntry) {
	// Parent directories first.
	for d := filepath.Dir(e.path); d != "." && d != "/"; d = filepath.Dir(d) {
		if _, ok := s.entries[d]; !ok {
			s.entries[d] = &imgEntry{path: d, mode: modeDir, perm: 0o755}
		}
	}
	s.entries[e.path] = e
}

func (s *imageSpec) copyFile(hostPath, imgPath string, perm uint32) error {
	real, err := filepath.EvalSymlinks(hostPath)
	if err != nil {
		return err
	}
	s.add(&imgEntry{path: strings.TrimPrefix(imgPath, "/"), mode: modeFile, perm: perm, src: real})
	return nil
}

// modDeps returns the module files (in load order) modprobe would insert for mod.
func modDeps(kver, mod string) ([]string, error) {
	out, err := exec.Command("modprobe", "-S", kver, "--show-depends", mod).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("modprobe --show-depends %s: %v: %s", mod, err, out)
	}
	var files []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "insmod" && !skippedModules[filepath.Base(f[1])] {
			files = append(files, f[1])
		}
	}
	return files, nil
}

// libDeps returns the shared libraries (ldd) of a binary, including the dynamic loader.
func libDeps(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v", bin, err)
	}
	var libs []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}

func lookPath(name string) (string, error) {
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on the host", name)
}

func buildSpec(kver string) (*imageSpec, error) {
	s := &imageSpec{kver: kver, entries: map[string]*imgEntry{}}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "etc", "root", "mnt", "dmsim", "usr/bin", "usr/sbin", "sbin"} {
		s.add(&imgEntry{path: d, mode: modeDir, perm: 0o755})
	}
	s.entries["tmp"].perm = 0o1777
	s.add(&imgEntry{path: "dev/console", mode: modeChar, perm: 0o600, maj: 5, min: 1})
	s.add(&imgEntry{path: "init", mode: modeFile, perm: 0o755, data: []byte(guestInit)})
	s.add(&imgEntry{path: "dmsim/lib.sh", mode: modeFile, perm: 0o644, data: []byte(guestLib)})

	// busybox and all its applets.
	bb, err := lookPath("busybox")
	if err != nil {
		return nil, err
	}
	if err := s.copyFile(bb, "/bin/busybox", 0o755); err != nil {
		return nil, err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.ContainsAny(a, "/[") {
			s.add(&imgEntry{path: "bin/" + a, mode: modeLink, target: "busybox"})
		}
	}
	s.add(&imgEntry{path: "bin/[", mode: modeLink, target: "busybox"})
	// The kernel's module loader helper (request_module(), e.g. "dm-zero" for a table naming an
	// unloaded target type) runs CONFIG_MODPROBE_PATH, /sbin/modprobe on Debian, as
	// /proc/sys/kernel/modprobe says: busybox's modprobe, with the modules.dep below.
	s.add(&imgEntry{path: "sbin/modprobe", mode: modeLink, target: "/bin/busybox"})

	// dmsetup and pdata_tools with their libraries; the thin_*, cache_*, era_* links.
	var libs []string
	for _, b := range []string{"dmsetup", "pdata_tools"} {
		p, err := lookPath(b)
		if err != nil {
			return nil, err
		}
		if err := s.copyFile(p, "/usr/sbin/"+b, 0o755); err != nil {
			return nil, err
		}
		l, err := libDeps(p)
		if err != nil {
			return nil, err
		}
		libs = append(libs, l...)
	}
	for _, l := range libs {
		if err := s.copyFile(l, l, 0o755); err != nil {
			return nil, err
		}
	}
	links, _ := filepath.Glob("/usr/sbin/*_*")
	for _, l := range links {
		if t, err := os.Readlink(l); err == nil && t == "pdata_tools" {
			s.add(&imgEntry{path: strings.TrimPrefix(l, "/"), mode: modeLink, target: "pdata_tools"})
		}
	}

	if err := s.addThinsync(); err != nil {
		return nil, err
	}

	// Kernel modules.
	seen := map[string]bool{}
	for i, m := range append(append([]string{}, bootModules...), extraModules...) {
		files, err := modDeps(kver, m)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if seen[f] {
				continue
			}
			seen[f] = true
			if err := s.copyFile(f, f, 0o644); err != nil {
				return nil, err
			}
			if i < len(bootModules) {
				s.modules = append(s.modules, f)
			}
		}
	}
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		p := filepath.Join("/lib/modules", kver, f)
		if _, err := os.Stat(p); err == nil {
			if err := s.copyFile(p, p, 0o644); err != nil {
				return nil, err
			}
		}
	}
	s.add(&imgEntry{path: "dmsim/modules", mode: modeFile, perm: 0o644,
		data: []byte(strings.Join(s.modules, "\n") + "\n")})
	return s, nil
}

// key hashes everything the image is made of.
func (s *imageSpec) key() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", imageVersion, s.kver)
	for _, p := range s.sortedPaths() {
		e := s.entries[p]
		fmt.Fprintf(h, "%s %o %o %s %d:%d\n", e.path, e.mode, e.perm, e.target, e.maj, e.min)
		if e.src != "" {
			st, err := os.Stat(e.src)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "  %s %d %d\n", e.src, st.Size(), st.ModTime().UnixNano())
		} else {
			h.Write(e.data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (s *imageSpec) sortedPaths() []string {
	ps := make([]string, 0, len(s.entries))
	for p := range s.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// depmod runs the host's depmod on a staging copy of the image's modules and adds the
// modules.dep* files it writes, so that the guest's modprobe finds the extra modules.
func (s *imageSpec) depmod() error {
	tmp, err := os.MkdirTemp("", "dmsim-depmod-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	modDir := filepath.Join("lib/modules", s.kver)
	for _, p := range s.sortedPaths() {
		e := s.entries[p]
		if !strings.HasPrefix(p, modDir+"/") || e.mode != modeFile {
			continue
		}
		dst := filepath.Join(tmp, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(e.src, dst); err != nil {
			return err
		}
	}
	if out, err := exec.Command("depmod", "-b", tmp, s.kver).CombinedOutput(); err != nil {
		return fmt.Errorf("depmod: %v: %s", err, out)
	}
	return filepath.WalkDir(filepath.Join(tmp, modDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		if _, ok := s.entries[rel]; !ok {
			s.add(&imgEntry{path: rel, mode: modeFile, perm: 0o644, data: data})
		}
		return nil
	})
}

func (s *imageSpec) write(path string) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	cw := &cpioWriter{w: zw}
	for _, p := range s.sortedPaths() {
		e := s.entries[p]
		switch e.mode {
		case modeDir:
			cw.Dir(p, e.perm)
		case modeLink:
			cw.Symlink(p, e.target)
		case modeChar:
			cw.CharDev(p, e.perm, e.maj, e.min)
		case modeFile:
			data := e.data
			if e.src != "" {
				var err error
				if data, err = os.ReadFile(e.src); err != nil {
					return err
				}
			}
			cw.File(p, e.perm, data)
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Image is a built guest image.
type Image struct {
	Kernel    string // host path of the kernel (vmlinuz)
	Initramfs string // cached initramfs (gzip'd newc cpio)
	KVer      string
	Key       string
}

// BuildImage builds the initramfs for kernel kver into cacheDir, or reuses a cached one.
func BuildImage(cacheDir, kver string, logf func(string, ...any)) (*Image, error) {
	s, err := buildSpec(kver)
	if err != nil {
		return nil, err
	}
	key, err := s.key()
	if err != nil {
		return nil, err
	}
	img := &Image{
		Kernel:    "/boot/vmlinuz-" + kver,
		Initramfs: filepath.Join(cacheDir, "initramfs-"+kver+"-"+key+".cpio.gz"),
		KVer:      kver,
		Key:       key,
	}
	if _, err := os.Stat(img.Kernel); err != nil {
		return nil, err
	}
	if _, err := os.Stat(img.Initramfs); err == nil {
		return img, nil
	}
	logf("building %s", img.Initramfs)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	if err := s.depmod(); err != nil {
		return nil, err
	}
	if err := s.write(img.Initramfs); err != nil {
		return nil, err
	}
	return img, nil
}

// segment returns an uncompressed cpio archive with /dmsim/boot.sh and /dmsim/cmd/N for one boot
// (N indexes s.Items; the file holds the command as the parser gives it, without its @); it is
// appended to the cached initramfs (the kernel unpacks concatenated archives in order).
func segment(s *scenario.Script, n int, cmds []int) []byte {
	var buf bytes.Buffer
	cw := &cpioWriter{w: &buf}
	cw.Dir("dmsim/cmd", 0o755)
	for _, c := range cmds {
		cw.File(fmt.Sprintf("dmsim/cmd/%d", c), 0o644, []byte(s.Items[c].Cmd))
	}
	cw.File("dmsim/boot.sh", 0o644, []byte(bootScript(s, n, cmds)))
	cw.Close()
	return buf.Bytes()
}
