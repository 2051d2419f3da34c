package dmsetup

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/userland"
)

// The name mangling of libdm-common.c (mangle_string, unmangle_string) as
// the mangled_* and unmangled_* report fields use it.
func TestMangling(t *testing.T) {
	cases := []struct {
		mode, in        string
		mangled         string
		mangledErr      string
		unmangled       string
		unmangledErr    string
		unmangledIsSame bool
	}{
		{mode: "auto", in: "plain-name_1.2:3#+=@", mangled: "plain-name_1.2:3#+=@", unmangled: "plain-name_1.2:3#+=@"},
		{mode: "auto", in: "", mangled: "", unmangled: ""},
		{mode: "auto", in: "a b", mangled: `a\x20b`,
			unmangledErr: "The name \"a b\" should be mangled but it contains blacklisted characters.\n"},
		{mode: "none", in: "a b", mangled: `a\x20b`, unmangled: "a b"},
		{mode: "auto", in: `a\x20b`, mangled: `a\x20b`, unmangled: "a b"},
		{mode: "auto", in: `a\x20 b`,
			mangledErr:   "The name \"a\\x20 b\" contains mixed mangled and unmangled characters or it's already mangled improperly.\n",
			unmangledErr: "The name \"a\\x20 b\" should be mangled but it contains blacklisted characters.\n"},
		{mode: "auto", in: `a b\x20`,
			mangledErr:   "The name \"a b\\x20\" contains mixed mangled and unmangled characters or it's already mangled improperly.\n",
			unmangledErr: "The name \"a b\\x20\" should be mangled but it contains blacklisted characters.\n"},
		{mode: "auto", in: `ab\x2`,
			mangledErr: "The name \"ab\\x2\" contains mixed mangled and unmangled characters or it's already mangled improperly.\n",
			unmangled:  "ab\x02"},
		{mode: "hex", in: `a\x20b`, mangled: `a\x5cx20b`, unmangled: "a b"},
		{mode: "auto", in: `x\xzz`, mangled: `x\xzz`, unmangled: `x\xzz`},
		{mode: "auto", in: `\x41\xzz`, mangled: `\x41\xzz`, unmangled: "A"},
	}
	for _, c := range cases {
		var errb bytes.Buffer
		d := &cmdCtx{p: &userland.Proc{Stderr: &errb}, strArg: map[optID]string{optMangleName: c.mode}}
		got, ok := d.mangled(c.in, "name", dmNameLen)
		if errb.String() != c.mangledErr || ok != (c.mangledErr == "") || ok && got != c.mangled {
			t.Errorf("%s mangled(%q) = %q, %v, stderr %q; want %q, %q", c.mode, c.in, got, ok, errb.String(), c.mangled, c.mangledErr)
		}
		errb.Reset()
		got, ok = d.unmangled(c.in, "name")
		if errb.String() != c.unmangledErr || ok != (c.unmangledErr == "") || ok && got != c.unmangled {
			t.Errorf("%s unmangled(%q) = %q, %v, stderr %q; want %q, %q", c.mode, c.in, got, ok, errb.String(), c.unmangled, c.unmangledErr)
		}
	}
}

func TestMangledTooLong(t *testing.T) {
	var errb bytes.Buffer
	d := &cmdCtx{p: &userland.Proc{Stderr: &errb}, strArg: map[optID]string{}}
	long := bytes.Repeat([]byte(" "), 40)
	if _, ok := d.mangled(string(long), "name", dmNameLen); ok {
		t.Fatal("40 spaces mangle to 160 bytes, more than DM_NAME_LEN")
	}
	if want := "Mangled form of the name too long for \"" + string(long) + "\".\n"; errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

// dm_split_lvm_name as dmsetup's vg_name, lv_name and lv_layer show it.
func TestSplitLVMName(t *testing.T) {
	cases := []struct{ in, vg, lv, layer string }{
		{"vg-lv-layer", "vg", "lv", "layer"},
		{"a--b-c--d-e-f", "a-b", "c-d", "e"},
		{"x-", "x-", "", ""},
		{"a---b", "a-", "b", ""},
		{"plain", "plain", "", ""},
		{"vg0-lv--x-real", "vg0", "lv-x", "real"},
		{"-y", "", "y", ""},
	}
	for _, c := range cases {
		vg, lv, layer := splitLVMName(c.in)
		if vg != c.vg || lv != c.lv || layer != c.layer {
			t.Errorf("splitLVMName(%q) = %q %q %q, want %q %q %q", c.in, vg, lv, layer, c.vg, c.lv, c.layer)
		}
	}
}

// dm_task_set_uuid: 128 characters fit DM_UUID_LEN; 129 fail in any mode
// but none, which leaves the length to the kernel.
func TestSetUUIDLength(t *testing.T) {
	u128 := strings.Repeat("u", 128)
	cases := []struct {
		mode, uuid, err string
	}{
		{"auto", u128, ""},
		{"auto", u128 + "v", "Mangled form of the UUID too long for \"" + u128 + "v\".\nFailed to mangle device uuid \"" + u128 + "v\".\n"},
		{"hex", u128 + "v", "Mangled form of the UUID too long for \"" + u128 + "v\".\nFailed to mangle device uuid \"" + u128 + "v\".\n"},
		{"none", u128 + "v", ""},
	}
	for _, c := range cases {
		var errb bytes.Buffer
		d := &cmdCtx{p: &userland.Proc{Stderr: &errb}, strArg: map[optID]string{optMangleName: c.mode}}
		tk := d.newTask(tCreate)
		ok := tk.setUUID(c.uuid)
		if ok != (c.err == "") || errb.String() != c.err || ok && tk.uuid != c.uuid {
			t.Errorf("%s setUUID(%d chars) = %v, stderr %q; want %q", c.mode, len(c.uuid), ok, errb.String(), c.err)
		}
	}
}
