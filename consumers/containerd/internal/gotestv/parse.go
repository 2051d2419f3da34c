// Package gotestv reads the output of a Go test binary run with -test.v and
// counts, for one top-level test, how many of its subtests passed.
//
// The output may mix the test binary's stdout and stderr: a program under
// test that logs to stderr without a final newline glues its text to the
// front of the next "=== RUN" or "--- PASS" line, so those markers are found
// anywhere on a line, not only at its start. Subtests are told apart by their
// full names (Parent/Child), never by indentation.
package gotestv

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Status is a test's result as the testing package prints it.
type Status string

const (
	Pass     Status = "PASS"
	Fail     Status = "FAIL"
	Skip     Status = "SKIP"
	NoResult Status = "" // started (or expected) but no "--- " line: a panic, a timeout or a kill
)

// Result is one test or subtest.
type Result struct {
	Name    string // full name, e.g. TestDMSetup/CreatePool
	Started bool   // an "=== RUN" line was seen
	Status  Status
}

// Report is everything read from one run of a test binary.
type Report struct {
	Results map[string]*Result
	Order   []string // full names in the order they were first seen
	Panic   string   // the first "panic: " line without its prefix, if the binary panicked
	Final   Status   // the closing "PASS" or "FAIL" line, NoResult when there was none
}

var (
	runRE    = regexp.MustCompile(`=== RUN\s+(\S+)`)
	resultRE = regexp.MustCompile(`--- (PASS|FAIL|SKIP): (\S+) \((\d+(?:\.\d+)?)s\)\s*$`)
)

// Parse reads -test.v output.
func Parse(r io.Reader) (*Report, error) {
	rep := &Report{Results: map[string]*Result{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		rep.line(sc.Text())
	}
	return rep, sc.Err()
}

func (rep *Report) get(name string) *Result {
	res := rep.Results[name]
	if res == nil {
		res = &Result{Name: name}
		rep.Results[name] = res
		rep.Order = append(rep.Order, name)
	}
	return res
}

func (rep *Report) line(l string) {
	switch {
	case l == "PASS" || l == "FAIL":
		rep.Final = Status(l)
		return
	case strings.HasPrefix(l, "panic: ") && rep.Panic == "":
		rep.Panic = strings.TrimSuffix(strings.TrimPrefix(l, "panic: "), " [recovered, repanicked]")
		return
	}
	if m := resultRE.FindStringSubmatch(l); m != nil {
		rep.get(m[2]).Status = Status(m[1])
		return
	}
	if m := runRE.FindStringSubmatch(l); m != nil {
		rep.get(m[1]).Started = true
	}
}

// Summary is the verdict on one top-level test and its subtests.
type Summary struct {
	Test     string
	Status   Status // the top-level test's own result
	Started  bool
	Expected int // subtests the test is known to have (0: none, or unknown)
	Seen     int // subtests named in the output
	Passed   int
	Failed   int
	Skipped  int
	Missing  int // seen without a result, plus expected but never seen
	Panic    string
}

// Summarize counts the subtests of test (every descendant, at any depth).
// expected is how many subtests the test is known to have: when the binary
// dies early, those never started count as missing.
func (rep *Report) Summarize(test string, expected int) Summary {
	s := Summary{Test: test, Expected: expected, Panic: rep.Panic}
	if top := rep.Results[test]; top != nil {
		s.Status, s.Started = top.Status, top.Started
	}
	prefix := test + "/"
	for _, name := range rep.Order {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		s.Seen++
		switch rep.Results[name].Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Skip:
			s.Skipped++
		default:
			s.Missing++
		}
	}
	if expected > s.Seen {
		s.Missing += expected - s.Seen
	}
	return s
}

// Total is the number of subtests the verdict is out of.
func (s Summary) Total() int { return max(s.Expected, s.Seen) }

// OK reports whether the test and every subtest passed, and no expected
// subtest is missing. A skipped test is not a pass: the harness runs every
// test as root, so a skip means it did not run what it should.
func (s Summary) OK() bool {
	return s.Status == Pass && s.Passed == s.Total()
}

// String is the one line the harness prints, e.g.
// "TestDMSetup: 12 of 12 subtests passed".
func (s Summary) String() string {
	var head string
	var notes []string
	if s.Total() == 0 {
		head = map[Status]string{Pass: "passed", Fail: "failed", Skip: "skipped", NoResult: "no result"}[s.Status]
	} else {
		head = fmt.Sprintf("%d of %d subtests passed", s.Passed, s.Total())
		for _, n := range []struct {
			count int
			what  string
		}{{s.Failed, "failed"}, {s.Skipped, "skipped"}, {s.Missing, "without a result"}} {
			if n.count > 0 {
				notes = append(notes, fmt.Sprintf("%d %s", n.count, n.what))
			}
		}
		switch {
		case s.Status == Fail && s.Failed == 0:
			notes = append(notes, "the test itself failed")
		case s.Status == Skip:
			notes = append(notes, "the test was skipped")
		case s.Status == NoResult:
			notes = append(notes, "no result for the test itself")
		}
	}
	switch {
	case s.Panic != "" && !s.OK():
		notes = append(notes, "the test binary panicked: "+s.Panic)
	case s.Status == NoResult && s.Started:
		notes = append(notes, "the test binary stopped while it ran")
	case s.Status == NoResult:
		notes = append(notes, "the test did not run")
	}
	if len(notes) == 0 {
		return s.Test + ": " + head
	}
	return s.Test + ": " + head + " (" + strings.Join(notes, ", ") + ")"
}
