// Package script runs dmsim's scenario scripts: the shell and command
// lines on an emulated machine in virtual time, the transcripts they
// produce, the golden test against the kernel's transcripts, and the Go
// entry point for booting a machine in a program or test.
//
// # Running scripts
//
// A scenario script (docs/script-format.md; parsed by package scenario)
// declares disks and runs command lines in one shell. Run and RunFile boot
// a Machine on the script's disks and run its lines in order: comments are
// copied, `# reboot` powers the machine off with no teardown and boots it
// again on the same disks, and each command line is run by mvdan.cc/sh's
// interpreter, whose commands are all emulated (busybox's applets, dmsetup,
// the thin tools the program links in): nothing runs on the host.
//
// Time is virtual (package sim): the shell and every process it starts
// are clock actors, so the clock moves only when all of them wait, and
// timers fire in order. Each line costs DefaultCommandTime, the time the
// recorder's guest takes per command, so that periodic work (the thin
// pool's commit every second) falls between the same lines as on the
// kernel.
//
// # Transcripts
//
// A run prints a transcript: `# env:` lines describing the machine, then
// for each script line the comment as written, or for a command `$ LINE`,
// its standard output as `| ` lines, its standard error as `! ` lines, the
// kernel log lines it caused as `k <LEVEL>TEXT` lines and `[exit N]`
// (FormatCommand; silent `@` lines print nothing when they succeed).
// Transcripts compare without their `# env:` lines (StripEnv).
//
// # The golden test
//
// TestGoldens replays every scripts/NAME.sh that has a transcript the
// recorder made on Linux 6.1 (goldens/NAME.txt) and compares the
// transcripts byte for byte, and the thin metadata the run leaves on disk
// with the kernel's (goldens/NAME.DISK.xml). goldens/KNOWN_FAILURES lists
// the scenarios that do not match yet.
//
// # From Go
//
// NewMachine boots a machine on disks it makes (or attaches) and returns
// a *Machine whose Run runs one command line and returns its Result:
// standard output and error, exit status and the kernel log lines it
// caused. Reboot and Close end a boot and the machine. The machine has the
// target types and tools the program links in: import
// github.com/dmsim/dmsim/targets/all (and github.com/dmsim/dmsim/thintools
// for thin_check and friends) for their side effects, as cmd/dmsim does.
//
//	m, err := script.NewMachine(script.Config{Disks: []script.Disk{
//		{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 64 << 20},
//	}})
//	...
//	defer m.Close()
//	r, err := m.Run(`dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"`)
package script
