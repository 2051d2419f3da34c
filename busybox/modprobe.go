package busybox

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/userland"
)

func init() {
	applet("modprobe", "load kernel modules", modprobe, "-q", "-r", "-v", "-a")
}

// modulePath is where a module lives under /lib/modules/VERSION, as
// busybox modprobe's messages show it.
func modulePath(name string) string {
	key := dmsim.ModuleKey(name)
	switch key {
	case "brd", "loop":
		return "kernel/drivers/block/" + key + ".ko"
	}
	return "kernel/drivers/md/" + strings.ReplaceAll(key, "_", "-") + ".ko"
}

// modprobe is busybox modprobe: load a module with its parameters, or
// several modules (-a).
func modprobe(p *userland.Proc) int {
	o, args, ok := getopt(p, "alrqvsDbd:")
	if !ok {
		return 1
	}
	if len(args) == 0 {
		return showUsage(p)
	}
	if p.Kernel == nil {
		return 1
	}
	if o.has('r') {
		fmt.Fprintf(p.Stderr, "dmsim: modprobe -r is not supported\n")
		return 1
	}
	mods := args[:1]
	params := map[string]string{}
	if o.has('a') {
		mods = args
	} else {
		for _, a := range args[1:] {
			k, v, _ := strings.Cut(a, "=")
			params[k] = v
		}
	}
	status := 0
	for _, m := range mods {
		if dmsim.FindModule(m) == nil {
			if !o.has('q') {
				fmt.Fprintf(p.Stderr, "modprobe: module %s not found in modules.dep\n", m)
			}
			status = 1
			continue
		}
		var err error
		p.Kcall(func() { err = p.Kernel.Modprobe(m, params) })
		if err != nil {
			fmt.Fprintf(p.Stderr, "modprobe: can't load module %s (%s): %s\n", dmsim.ModuleKey(m),
				modulePath(m), linuxerr.Strerror(err))
			status = 1
		}
	}
	return status
}
