package dmsim_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
	_ "github.com/dmsim/dmsim/targets/all"
)

const (
	meta = 4 << 20  // /dev/vda: 8192 sectors
	data = 64 << 20 // /dev/vdb: 131072 sectors
)

func ref(name string) dmsim.DevRef { return dmsim.DevRef{Name: name} }

var noFlags dmsim.IoctlFlags

func wantErr(t *testing.T, err error, want linuxerr.Errno) {
	t.Helper()
	if linuxerr.ToErrno(err) != want {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func TestCreateAndMinors(t *testing.T) {
	m := Boot(t)
	for i, name := range []string{"a", "b", "c"} {
		info, err := m.API.DevCreate(name, "", noFlags)
		if err != nil {
			t.Fatal(err)
		}
		want := dmsim.DMInfo{Name: name, Dev: dmsim.DevT{Major: 253, Minor: uint32(i)}}
		if info != want {
			t.Fatalf("create %s: %+v", name, info)
		}
	}
	if _, err := m.API.DevRemove(ref("b"), noFlags); err != nil {
		t.Fatal(err)
	}
	info, _ := m.API.DevCreate("d", "UUID-d", noFlags)
	if info.Dev.Minor != 1 || info.UUID != "UUID-d" {
		t.Fatalf("lowest free minor not reused: %+v", info)
	}
	m.ExpectLog()

	tests := []struct {
		name, uuid string
		flags      dmsim.IoctlFlags
		err        linuxerr.Errno
		log        []string
	}{
		{name: "a", err: linuxerr.EBUSY},
		{name: "e", uuid: "UUID-d", err: linuxerr.EBUSY},
		{name: "x/y", err: linuxerr.EINVAL, log: []string{"<3>device-mapper: ioctl: invalid device name"}},
		{name: "", err: linuxerr.EINVAL, log: []string{"<3>device-mapper: ioctl: name not supplied when creating device"}},
		{name: "p", flags: dmsim.IoctlFlags{Persistent: true, Minor: 0}, err: linuxerr.EBUSY},
	}
	for _, tc := range tests {
		_, err := m.API.DevCreate(tc.name, tc.uuid, tc.flags)
		wantErr(t, err, tc.err)
		m.ExpectLog(tc.log...)
	}
	// A failed create frees its minor.
	info, _ = m.API.DevCreate("e", "", noFlags)
	if info.Dev.Minor != 3 {
		t.Fatalf("minor %d", info.Dev.Minor)
	}
	info, err := m.API.DevCreate("p", "", dmsim.IoctlFlags{Persistent: true, Minor: 42})
	if err != nil || info.Dev.Minor != 42 {
		t.Fatalf("persistent minor: %+v %v", info, err)
	}
	var names []string
	for _, e := range m.API.ListDevices() {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "a c d e p" {
		t.Fatalf("list %v", names)
	}
	// A device without a table has no block device yet.
	if _, err := m.K.BdevByDevT(info.Dev); !errors.Is(err, linuxerr.ENXIO) {
		t.Fatalf("bdev before load: %v", err)
	}
	if _, err := m.K.SysfsRead("/sys/dev/block/253:42/bdi/read_ahead_kb"); !errors.Is(err, linuxerr.ENOENT) {
		t.Fatalf("read_ahead_kb before load: %v", err)
	}
}

func TestVersions(t *testing.T) {
	m := probeBoot(t)
	if v := m.API.Version(); v != [3]uint32{4, 47, 0} {
		t.Fatalf("version %v", v)
	}
	list := func() string {
		var s []string
		for _, v := range m.API.ListVersions() {
			s = append(s, v.Name)
		}
		return strings.Join(s, " ")
	}
	if got := list(); got != "pwrite pimmut2 pimmut psingle probe striped linear error" {
		t.Fatalf("versions %q", got)
	}
	// Where request_module fails, zero needs its module.
	m0 := BootConfig(t, dmsim.Config{NoModuleAutoload: true})
	_, err := m0.Create("z", Spec(0, 8, "zero", ""))
	wantErr(t, err, linuxerr.EINVAL)
	m0.ExpectLog("<3>device-mapper: table: 253:0: zero: unknown target type",
		"<3>device-mapper: ioctl: error adding target to table")
	if err := m0.K.Modprobe("dm-zero", nil); err != nil {
		t.Fatal(err)
	}
	m0.MustCreate("z", Spec(0, 8, "zero", ""))
	if !m0.K.ModuleLoaded("dm-zero") {
		t.Fatal("dm-zero not loaded by modprobe")
	}
	// By default the lookup loads "dm-TYPE" (request_module), quietly.
	if m.K.ModuleLoaded("dm_zero") {
		t.Fatal("dm_zero loaded at boot")
	}
	m.MustCreate("z", Spec(0, 8, "zero", ""))
	if !strings.HasPrefix(list(), "zero pwrite") || !m.K.ModuleLoaded("dm_zero") {
		t.Fatalf("versions after zero: %q", list())
	}
	m.ExpectLog()
	// A type no module provides stays unknown.
	_, err = m.Create("f", Spec(0, 8, "frobnicate", ""))
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: table: 253:1: frobnicate: unknown target type",
		"<3>device-mapper: ioctl: error adding target to table")
	for _, v := range m.API.ListVersions() {
		want := map[string][3]uint32{"zero": {1, 1, 0}, "striped": {1, 6, 0}, "linear": {1, 4, 0}, "error": {1, 5, 0}}
		if w, ok := want[v.Name]; ok && v.Version != w {
			t.Fatalf("%s version %v", v.Name, v.Version)
		}
	}
}

// The failing creates of the 6.1 transcript (kernel-example.txt), with
// their exact log lines.
func TestBadTablesKernelExample(t *testing.T) {
	m := BootConfig(t, dmsim.Config{BootModules: []string{"dm_zero"}}, meta, data)
	m.MustCreate("pool", Spec(0, 131072, "linear", "/dev/vdb 0"))
	m.MustCreate("thin0", Spec(0, 2097152, "zero", ""))
	m.MustCreate("snap1", Spec(0, 2097152, "zero", ""))
	m.Log()
	tests := []struct {
		table []dmsim.TargetSpec
		err   linuxerr.Errno
		log   []string
	}{
		{[]dmsim.TargetSpec{Spec(0, 2048, "linear", "/dev/mapper/thin0")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:3: linear: Invalid argument count (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{[]dmsim.TargetSpec{Spec(0, 2048, "linear", "/dev/mapper/thin0 abc")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:3: linear: Invalid device sector (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{[]dmsim.TargetSpec{Spec(0, 16384, "linear", "/dev/vda 0")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:3: vda too small for target: start=0, len=16384, dev_size=8192",
			"<3>device-mapper: core: Cannot calculate initial queue limits",
			"<3>device-mapper: ioctl: unable to set up device queue for new table."}},
		{[]dmsim.TargetSpec{Spec(0, 2048, "linear", "/dev/nonexistent 0")}, linuxerr.ENODEV, []string{
			"<3>device-mapper: table: 253:3: linear: Device lookup failed (-ENODEV)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{[]dmsim.TargetSpec{Spec(0, 1024, "linear", "/dev/vdb 0"), Spec(2048, 1024, "linear", "/dev/vdb 0")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:3: linear: Gap in table (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{[]dmsim.TargetSpec{Spec(0, 2097152, "frobnicate", "/dev/mapper/pool 0")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:3: frobnicate: unknown target type",
			"<3>device-mapper: ioctl: error adding target to table"}},
	}
	for i, tc := range tests {
		// Each node exists, as libdm makes them.
		for _, n := range []string{"pool", "thin0", "snap1"} {
			_ = m.K.Mknod("/dev/mapper/"+n, m.Bdev("/dev/dm-"+map[string]string{"pool": "0", "thin0": "1", "snap1": "2"}[n]).Dev())
		}
		_, err := m.Create("bad", tc.table...)
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("case %d: err %v, want %v", i, err, tc.err)
		}
		m.ExpectLog(tc.log...)
		if _, err := m.API.DevStatus(ref("bad"), noFlags); !errors.Is(err, linuxerr.ENXIO) {
			t.Fatalf("case %d: bad left behind", i)
		}
	}
	// Constructors of the targets before the failing one were undone: no
	// device is still held.
	if n := m.K.OpenCount(dmsim.DevT{Major: 254, Minor: 16}); n != 1 {
		t.Fatalf("vdb open count %d, want 1 (pool)", n)
	}
}

func TestTableRules(t *testing.T) {
	m := probeBoot(t, meta)
	m.API.DevCreate("d", "", noFlags)
	load := func(flags dmsim.IoctlFlags, specs ...dmsim.TargetSpec) error {
		_, err := m.API.TableLoad(ref("d"), specs, flags)
		return err
	}
	tests := []struct {
		name  string
		flags dmsim.IoctlFlags
		specs []dmsim.TargetSpec
		err   linuxerr.Errno
		log   []string
	}{
		{"no targets", noFlags, nil, linuxerr.EINVAL, []string{
			"<3>device-mapper: ioctl: populate_table: no targets specified"}},
		{"zero length", noFlags, []dmsim.TargetSpec{Spec(0, 0, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: zero-length target",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"too large", noFlags, []dmsim.TargetSpec{Spec(0, 1<<55, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: too large device",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"not at 0", noFlags, []dmsim.TargetSpec{Spec(8, 8, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: probe: Gap in table (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"overlap", noFlags, []dmsim.TargetSpec{Spec(0, 8, "probe", ""), Spec(4, 8, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: probe: Gap in table (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"singleton after", noFlags, []dmsim.TargetSpec{Spec(0, 8, "psingle", ""), Spec(8, 8, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: target type psingle must appear alone in table",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"singleton second", noFlags, []dmsim.TargetSpec{Spec(0, 8, "probe", ""), Spec(8, 8, "psingle", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: psingle: singleton target type must appear alone in table (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"immutable mixed", noFlags, []dmsim.TargetSpec{Spec(0, 8, "pimmut", ""), Spec(8, 8, "probe", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: probe: immutable target type cannot be mixed with other target types (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"immutable second", noFlags, []dmsim.TargetSpec{Spec(0, 8, "probe", ""), Spec(8, 8, "pimmut", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: pimmut: immutable target type cannot be mixed with other target types (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"read-only always-writeable", dmsim.IoctlFlags{ReadOnly: true}, []dmsim.TargetSpec{Spec(0, 8, "pwrite", "")}, linuxerr.EINVAL, []string{
			"<3>device-mapper: table: 253:0: pwrite: target type may not be included in a read-only table (-EINVAL)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"ctr error", noFlags, []dmsim.TargetSpec{Spec(0, 8, "probe", ""), Spec(8, 8, "probe", "fail=61 name=ctrerr")}, linuxerr.ENODATA, []string{
			"<3>device-mapper: table: 253:0: probe: probe failure (-ENODATA)",
			"<3>device-mapper: ioctl: error adding target to table"}},
		{"device errno", noFlags, []dmsim.TargetSpec{Spec(0, 8, "probe", "dev=4096:0")}, linuxerr.EOVERFLOW, []string{
			"<3>device-mapper: table: 253:0: probe: probe device (-EOVERFLOW)",
			"<3>device-mapper: ioctl: error adding target to table"}},
	}
	for _, tc := range tests {
		wantErr(t, load(tc.flags, tc.specs...), tc.err)
		m.ExpectLog(tc.log...)
	}
	// The first target of the failed two-target load was destroyed.
	if got := rec("ctrerr").take(); len(got) != 0 {
		t.Fatalf("failing ctr recorded %v", got)
	}
	// Every target constructed before a failure was destroyed again.
	if got, want := strings.Join(rec("d").take(), ","), strings.TrimSuffix(strings.Repeat("ctr 0+8,dtr,", 6), ","); got != want {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	// A live immutable type can only be replaced by itself or the wildcard.
	if err := load(noFlags, Spec(0, 8, "pimmut", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.API.DevResume(ref("d"), noFlags); err != nil {
		t.Fatal(err)
	}
	wantErr(t, load(noFlags, Spec(0, 8, "probe", "")), linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: can't replace immutable target type pimmut")
	wantErr(t, load(noFlags, Spec(0, 8, "pimmut2", "")), linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: can't replace immutable target type pimmut")
	if err := load(noFlags, Spec(0, 8, "pimmut", "")); err != nil {
		t.Fatal(err)
	}
	if err := load(noFlags, Spec(0, 8, "error", "")); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog()
}

// Device areas are checked when the first table is loaded, and for later
// tables at resume, which then fails leaving the device suspended with the
// old table live.
func TestDeviceAreaCheckTiming(t *testing.T) {
	m := Boot(t, meta)
	m.MustCreate("d", Spec(0, 1024, "linear", "/dev/vda 0"))
	if _, err := m.API.TableLoad(ref("d"), []dmsim.TargetSpec{Spec(0, 16384, "linear", "/dev/vda 0")}, noFlags); err != nil {
		t.Fatalf("second load checked the device area: %v", err)
	}
	m.ExpectLog()
	info, _ := m.API.DevStatus(ref("d"), noFlags)
	if !info.InactivePresent || !info.LivePresent {
		t.Fatalf("info %+v", info)
	}
	_, err := m.API.DevResume(ref("d"), noFlags)
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: table: 253:0: vda too small for target: start=0, len=16384, dev_size=8192")
	info, _ = m.API.DevStatus(ref("d"), noFlags)
	if !info.Suspended || info.InactivePresent || !info.LivePresent {
		t.Fatalf("after failed resume: %+v", info)
	}
	if got := m.StatusLines("d", dmsim.StatusTable); got[0] != "0 1024 linear 254:0 0" {
		t.Fatalf("live table %v", got)
	}
	// Plain resume works again.
	if _, err := m.API.DevResume(ref("d"), noFlags); err != nil {
		t.Fatal(err)
	}
}

// A failing preresume leaves the device suspended, with the new table live.
func TestPreresumeFailure(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("pr", Spec(0, 8, "probe", "name=pr-old"))
	rec("pr-old").take()
	if _, err := m.API.TableLoad(ref("pr"), []dmsim.TargetSpec{Spec(0, 16, "probe", "preresume=28 name=pr-new")}, noFlags); err != nil {
		t.Fatal(err)
	}
	_, err := m.API.DevResume(ref("pr"), noFlags)
	wantErr(t, err, linuxerr.ENOSPC)
	m.ExpectLog("<3>device-mapper: table: 253:0: probe: preresume failed, error = -28")
	info, _ := m.API.DevStatus(ref("pr"), noFlags)
	if !info.Suspended || info.InactivePresent {
		t.Fatalf("info %+v", info)
	}
	if got := m.StatusLines("pr", dmsim.StatusInfo); len(got) != 1 || got[0] != "0 16 probe info noflush=false" {
		t.Fatalf("live table %v", got)
	}
	if got := rec("pr-old").take(); strings.Join(got, ",") != "presuspend noflush=false,postsuspend post=true,dtr" {
		t.Fatalf("old table hooks %v", got)
	}
	if got := rec("pr-new").take(); strings.Join(got, ",") != "ctr 0+16,preresume" {
		t.Fatalf("new table hooks %v", got)
	}
	if m.K.GetMD(info.Dev).Size() != 16 {
		t.Fatal("size not the new table's")
	}
}

func TestSuspendResumeStates(t *testing.T) {
	m := probeBoot(t)
	m.API.DevCreate("e", "", noFlags)
	// Suspend works without a table; resume then has nothing to resume.
	info, err := m.API.DevSuspend(ref("e"), noFlags)
	if err != nil || !info.Suspended {
		t.Fatalf("suspend: %+v %v", info, err)
	}
	info, err = m.API.DevSuspend(ref("e"), noFlags)
	if err != nil || !info.Suspended {
		t.Fatalf("second suspend: %+v %v", info, err)
	}
	_, err = m.API.DevResume(ref("e"), noFlags)
	wantErr(t, err, linuxerr.EINVAL)
	// Resume of an active device without inactive table is a no-op.
	m.MustCreate("a", Spec(0, 8, "probe", ""))
	rec("a").take()
	if _, err := m.API.DevResume(ref("a"), noFlags); err != nil {
		t.Fatal(err)
	}
	if got := rec("a").take(); len(got) != 0 {
		t.Fatalf("hooks ran: %v", got)
	}
	m.API.DevSuspend(ref("a"), dmsim.IoctlFlags{NoFlush: true})
	m.API.DevResume(ref("a"), noFlags)
	if got := rec("a").take(); strings.Join(got, ",") != "presuspend noflush=true,postsuspend post=true,preresume,resume" {
		t.Fatalf("hooks %v", got)
	}
	for _, op := range []func(dmsim.DevRef, dmsim.IoctlFlags) (dmsim.DMInfo, error){m.API.DevSuspend, m.API.DevResume, m.API.DevStatus, m.API.DevRemove} {
		_, err := op(ref("nosuch"), noFlags)
		wantErr(t, err, linuxerr.ENXIO)
	}
	_, err = m.API.DevStatus(dmsim.DevRef{Name: "a", UUID: "u"}, noFlags)
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: only supply one of name or uuid, cmd(0)")
}

func TestEventsRenameWait(t *testing.T) {
	m := probeBoot(t)
	m.API.DevCreate("notable", "", noFlags)
	info, err := m.API.DevRename(ref("notable"), "nt2", false)
	if err != nil || info.Name != "nt2" || info.EventNr != 0 {
		t.Fatalf("rename without table: %+v %v", info, err)
	}
	m.MustCreate("a", Spec(0, 8, "probe", ""))
	info, err = m.API.DevRename(ref("a"), "b", false)
	if err != nil || info.EventNr != 1 {
		t.Fatalf("rename: %+v %v", info, err)
	}
	if _, err := m.API.DevRename(ref("b"), "nt2", false); !errors.Is(err, linuxerr.EBUSY) {
		t.Fatal(err)
	}
	m.ExpectLog("<3>device-mapper: ioctl: Unable to change name on mapped device b to one that already exists: nt2")
	_, err = m.API.DevRename(ref("zz"), "yy", false)
	wantErr(t, err, linuxerr.ENXIO)
	m.ExpectLog("<3>device-mapper: ioctl: Unable to rename non-existent device, zz to yy")
	_, err = m.API.DevRename(ref("b"), "", false)
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: Invalid new mapped device name or uuid string supplied.")
	_, err = m.API.DevRename(ref("b"), "a/b", false)
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: invalid device name")
	info, err = m.API.DevRename(ref("b"), "UUID-1", true)
	if err != nil || info.UUID != "UUID-1" || info.EventNr != 2 {
		t.Fatalf("set uuid: %+v %v", info, err)
	}
	_, err = m.API.DevRename(ref("b"), "UUID-2", true)
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: Unable to change uuid of mapped device b to UUID-2 because uuid is already set to UUID-1")
	if info, _ := m.API.DevStatus(dmsim.DevRef{UUID: "UUID-1"}, noFlags); info.Name != "b" {
		t.Fatalf("lookup by uuid: %+v", info)
	}

	// dev_wait returns at once when the counter already differs.
	start := m.Now()
	info, st, err := m.API.DevWait(context.TODO(), ref("b"), 0, noFlags)
	if err != nil || info.EventNr != 2 || len(st) != 1 || m.Now() != start {
		t.Fatalf("wait: %+v %v %v", info, st, err)
	}
	// Otherwise it sleeps until an event, in virtual time.
	m.K.Clock.AfterFunc(90*time.Second, func() {
		m.Go(func() { m.API.TargetMessage(ref("b"), 0, "event") })
	})
	info, _, err = m.API.DevWait(context.TODO(), ref("b"), 2, noFlags)
	if err != nil || info.EventNr != 3 || m.Now()-start != 90*time.Second {
		t.Fatalf("wait: %+v %v at %v", info, err, m.Now())
	}
	// Nothing will ever raise an event: the wait is interrupted.
	ctx, cancel := m.K.Clock.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, _, err = m.API.DevWait(ctx, ref("b"), 3, noFlags)
	wantErr(t, err, linuxerr.EINTR)
	// An event raised by an inactive table's constructor does not count.
	m.API.TableLoad(ref("b"), []dmsim.TargetSpec{Spec(0, 8, "probe", "event=1")}, noFlags)
	if info, _ := m.API.DevStatus(ref("b"), noFlags); info.EventNr != 3 {
		t.Fatalf("inactive table event counted: %d", info.EventNr)
	}
	// Removal raises one on the live table (seen by a waiter).
	md := m.K.GetMD(info.Dev)
	m.API.DevRemove(ref("b"), noFlags)
	if md.EventNr() != 4 {
		t.Fatalf("event after remove %d", md.EventNr())
	}
}

func TestOpenCountsAndRemove(t *testing.T) {
	m := Boot(t, meta)
	base := m.MustCreate("base", Spec(0, 1024, "linear", "/dev/vda 0"))
	m.K.Mknod("/dev/mapper/base", base.Dev)
	m.MustCreate("top1", Spec(0, 512, "linear", "/dev/mapper/base 0"), Spec(512, 512, "linear", "253:0 512"))
	m.MustCreate("top2", Spec(0, 512, "linear", "/dev/mapper/base 0"))
	info, _ := m.API.DevStatus(ref("base"), noFlags)
	if info.OpenCount != 2 {
		t.Fatalf("base open count %d, want 2 (one per table device)", info.OpenCount)
	}
	// An inactive table of top2 on base does not open it again.
	m.API.TableLoad(ref("top2"), []dmsim.TargetSpec{Spec(0, 100, "linear", "/dev/mapper/base 7")}, noFlags)
	if info, _ := m.API.DevStatus(ref("base"), noFlags); info.OpenCount != 2 {
		t.Fatalf("base open count %d with inactive table", info.OpenCount)
	}
	_, deps, _ := m.API.TableDeps(ref("top1"), noFlags)
	if !reflect.DeepEqual(deps, []dmsim.DevT{base.Dev}) {
		t.Fatalf("deps %v", deps)
	}
	_, err := m.API.DevRemove(ref("base"), noFlags)
	wantErr(t, err, linuxerr.EBUSY)
	// A process open counts too.
	_, release, err := m.K.OpenBdev("/dev/dm-2", dmsim.FModeRead)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := m.API.DevStatus(ref("top2"), noFlags); info.OpenCount != 1 {
		t.Fatalf("top2 open count %d", info.OpenCount)
	}
	_, err = m.API.DevRemove(ref("top2"), noFlags)
	wantErr(t, err, linuxerr.EBUSY)
	// Deferred removal happens at the last close.
	info, err = m.API.DevRemove(ref("top2"), dmsim.IoctlFlags{Deferred: true})
	if err != nil || !info.DeferredRemove {
		t.Fatalf("deferred remove: %+v %v", info, err)
	}
	release()
	m.Settle()
	if _, err := m.API.DevStatus(ref("top2"), noFlags); !errors.Is(err, linuxerr.ENXIO) {
		t.Fatal("deferred removal did not happen")
	}
	m.ExpectLog("<4>device-mapper: ioctl: remove_all left 2 open device(s)")
	if info, _ := m.API.DevStatus(ref("base"), noFlags); info.OpenCount != 1 {
		t.Fatalf("base open count %d after top2 went", info.OpenCount)
	}
	// Exclusive opens and table claims exclude each other.
	_, rel2, err := m.K.OpenBdev("/dev/vda", dmsim.FModeRead|dmsim.FModeExcl)
	if !errors.Is(err, linuxerr.EBUSY) {
		t.Fatalf("exclusive open of a table device: %v", err)
	}
	_ = rel2
	// remove_all removes what it can, dependent devices after their users.
	_, rel3, _ := m.K.OpenBdev("/dev/dm-1", dmsim.FModeRead)
	if err := m.API.RemoveAll(noFlags); err != nil {
		t.Fatal(err)
	}
	m.ExpectLog("<4>device-mapper: ioctl: remove_all left 2 open device(s)")
	rel3()
	m.API.RemoveAll(noFlags)
	m.ExpectLog()
	if l := m.API.ListDevices(); len(l) != 0 {
		t.Fatalf("left %v", l)
	}
	if _, err := m.K.LookupBdev("/dev/dm-0"); !errors.Is(err, linuxerr.ENOENT) {
		t.Fatalf("/dev/dm-0 after removal: %v", err)
	}
	// The /dev/mapper node libdm made is still there, for a gone device.
	if _, err := m.K.LookupBdev("/dev/mapper/base"); !errors.Is(err, linuxerr.ENXIO) {
		t.Fatalf("stale node: %v", err)
	}
	if _, rel4, err := m.K.OpenBdev("/dev/vda", dmsim.FModeRead|dmsim.FModeExcl); err != nil {
		t.Fatalf("exclusive open after removal: %v", err)
	} else {
		rel4()
	}
}

func TestMessages(t *testing.T) {
	m := probeBoot(t, meta)
	m.MustCreate("p", Spec(0, 8, "probe", ""), Spec(8, 8, "linear", "/dev/vda 0"))
	tests := []struct {
		sector uint64
		msg    string
		result string
		err    linuxerr.Errno
		log    []string
	}{
		{0, "echo hello  world", "hello world", 0, nil},
		{7, `echo a\ b`, "a b", 0, nil},
		{0, "fail", "", linuxerr.ENOSPC, nil},
		{0, "   ", "", linuxerr.EINVAL, []string{"<3>device-mapper: ioctl: Empty message received."}},
		{16, "echo", "", linuxerr.EINVAL, []string{"<3>device-mapper: ioctl: Target message sector outside device."}},
		{8, "create_thin 5", "", linuxerr.EINVAL, []string{"<3>device-mapper: ioctl: Target type does not support messages"}},
		// dm_stats_message(): no regions (dmsim keeps none)
		{0, "@stats_list", "", 0, nil},
		{0, "@STATS_LIST prog", "", 0, nil},
		{0, "@stats_list a b", "", linuxerr.EINVAL, nil},
		{0, "@stats_delete 0", "", linuxerr.ENOENT, nil},
		{0, "@stats_clear -1", "", linuxerr.EINVAL, nil},
		{0, "@stats_print 3 - -", "", linuxerr.ENOENT, nil},
		{0, "@stats_create - /1", "", linuxerr.EINVAL, []string{"<3>device-mapper: ioctl: Unsupported message sent to DM core: @stats_create"}},
		{0, "@cancel_deferred_remove x", "", linuxerr.EINVAL, []string{"<3>device-mapper: ioctl: Invalid arguments for @cancel_deferred_remove"}},
		{0, "@cancel_deferred_remove", "", 0, nil},
	}
	for _, tc := range tests {
		_, res, err := m.API.TargetMessage(ref("p"), tc.sector, tc.msg)
		if linuxerr.ToErrno(err) != tc.err || res != tc.result {
			t.Fatalf("message %q: %q %v", tc.msg, res, err)
		}
		m.ExpectLog(tc.log...)
	}
	// No live table (goldens/dmsetup-message.txt).
	m.API.DevCreate("empty", "", noFlags)
	_, _, err := m.API.TargetMessage(ref("empty"), 0, "echo")
	wantErr(t, err, linuxerr.EINVAL)
	m.ExpectLog("<3>device-mapper: ioctl: The device has no table.")
	_, _, err = m.API.TargetMessage(ref("nosuch"), 0, "echo")
	wantErr(t, err, linuxerr.ENXIO)
}

func TestStatusAndTableInactive(t *testing.T) {
	m := probeBoot(t)
	m.MustCreate("s", Spec(0, 8, "probe", ""))
	m.API.TableLoad(ref("s"), []dmsim.TargetSpec{Spec(0, 8, "probe", ""), Spec(8, 8, "probe", "")}, dmsim.IoctlFlags{ReadOnly: true})
	info, st, _ := m.API.TableStatus(ref("s"), dmsim.StatusInfo, dmsim.IoctlFlags{NoFlush: true})
	if info.TargetCount != 1 || len(st) != 1 || st[0].Params != "info noflush=true" {
		t.Fatalf("live: %+v %+v", info, st)
	}
	info, st, _ = m.API.TableStatus(ref("s"), dmsim.StatusTable, dmsim.IoctlFlags{Inactive: true})
	if info.TargetCount != 2 || !info.ReadOnly || len(st) != 2 || st[1].Params != "table" || st[1].Start != 8 {
		t.Fatalf("inactive: %+v %+v", info, st)
	}
	info, _ = m.API.TableClear(ref("s"))
	if info.InactivePresent {
		t.Fatal("clear kept the inactive table")
	}
	if _, st, _ := m.API.TableStatus(ref("s"), dmsim.StatusTable, dmsim.IoctlFlags{Inactive: true}); st != nil {
		t.Fatalf("inactive after clear: %v", st)
	}
	// A read-only table makes the device read-only at resume.
	m.API.TableLoad(ref("s"), []dmsim.TargetSpec{Spec(0, 8, "probe", "")}, dmsim.IoctlFlags{ReadOnly: true})
	info, _ = m.API.DevResume(ref("s"), noFlags)
	if !info.ReadOnly || !m.Bdev("/dev/dm-0").ReadOnly() {
		t.Fatalf("read-only: %+v", info)
	}
	if got, _ := m.K.SysfsRead("/sys/block/dm-0/ro"); got != "1\n" {
		t.Fatalf("ro %q", got)
	}
}
