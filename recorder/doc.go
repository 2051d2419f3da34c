// Package recorder runs dmsim scenario scripts on the real Linux kernel under qemu and writes the
// kernel's transcript (docs/script-format.md) and the host-side thin_dump of every metadata disk.
//
// The host side (this package) parses the script with the shared parser (package scenario, the
// same one dmsim's runner follows), builds and caches a small initramfs, boots qemu once per
// `# reboot`-separated segment, reads the framed results the guest sends over its second serial
// port and formats them as a transcript. The guest side is a busybox shell script (guest.go) that
// evals each command line in one shell.
package recorder
