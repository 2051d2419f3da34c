package gotestv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata files are captured, unedited, from real runs:
//   - enodev-*.out: containerd v2.3.4's devmapper test binaries run as root
//     with -test.root -test.v, one test per run, in `unshare -m` with a tmpfs
//     on /dev/mapper and the real dmsetup 1.02.185 on a kernel without
//     device-mapper (every dmsetup call fails with ENODEV, then the tests
//     panic on a nil pool or an empty device list);
//   - nonroot-devmapper.out: the same devmapper binary without -test.root
//     (passing tests, and a root test that skips);
//   - parallel-nested.out and timeout.out: go1.26's -test.v output of
//     parallel-nested_test.go.txt, whole and with -test.timeout 15ms. It shows
//     stderr text glued to the front of "=== NAME" lines.
func TestSummarizeCaptured(t *testing.T) {
	tests := []struct {
		file     string
		test     string
		expected int
		want     string
		ok       bool
	}{
		{"enodev-TestDMSetup.out", "TestDMSetup", 12,
			"TestDMSetup: 0 of 12 subtests passed (6 failed, 6 without a result, the test binary panicked: runtime error: index out of range [0] with length 0)", false},
		{"enodev-TestPoolDevice.out", "TestPoolDevice", 6,
			"TestPoolDevice: 0 of 6 subtests passed (1 failed, 5 without a result, the test binary panicked: runtime error: invalid memory address or nil pointer dereference)", false},
		{"enodev-TestSnapshotterSuite.out", "TestSnapshotterSuite", 22,
			"TestSnapshotterSuite: 0 of 22 subtests passed (1 failed, 21 without a result, the test binary panicked: runtime error: invalid memory address or nil pointer dereference)", false},
		{"enodev-TestMultipleXfsMounts.out", "TestMultipleXfsMounts", 0,
			"TestMultipleXfsMounts: failed (the test binary panicked: runtime error: invalid memory address or nil pointer dereference)", false},
		{"nonroot-devmapper.out", "TestPoolDevice", 6,
			"TestPoolDevice: 0 of 6 subtests passed (6 without a result, the test was skipped)", false},
		{"nonroot-devmapper.out", "TestPoolMetadata_AddDevice", 0,
			"TestPoolMetadata_AddDevice: passed", true},
		{"nonroot-devmapper.out", "TestMultipleXfsMounts", 0,
			"TestMultipleXfsMounts: no result (the test did not run)", false},
		{"nonroot-devmapper.out", "TestSnapshotterSuite", 22,
			"TestSnapshotterSuite: 0 of 22 subtests passed (22 without a result, no result for the test itself, the test did not run)", false},
		{"parallel-nested.out", "TestSuite", 5,
			"TestSuite: 6 of 6 subtests passed", true},
		{"parallel-nested.out", "TestSuite", 7,
			"TestSuite: 6 of 7 subtests passed (1 without a result)", false},
		{"parallel-nested.out", "TestFailNested", 0,
			"TestFailNested: 1 of 3 subtests passed (2 failed)", false},
		{"parallel-nested.out", "TestFlat", 0, "TestFlat: passed", true},
		{"parallel-nested.out", "TestSkip", 0, "TestSkip: skipped", false},
		{"timeout.out", "TestSuite", 5,
			"TestSuite: 0 of 5 subtests passed (5 without a result, no result for the test itself, the test binary panicked: test timed out after 15ms)", false},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.test, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			s := rep.Summarize(tt.test, tt.expected)
			if got := s.String(); got != tt.want {
				t.Errorf("String() =\n  %s\nwant\n  %s", got, tt.want)
			}
			if s.OK() != tt.ok {
				t.Errorf("OK() = %v, want %v", s.OK(), tt.ok)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		test   string
		want   string
		final  Status
		panics string
	}{
		{"result glued to stderr text",
			"=== RUN   TestA\n=== RUN   TestA/B\ntime=\"x\" level=debug msg=\"y\"--- PASS: TestA/B (0.00s)\n--- PASS: TestA (1.50s)\nPASS\n",
			"TestA", "TestA: 1 of 1 subtests passed", Pass, ""},
		{"run line glued to stderr text",
			"=== RUN   TestA\nmsg=\"y\"=== RUN   TestA/B\n",
			"TestA", "TestA: 0 of 1 subtests passed (1 without a result, no result for the test itself, the test binary stopped while it ran)", NoResult, ""},
		{"a log line quoting a result is not a result",
			"=== RUN   TestA\n    x_test.go:1: saw --- FAIL: TestA (0.00s) earlier, then more\n--- PASS: TestA (0.00s)\nPASS\n",
			"TestA", "TestA: passed", Pass, ""},
		{"a sibling with a common prefix is not a subtest",
			"--- PASS: TestAB (0.00s)\n--- FAIL: TestA (0.00s)\n    --- FAIL: TestA/x (0.00s)\nFAIL\n",
			"TestA", "TestA: 0 of 1 subtests passed (1 failed)", Fail, ""},
		{"a failing test without failing subtests",
			"--- FAIL: TestA (0.00s)\n    --- PASS: TestA/x (0.00s)\nFAIL\n",
			"TestA", "TestA: 1 of 1 subtests passed (the test itself failed)", Fail, ""},
		{"the first panic line is kept",
			"=== RUN   TestA\npanic: first [recovered, repanicked]\npanic: second\n",
			"TestA", "TestA: no result (the test binary panicked: first)", NoResult, "first"},
		{"a skipped subtest is not a pass",
			"--- PASS: TestA (0.00s)\n    --- SKIP: TestA/x (0.00s)\n    --- PASS: TestA/y (0.00s)\nPASS\n",
			"TestA", "TestA: 1 of 2 subtests passed (1 skipped)", Pass, ""},
		{"empty output", "", "TestA", "TestA: no result (the test did not run)", NoResult, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Summarize(tt.test, 0).String(); got != tt.want {
				t.Errorf("String() =\n  %s\nwant\n  %s", got, tt.want)
			}
			if rep.Final != tt.final {
				t.Errorf("Final = %q, want %q", rep.Final, tt.final)
			}
			if rep.Panic != tt.panics {
				t.Errorf("Panic = %q, want %q", rep.Panic, tt.panics)
			}
		})
	}
}
