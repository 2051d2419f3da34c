package script

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/sim"
)

// DiskEnv returns the DISK_NAME=/dev/vdX variables for a script's disks.
func DiskEnv(disks []scenario.Disk) []string {
	var env []string
	for _, d := range disks {
		env = append(env, "DISK_"+d.Name+"="+d.Dev)
	}
	return env
}

// Options control a script run.
type Options struct {
	// KeepDir keeps the disk images there as NAME.img; otherwise they live
	// in a temporary directory removed at the end.
	KeepDir string
	// Disks attaches existing images (used in place, not zeroed) by disk name.
	Disks map[string]string
	// Version is printed in the `# env: dmsim` line.
	Version string
	// Out receives the transcript as it is produced (may be nil).
	Out io.Writer
	// CommandTime is the virtual time each command line costs (see
	// DefaultCommandTime, which 0 selects); a negative value charges none.
	CommandTime time.Duration
	// MaxStall is the stall guard's limit (Machine.MaxStall):
	// DefaultMaxStall if 0, no guard if negative. A line it stops ends the
	// run with a *StallError naming the line.
	MaxStall time.Duration
	// Wall is the wall clock the stall guard reads (sim.HostWall if nil).
	Wall sim.Wall
	// Faults are fault injectors for disks, by disk name (package
	// faultsweep's sweeps).
	Faults map[string]*dmsim.Faults
	// BioLog keeps every disk's bio log across the script's boots
	// (ScriptResult.BioLogs).
	BioLog bool
	// CommandStarts replays a recording's pace (scenario.ParseStarts):
	// when each command, by its index in the script's Items, started on
	// the recording guest's clock. A command listed there costs, instead
	// of CommandTime, whatever brings the virtual time since its boot's
	// first listed command up to the recording's (nothing if dmsim is
	// already further).
	CommandStarts map[int]time.Duration
	// CommandCPUScale multiplies the CPU time the commands listed there
	// (by item index) charge (sim.Clock.SetCPUScale): PaceScales stretches
	// each command's CPU work to the time the recording's guest took.
	CommandCPUScale map[int]float64
}

// ScriptResult is a finished script run.
type ScriptResult struct {
	Transcript string
	// Images maps disk names to their image files (gone after Run returns
	// unless kept or attached).
	Images map[string]string
	// BioLogs are, by disk name, the bios each disk executed, every boot's
	// after the previous one's (Options.BioLog).
	BioLogs map[string][]dmsim.BioRecord
	// Reboots are, by disk name, the length of its BioLogs at each
	// `# reboot`: where one boot's records end.
	Reboots map[string][]int
	// Commands are, by item index, the virtual time each command took
	// (after its CommandTime) and the CPU time its processes charged.
	Commands map[int]CommandStat
}

// CommandStat is the virtual time one command took.
type CommandStat struct {
	Elapsed time.Duration // from its start to its end, CommandTime aside
	CPU     time.Duration // the CPU its processes charged meanwhile (sim.Clock.CPUCharged)
}

// Run runs a parsed script on a Machine booted on its disks and returns
// its transcript.
func Run(ctx context.Context, s *scenario.Script, o Options) (*ScriptResult, error) {
	if c := s.CrashItem(); c != nil {
		return nil, fmt.Errorf("%s:%d: a `# crash:` script runs under `dmsim run` or `dmsim crash` (package crash)", s.Name, c.Line)
	}
	cfg := Config{Dir: o.KeepDir, CommandTime: o.CommandTime, MaxStall: o.MaxStall, Wall: o.Wall, BioLog: o.BioLog}
	for n := range o.Disks {
		found := false
		for _, d := range s.Disks {
			found = found || d.Name == n
		}
		if !found {
			return nil, fmt.Errorf("%s: --disk %s: the script declares no such disk", s.Name, n)
		}
	}
	for _, d := range s.Disks {
		cfg.Disks = append(cfg.Disks, Disk{Name: d.Name, Size: d.Size, Image: o.Disks[d.Name], NoDiscard: !d.Discard, Faults: o.Faults[d.Name]})
	}
	m, err := NewMachine(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()

	var tr strings.Builder
	out := io.Writer(&tr)
	if o.Out != nil {
		out = io.MultiWriter(&tr, o.Out)
	}
	version := o.Version
	if version == "" {
		version = "devel"
	}
	fmt.Fprintf(out, "# env: dmsim %s\n", version)
	for i, d := range s.Disks {
		disc := "discard"
		if !d.Discard {
			disc = "nodiscard"
		}
		fmt.Fprintf(out, "# env: disk %s = %s %s (%d sectors, %d:%d, %s)\n", d.Name, d.Dev,
			scenario.FormatSize(d.Size), d.Size/dmsim.SectorSize, dmsim.VirtioMajor, 16*i, disc)
	}

	var bioLogs map[string][]dmsim.BioRecord
	var reboots map[string][]int
	keepBioLogs := func() {
		if !o.BioLog {
			return
		}
		if bioLogs == nil {
			bioLogs = map[string][]dmsim.BioRecord{}
		}
		for n, l := range m.BioLogs() {
			bioLogs[n] = append(bioLogs[n], l...)
		}
	}
	pace := paceKeeper{starts: o.CommandStarts, fixed: m.CommandTime}
	commands := map[int]CommandStat{}
	for i, it := range s.Items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch it.Kind {
		case scenario.Comment:
			fmt.Fprintln(out, it.Text)
		case scenario.Reboot:
			fmt.Fprintln(out, it.Text)
			keepBioLogs()
			if o.BioLog {
				if reboots == nil {
					reboots = map[string][]int{}
				}
				for n, l := range bioLogs {
					reboots[n] = append(reboots[n], len(l))
				}
			}
			if err := m.Reboot(); err != nil {
				return nil, err
			}
			pace.reboot()
		case scenario.Command:
			clk := m.Kernel.Clock
			m.CommandTime = pace.cost(i, clk.Now())
			scale, ok := o.CommandCPUScale[i]
			if !ok {
				scale = 1
			}
			clk.SetCPUScale(scale)
			t0, cpu0 := clk.Now()+max(0, m.CommandTime), clk.CPUCharged()
			r := m.RunLine(ctx, it.Cmd)
			commands[i] = CommandStat{Elapsed: clk.Now() - t0, CPU: clk.CPUCharged() - cpu0}
			FormatCommand(out, it, r)
			if r.Stall != nil {
				r.Stall.Num = it.Line
				return nil, r.Stall
			}
		}
	}
	keepBioLogs()
	return &ScriptResult{Transcript: tr.String(), Images: m.Images(), BioLogs: bioLogs, Reboots: reboots, Commands: commands}, nil
}

// RunFile parses and runs a script file.
func RunFile(ctx context.Context, file string, o Options) (*ScriptResult, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := scenario.Parse(strings.TrimSuffix(filepath.Base(file), ".sh"), src)
	if err != nil {
		return nil, err
	}
	return Run(ctx, s, o)
}
