package dmsim

import (
	"sort"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// loadedModule is a module loaded into one kernel, with its parameter
// values (canonical text, as /sys/module/NAME/parameters/P reads).
type loadedModule struct {
	m      *Module
	params map[string]string
}

// moduleKeyOf normalises a module name for lookups.
func moduleKeyOf(name string) string { return ModuleKey(name) }

// Modprobe loads a module by name or alias with name=value arguments; a
// module already loaded is a no-op, as modprobe does. ENOENT if no such
// module exists; EINVAL if an argument is invalid for its parameter (the
// kernel logs "NAME: 'VAL' invalid for parameter 'P'"); unknown
// parameters are logged and ignored.
func (k *Kernel) Modprobe(name string, args map[string]string) error {
	m := FindModule(name)
	if m == nil {
		return linuxerr.ENOENT
	}
	return k.loadModule(m, args)
}

// requestModule is request_module(): load quietly; failure is silent.
func (k *Kernel) requestModule(name string) {
	if m := FindModule(name); m != nil {
		_ = k.loadModule(m, nil)
	}
}

func (k *Kernel) loadModule(m *Module, args map[string]string) error {
	key := moduleKeyOf(m.Name)
	k.modMu.Lock()
	if _, ok := k.modByKey[key]; ok {
		k.modMu.Unlock()
		return nil
	}
	lm := &loadedModule{m: m, params: map[string]string{}}
	for _, p := range m.Params {
		lm.params[p.Name] = p.Default
	}
	// Arguments are applied in name order so that logs are deterministic
	// (modprobe passes them in command-line order).
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := args[n]
		p := m.param(n)
		if p == nil {
			k.Log.Printk(KernWarning, "%s: unknown parameter '%s' ignored", m.Name, n)
			continue
		}
		if p.Parse != nil {
			c, err := p.Parse(v)
			if err != nil {
				k.modMu.Unlock()
				k.Log.Printk(KernErr, "%s: '%s' invalid for parameter '%s'", m.Name, v, n)
				return linuxerr.EINVAL
			}
			v = c
		}
		lm.params[n] = v
	}
	k.modByKey[key] = lm
	k.loaded = append(k.loaded, lm)
	nTargets := len(k.targets)
	k.targets = append(k.targets, m.Targets...)
	k.modMu.Unlock()

	if m.Init != nil {
		if err := m.Init(k, args); err != nil {
			k.modMu.Lock()
			delete(k.modByKey, key)
			k.loaded = k.loaded[:len(k.loaded)-1]
			k.targets = k.targets[:nTargets]
			k.modMu.Unlock()
			return err
		}
	}
	return nil
}

func (m *Module) param(name string) *ModuleParam {
	for _, p := range m.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ModuleLoaded reports whether a module is loaded.
func (k *Kernel) ModuleLoaded(name string) bool {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	if _, ok := k.modByKey[moduleKeyOf(name)]; ok {
		return true
	}
	if m := FindModule(name); m != nil {
		_, ok := k.modByKey[moduleKeyOf(m.Name)]
		return ok
	}
	return false
}

// LoadedModules lists the loaded modules, most recently loaded first (as
// lsmod prints them).
func (k *Kernel) LoadedModules() []string {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	out := make([]string, 0, len(k.loaded))
	for i := len(k.loaded) - 1; i >= 0; i-- {
		out = append(out, k.loaded[i].m.Name)
	}
	return out
}

// ModuleParam returns a loaded module's parameter value (its sysfs text,
// without the newline); "" if the module or parameter does not exist.
func (k *Kernel) ModuleParam(module, name string) string {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	lm := k.modByKey[moduleKeyOf(module)]
	if lm == nil {
		return ""
	}
	return lm.params[name]
}

// SetModuleParam writes a parameter as /sys/module/M/parameters/P does:
// ENOENT if there is no such parameter, EACCES if it is read-only, EINVAL
// if the value does not parse.
func (k *Kernel) SetModuleParam(module, name, value string) error {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	lm := k.modByKey[moduleKeyOf(module)]
	if lm == nil {
		return linuxerr.ENOENT
	}
	p := lm.m.param(name)
	if p == nil {
		return linuxerr.ENOENT
	}
	if p.ReadOnly {
		return linuxerr.EACCES
	}
	v := strings.TrimSuffix(value, "\n")
	if p.Parse != nil {
		c, err := p.Parse(v)
		if err != nil {
			return linuxerr.EINVAL
		}
		v = c
	}
	lm.params[name] = v
	return nil
}

// getTargetType is dm_get_target_type(): a registered type, or, failing
// that, request_module("dm-NAME") and a second look (unless the machine's
// request_module fails: Config.NoModuleAutoload).
func (k *Kernel) getTargetType(name string) *TargetType {
	if t := k.findTargetType(name); t != nil {
		return t
	}
	if k.cfg.NoModuleAutoload {
		return nil
	}
	k.requestModule("dm-" + name)
	return k.findTargetType(name)
}

func (k *Kernel) findTargetType(name string) *TargetType {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	for _, t := range k.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TargetTypes lists the registered target types, most recently registered
// first (dm_target_iterate order).
func (k *Kernel) TargetTypes() []*TargetType {
	k.modMu.Lock()
	defer k.modMu.Unlock()
	out := make([]*TargetType, 0, len(k.targets))
	for i := len(k.targets) - 1; i >= 0; i-- {
		out = append(out, k.targets[i])
	}
	return out
}
