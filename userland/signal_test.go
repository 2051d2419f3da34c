package userland

import "testing"

// TestSignals checks the one signal table both ways: get_signum's names
// and numbers (timeout -s), and strsignal's texts (the shell's report).
func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		name string
		num  int
		ok   bool
	}{
		{"TERM", SIGTERM, true},
		{"SIGKILL", SIGKILL, true},
		{"int", SIGINT, true},
		{"sigpipe", SIGPIPE, true},
		{"ABRT", 6, true},
		{"15", 15, true},
		{"0", 0, true},
		{"64", 64, true},
		{"65", 0, false},
		{"-1", 0, false},
		{"SIG", 0, false},
		{"FOO", 0, false},
	} {
		if n, ok := SignalNumber(tc.name); n != tc.num || ok != tc.ok {
			t.Errorf("SignalNumber(%q) = %d, %v; want %d, %v", tc.name, n, ok, tc.num, tc.ok)
		}
	}
	for _, tc := range []struct {
		sig  int
		text string
	}{
		{SIGINT, "Interrupt"},
		{SIGKILL, "Killed"},
		{SIGPIPE, "Broken pipe"},
		{SIGTERM, "Terminated"},
		{14, "Alarm clock"},
		{99, "Unknown signal 99"},
	} {
		if got := SignalText(tc.sig); got != tc.text {
			t.Errorf("SignalText(%d) = %q, want %q", tc.sig, got, tc.text)
		}
	}
}
