package script

import (
	"time"

	"github.com/dmsim/dmsim/scenario"
)

// Replaying a recording's pace.
//
// The recorder keeps when its guest started each command (NAME.starts,
// scenario.ParseStarts). Under `--icount shift=0` the guest's clock counts
// the instructions it runs, so that pace is the guest's own work: a few
// milliseconds for most commands, seconds for a pipeline such as
// `yes a | head -c 1835008 | dd ...` (5.7 s in the guest: busybox yes and
// head cost it about 1.7 µs a byte, 3.2 s for those 1.8 MB into
// /dev/null). The pool's
// periodic commit falls wherever a second has passed, between commands or
// inside one, so a replay that is to make the same commits must keep that
// pace:
//   - between commands, Options.CommandStarts makes each command start as
//     long after its boot's first as it did in the guest (paceKeeper);
//   - inside a command, Options.CommandCPUScale stretches the CPU time its
//     processes charge (userland's cost model: system calls and bytes
//     copied) so that the command takes as long as in the guest. The
//     stretch is uniform: a command's I/O is spread over its time as its
//     bytes are, which is right for a pipeline feeding dd. PaceScales
//     refines it from a run's CommandStats.

// paceKeeper prices command lines at a recording's pace
// (Options.CommandStarts).
type paceKeeper struct {
	starts map[int]time.Duration
	fixed  time.Duration // the cost of a line the recording has no start for
	// started says the boot has had a paced command: it started at
	// recorded on the recording's clock and at ours on dmsim's.
	started        bool
	recorded, ours time.Duration
}

// cost is what command item costs when dmsim's clock reads now.
func (p *paceKeeper) cost(item int, now time.Duration) time.Duration {
	at, ok := p.starts[item]
	if !ok {
		return p.fixed
	}
	if !p.started {
		p.started, p.recorded, p.ours = true, at, now
		return 0
	}
	return max(0, (at-p.recorded)-(now-p.ours))
}

// reboot starts a new boot: the recording's clock starts again too.
func (p *paceKeeper) reboot() { p.started = false }

// PaceScales refines the CPU scales (Options.CommandCPUScale) of a run
// paced by starts (Options.CommandStarts) from that run's stats, so that
// each command takes as long as it took the recording's guest: from its
// start to the next command's. A command's time grows with its scale about
// in proportion (dmsim's I/O takes no time, and a pipeline's processes pay
// their CPU side by side), so each scale is multiplied by the guest's time
// over the time the command took (or the CPU time it charged, if it paid
// less than a quantum); a few runs converge (the first one's times are
// whole CPU quanta). Commands that charged no CPU time or are the last of
// their boot keep their scale, which is never below 1.
func PaceScales(s *scenario.Script, starts map[int]time.Duration, stats map[int]CommandStat, scales map[int]float64) map[int]float64 {
	out := map[int]float64{}
	next := -1 // the item of the next paced command in the same boot
	for i := len(s.Items) - 1; i >= 0; i-- {
		switch s.Items[i].Kind {
		case scenario.Reboot:
			next = -1
		case scenario.Command:
			start, ok := starts[i]
			f, scaled := scales[i]
			if !scaled {
				f = 1
			}
			st, ran := stats[i]
			if ok && ran && next >= 0 && st.CPU > 0 {
				took := st.Elapsed
				if took == 0 {
					took = st.CPU // it paid less than a quantum
				}
				f *= float64(starts[next]-start) / float64(took)
			}
			if f > 1 {
				out[i] = f
			}
			if ok {
				next = i
			}
		}
	}
	return out
}
