package dmsim

import (
	"sort"
	"strings"
	"sync"

	"github.com/dmsim/dmsim/linuxerr"
)

// Modules: the registry of modules every kernel instance can load (what
// modprobe finds; target packages register from init()), and the modules
// loaded into one kernel with their parameters (kernel/module/main.c,
// kernel/params.c: /sys/module/NAME/parameters).

// Module is a kernel module (or dm-mod's built-in part) that provides target
// types, parameters, or block devices.
type Module struct {
	// Name as lsmod prints it ("dm_thin_pool"); modprobe treats - and _ alike.
	Name string
	// Aliases are other names that load it, e.g. "dm-zero" for target
	// lookups (request_module("dm-%s")).
	Aliases []string
	// Targets are registered in this order when the module loads (so
	// `dmsetup targets`, newest first, lists the last one first).
	Targets []*TargetType
	// Params are /sys/module/NAME/parameters/*.
	Params []*ModuleParam
	// Init runs at load with modprobe's name=value arguments, after the
	// parameters were set (e.g. brd creates its ram disks).
	Init func(k *Kernel, args map[string]string) error
}

// ModuleParam is a module parameter (module_param).
type ModuleParam struct {
	Name    string
	Default string
	// Parse validates a value written to the parameter and returns its
	// canonical text (as a later read shows it).
	Parse func(s string) (string, error)
	// ReadOnly parameters (permission 0444) refuse writes with EACCES.
	ReadOnly bool
}

// The modules known to every kernel instance (what modprobe can find).
var (
	registryMu sync.Mutex
	modules    = map[string]*Module{} // guarded by registryMu
)

// RegisterModule makes a module known to every kernel instance; target
// packages call it from init(). Registering a name twice panics.
func RegisterModule(m *Module) {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(m.Name)
	if _, dup := modules[key]; dup {
		panic("dmsim: module registered twice: " + m.Name)
	}
	modules[key] = m
}

// AddToModule appends target types to a registered module, or registers the
// module with them if it is new (built-in targets of dm_mod come from several
// packages). order places the types within the module: lower first.
func AddToModule(name string, order int, types ...*TargetType) {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(name)
	m := modules[key]
	if m == nil {
		m = &Module{Name: name}
		modules[key] = m
	}
	for _, t := range types {
		builtinOrder[t] = order
	}
	m.Targets = append(m.Targets, types...)
	sort.SliceStable(m.Targets, func(i, j int) bool {
		return builtinOrder[m.Targets[i]] < builtinOrder[m.Targets[j]]
	})
}

// builtinOrder is each target type's AddToModule order; guarded by
// registryMu.
var builtinOrder = map[*TargetType]int{}

// ModuleKey normalises a module name as modprobe does ("dm-zero" → "dm_zero").
func ModuleKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// FindModule returns the registered module with this name or alias.
func FindModule(name string) *Module {
	registryMu.Lock()
	defer registryMu.Unlock()
	key := ModuleKey(name)
	if m, ok := modules[key]; ok {
		return m
	}
	for _, m := range modules {
		for _, a := range m.Aliases {
			if ModuleKey(a) == key {
				return m
			}
		}
	}
	return nil
}

// loadedModule is a module loaded into one kernel, with its parameter
// values (canonical text, as /sys/module/NAME/parameters/P reads).
type loadedModule struct {
	m      *Module
	params map[string]string // guarded by Kernel.modMu
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
