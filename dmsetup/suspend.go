// suspend and resume (dmsetup.c's _suspend, _resume).

package dmsetup

import "github.com/dmsim/dmsim/dmsim"

func (d *cmdCtx) suspend(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tSuspend, n, ok, 0, true)
	return r
}

func (d *cmdCtx) resume(argc int, argv []string, _ *dmsim.NameEntry, _ bool) bool {
	n, ok := firstArg(argc, argv)
	_, r := d.simple(tResume, n, ok, 0, true)
	return r
}
