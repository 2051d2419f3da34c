package recorder

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultCache is the commands' default --cache: $XDG_CACHE_HOME/dmsim-recorder, else
// ~/.cache/dmsim-recorder, else one under the temporary directory.
func DefaultCache() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "dmsim-recorder")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "dmsim-recorder")
	}
	return filepath.Join(home, ".cache", "dmsim-recorder")
}

// SetupFlags are the flags both commands take for preparing the guest.
type SetupFlags struct {
	Cache     *string
	NoInstall *bool
}

// AddSetupFlags defines --cache and --no-install on fs.
func AddSetupFlags(fs *flag.FlagSet) SetupFlags {
	return SetupFlags{
		Cache:     fs.String("cache", DefaultCache(), "cache `dir` for the guest image and the KVM probe"),
		NoInstall: fs.Bool("no-install", false, "do not apt-get install missing host packages"),
	}
}

// ParseArgs parses args with fs, flags being allowed after script names too, and returns the
// script arguments.
func ParseArgs(fs *flag.FlagSet, args []string) []string {
	var names []string
	for {
		fs.Parse(args)
		if fs.NArg() == 0 {
			return names
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// FindScripts resolves script arguments: a path, or a name looked up as dir/NAME.sh. With no
// arguments it is every dir/*.sh, sorted.
func FindScripts(dir string, args []string) ([]string, error) {
	var scripts []string
	if len(args) == 0 {
		scripts, _ = filepath.Glob(filepath.Join(dir, "*.sh"))
		sort.Strings(scripts)
	}
	for _, a := range args {
		p := a
		if _, err := os.Stat(p); err != nil && !strings.Contains(a, "/") {
			p = filepath.Join(dir, strings.TrimSuffix(a, ".sh")+".sh")
		}
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
		scripts = append(scripts, p)
	}
	return scripts, nil
}

// PrepareImage installs missing host packages (unless noInstall) and builds the guest image
// for kernel kver (default: KernelVersion()).
func (f SetupFlags) PrepareImage(kver string, logf func(string, ...any)) (*Image, error) {
	if !*f.NoInstall {
		if err := EnsurePackages(logf); err != nil {
			return nil, err
		}
	}
	if kver == "" {
		var err error
		if kver, err = KernelVersion(); err != nil {
			return nil, err
		}
	}
	return BuildImage(*f.Cache, kver, logf)
}
