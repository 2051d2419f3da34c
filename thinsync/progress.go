package thinsync

import (
	"fmt"
	"time"
)

// progress draws "\rN/M MiB  R MiB/s  ETA" on a terminal's standard error,
// at most ten times a second. It is off unless --progress is given and
// standard error is a terminal, so it never reaches a transcript.
type progress struct {
	t           *tool
	on          bool
	total       uint64
	start, last time.Time
}

func (t *tool) newProgress(want bool, total uint64) *progress {
	p := &progress{t: t, on: want && t.sys.Terminal(), total: total}
	if p.on {
		p.start = t.sys.Now()
	}
	return p
}

func (p *progress) update(done uint64) {
	if !p.on {
		return
	}
	now := p.t.sys.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	left := "?"
	if rate > 0 {
		left = (time.Duration(float64(p.total-done)/rate) * time.Second / time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.t.sys.Stderr(), "\r%d/%d MiB  %.1f MiB/s  %s left   ", done>>20, p.total>>20, rate/(1<<20), left)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.t.sys.Stderr(), "\r\033[K")
	}
}
