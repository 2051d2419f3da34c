package recorder

import (
	"fmt"
	"strings"

	"github.com/dmsim/dmsim/scenario"
)

// The guest side. /init (PID 1) mounts the pseudo file systems, loads the modules in dependency
// order, puts the second serial port in raw mode and runs /dmsim/boot.sh in a child shell, then
// powers the machine off with `poweroff -n -f` (no sync, no teardown: like pulling the plug).
//
// boot.sh is written per boot by the host and appended to the initramfs as a second cpio archive.
// It sources /dmsim/lib.sh, sets the DISK_* variables and runs each command at the top level of
// one shell with `eval`, so variables, functions and the working directory persist from one
// command to the next, exactly as when a script is run line by line.
//
// Framing on /dev/ttyS1 (all numbers decimal, every header ends in "\n"):
//
//	@@DMSIM BOOT <n>
//	@@DMSIM ENV <len>                         then <len> bytes of "key\tvalue\n" lines (first boot only)
//	@@DMSIM CMD <item> <status> <olen> <elen> <klen> <start>   then stdout, stderr and `dmesg -r -c` bytes
//
// <start> is the guest's monotonic clock (ktime_get(), in ns, from /proc/timer_list) when the
// command started, -1 if the guest could not read it: the pace at which the guest ran the script,
// which dmsim can replay (package script, Options.CommandStarts).
//	@@DMSIM END
//
// The host refuses a stream that does not end with END (the guest shell died, or the boot timed out).

const guestInit = `#!/bin/sh
# dmsim recorder: guest init (PID 1).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "$m" || echo "dmsim-init: insmod $m failed"
done </dmsim/modules
# Wait for the kernel's random number generator now: otherwise its "crng init done" message
# lands in the transcript of whichever command first asks for random bytes (thin_restore does).
head -c 1 /dev/random >/dev/null
# No "task blocked for more than 120 seconds" warnings: a slow host must not change the log.
echo 0 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
stty -F /dev/ttyS1 raw -echo -ixon -ixoff
sh /dmsim/boot.sh
echo "dmsim-init: boot.sh exited with status $?"
poweroff -n -f
sleep 60
`

const guestLib = `# dmsim recorder: helpers for boot.sh. Names start with __dmsim_ so that scripts do not meet them.
exec 9>/dev/ttyS1
export DM_DISABLE_UDEV=1
cd /tmp

# __dmsim_wait DEV...: wait (at most 10 s each) for the disks' device nodes.
__dmsim_wait() {
	for __dmsim_d in "$@"; do
		__dmsim_n=0
		while [ ! -b "$__dmsim_d" ] && [ $__dmsim_n -lt 100 ]; do
			sleep 0.1
			__dmsim_n=$((__dmsim_n + 1))
		done
	done
}

# __dmsim_env NAME=DEV...: describe the environment (kernel, tools, disks) for the # env: lines.
__dmsim_env() {
	{
		printf 'kernel\t%s\n' "$(uname -r)"
		printf 'dmsetup\t%s\n' "$(dmsetup version 2>&1 | tr -s ' ' | tr '\n' ';')"
		printf 'busybox\t%s\n' "$(busybox --help 2>&1 | head -1)"
		printf 'thin-provisioning-tools\t%s\n' "$(thin_check -V 2>&1)"
		for __dmsim_d in "$@"; do
			__dmsim_b=${__dmsim_d#*=}
			__dmsim_b=${__dmsim_b#/dev/}
			printf 'disk\t%s %s %s %s\n' "$__dmsim_d" "$(cat /sys/block/$__dmsim_b/size)" \
				"$(cat /sys/block/$__dmsim_b/dev)" "$(cat /sys/block/$__dmsim_b/queue/discard_max_bytes)"
		done
	} >/dmsim/env 2>&1
	printf '@@DMSIM ENV %s\n' $(wc -c </dmsim/env) >&9
	cat /dmsim/env >&9
}

# __dmsim_clock: the guest's monotonic clock in ns into __dmsim_t ("now at N nsecs" in
# /proc/timer_list), -1 if it cannot be read. Shell builtins only: no process runs.
__dmsim_clock() {
	__dmsim_t=-1
	while read -r __dmsim_a __dmsim_b __dmsim_c __dmsim_d; do
		if [ "$__dmsim_a $__dmsim_b" = "now at" ]; then
			__dmsim_t=$__dmsim_c
			break
		fi
	done </proc/timer_list 2>/dev/null
}

# __dmsim_post STATUS START: send the result of command number $__dmsim_i.
__dmsim_post() {
	__dmsim_rc=$1
	__dmsim_s=$2
	dmesg -r -c >/dmsim/k 2>&1
	set -- $(wc -c </dmsim/o) $(wc -c </dmsim/e) $(wc -c </dmsim/k)
	printf '@@DMSIM CMD %s %s %s %s %s %s\n' "$__dmsim_i" "$__dmsim_rc" "$1" "$2" "$3" "$__dmsim_s" >&9
	cat /dmsim/o /dmsim/e /dmsim/k >&9
}

__dmsim_end() {
	printf '@@DMSIM END\n' >&9
	# Closing the last descriptor of the tty waits until its output has drained.
	exec 9>&-
}
`

// bootScript returns /dmsim/boot.sh for boot number n (1-based) with the given commands (indexes
// into s.Items, as scenario.Script.Commands gives them). Command i runs the text of /dmsim/cmd/i.
func bootScript(s *scenario.Script, n int, cmds []int) string {
	var b strings.Builder
	b.WriteString("# dmsim recorder: boot script, written by the host\n")
	b.WriteString(". /dmsim/lib.sh\n")
	fmt.Fprintf(&b, "printf '@@DMSIM BOOT %d\\n' >&9\n", n)
	var devs, pairs []string
	for _, d := range s.Disks {
		fmt.Fprintf(&b, "export DISK_%s=%s\n", d.Name, d.Dev)
		devs = append(devs, d.Dev)
		pairs = append(pairs, d.Name+"="+d.Dev)
	}
	if len(devs) > 0 {
		fmt.Fprintf(&b, "__dmsim_wait %s\n", strings.Join(devs, " "))
	}
	if n == 1 {
		fmt.Fprintf(&b, "__dmsim_env %s\n", strings.Join(pairs, " "))
	}
	// Boot noise is cleared just before the first command.
	b.WriteString("dmesg -c >/dev/null\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "__dmsim_i=%d\n", c)
		b.WriteString("__dmsim_clock\n")
		fmt.Fprintf(&b, "eval \"$(cat /dmsim/cmd/%d)\" </dev/null >/dmsim/o 2>/dmsim/e 9>&-\n", c)
		b.WriteString("__dmsim_post $? $__dmsim_t\n")
	}
	b.WriteString("__dmsim_end\n")
	return b.String()
}
