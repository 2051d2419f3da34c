package dmsim_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
	"github.com/dmsim/dmsim/linuxerr"
)

// dmIoctl builds a struct dm_ioctl buffer as libdm does: version 4.0.0,
// data_size bytes, data_start 312, the name, and data at data_start.
type dmIoctl struct {
	ver      [3]uint32
	size     int
	flags    uint32
	name     string
	uuid     string
	dev      dmsim.DevT
	targets  uint32
	eventNr  uint32
	data     []byte
	sizeWord int // data_size as written, if not size
}

func (d dmIoctl) bytes() []byte {
	if d.ver == [3]uint32{} {
		d.ver = [3]uint32{4, 0, 0}
	}
	if d.size == 0 {
		d.size = 16384
	}
	b := make([]byte, d.size)
	for i, v := range d.ver {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	ds := d.size
	if d.sizeWord != 0 {
		ds = d.sizeWord
	}
	binary.LittleEndian.PutUint32(b[12:], uint32(ds))
	binary.LittleEndian.PutUint32(b[16:], dmsim.DMIoctlSize)
	binary.LittleEndian.PutUint32(b[20:], d.targets)
	binary.LittleEndian.PutUint32(b[28:], d.flags)
	binary.LittleEndian.PutUint32(b[32:], d.eventNr)
	if d.dev != (dmsim.DevT{}) {
		binary.LittleEndian.PutUint64(b[40:], dmsim.HugeEncodeDev(d.dev))
	}
	copy(b[48:], d.name)
	copy(b[176:], d.uuid)
	copy(b[dmsim.DMIoctlSize:], d.data)
	return b
}

// spec is a struct dm_target_spec and its parameters, next pointing past
// them (8-aligned).
func spec(start, length uint64, typ, params string, last bool) []byte {
	n := (40 + len(params) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, start)
	binary.LittleEndian.PutUint64(b[8:], length)
	if !last {
		binary.LittleEndian.PutUint32(b[20:], uint32(n))
	}
	copy(b[24:40], typ)
	copy(b[40:], params)
	return b
}

func ioc(nr int) uint32 { return 0xc138fd00 | uint32(nr) }

type ctlOut struct {
	b []byte
}

func (o ctlOut) u32(off int) uint32 { return binary.LittleEndian.Uint32(o.b[off:]) }
func (o ctlOut) dev() dmsim.DevT    { return dmsim.HugeDecodeDev(binary.LittleEndian.Uint64(o.b[40:])) }
func (o ctlOut) name() string       { return strings.TrimRight(string(o.b[48:176]), "\x00") }

func TestCtlIoctl(t *testing.T) {
	m := Boot(t, 1<<20)
	ctx := context.Background()
	call := func(nr int, d dmIoctl) (ctlOut, error) {
		out, err := m.K.CtlIoctl(ctx, ioc(nr), d.bytes())
		return ctlOut{out}, err
	}
	type check func(t *testing.T, o ctlOut)
	size := func(n uint32) check {
		return func(t *testing.T, o ctlOut) {
			if len(o.b) < 16 || o.u32(12) != n || len(o.b) != max(int(n), 12) {
				t.Errorf("data_size %d with %d bytes back, want %d", o.u32(12), len(o.b), n)
			}
		}
	}
	flags := func(want uint32) check {
		return func(t *testing.T, o ctlOut) {
			if got := o.u32(28); got != want {
				t.Errorf("flags %#x, want %#x", got, want)
			}
		}
	}
	version := func(t *testing.T, o ctlOut) {
		if len(o.b) < 12 || o.u32(0) != 4 || o.u32(4) != 47 || o.u32(8) != 0 {
			t.Errorf("version not 4.47.0: % x", o.b[:min(12, len(o.b))])
		}
	}
	dev := func(d dmsim.DevT, name string) check {
		return func(t *testing.T, o ctlOut) {
			if o.dev() != d || o.name() != name {
				t.Errorf("dev %v name %q, want %v %q", o.dev(), o.name(), d, name)
			}
		}
	}
	tests := []struct {
		what   string
		nr     int
		in     dmIoctl
		err    linuxerr.Errno
		log    []string
		checks []check
	}{
		{"version", dmsim.DMVersionCmd, dmIoctl{flags: 4}, 0, nil, []check{version, func(t *testing.T, o ctlOut) {
			if len(o.b) != 12 {
				t.Errorf("version wrote %d bytes", len(o.b))
			}
		}}},
		{"newer interface", dmsim.DMListDevicesCmd, dmIoctl{ver: [3]uint32{4, 48, 0}}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: ioctl interface mismatch: kernel(4.47.0), user(4.48.0), cmd(2)"}, []check{version}},
		{"short data size", dmsim.DMDevStatusCmd, dmIoctl{sizeWord: 304, name: "a"}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: Invalid data size in the ioctl structure: 304"}, []check{version}},
		{"unknown command", 18, dmIoctl{}, linuxerr.ENOTTY,
			[]string{"<3>device-mapper: ioctl: dm_ctl_ioctl: unknown command 0xc138fd12"}, nil},
		{"create without a name", dmsim.DMDevCreateCmd, dmIoctl{}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: name not supplied when creating device"}, nil},
		{"name and uuid", dmsim.DMDevStatusCmd, dmIoctl{name: "a", uuid: "u"}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: only supply one of name or uuid, cmd(7)"}, nil},
		{"create", dmsim.DMDevCreateCmd, dmIoctl{name: "a", flags: 4 | dmsim.DMInactivePresentFlag}, 0, nil,
			[]check{size(305), flags(4), dev(dmsim.DevT{Major: 253}, "a")}},
		{"load by number", dmsim.DMTableLoadCmd, dmIoctl{dev: dmsim.DevT{Major: 253}, flags: 4 | dmsim.DMPersistentDevFlag, targets: 2,
			data: append(spec(0, 8, "zero", "", false), spec(8, 8, "linear", "/dev/vda 0", true)...)}, 0, nil,
			[]check{size(305), flags(4 | dmsim.DMPersistentDevFlag | dmsim.DMInactivePresentFlag), dev(dmsim.DevT{Major: 253}, "a")}},
		{"load with a bad next", dmsim.DMTableLoadCmd, dmIoctl{name: "a", targets: 2,
			data: badNext(spec(0, 8, "zero", "", false))}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: unable to find target"}, nil},
		{"resume", dmsim.DMDevSuspendCmd, dmIoctl{name: "a", flags: 4}, 0, nil,
			[]check{size(305), flags(4 | dmsim.DMActivePresentFlag | dmsim.DMUeventGeneratedFlag)}},
		{"status, room for one target", dmsim.DMTableStatusCmd, dmIoctl{name: "a", size: 312 + 48 + 1, flags: dmsim.DMStatusTableFlag}, 0, nil,
			[]check{size(312 + 41), flags(dmsim.DMStatusTableFlag | dmsim.DMActivePresentFlag | dmsim.DMBufferFullFlag), func(t *testing.T, o ctlOut) {
				if o.u32(20) != 2 || string(o.b[312+24:312+28]) != "zero" {
					t.Errorf("target_count %d, first spec % x", o.u32(20), o.b[312:])
				}
			}}},
		{"table", dmsim.DMTableStatusCmd, dmIoctl{name: "a", flags: dmsim.DMStatusTableFlag}, 0, nil,
			[]check{size(312 + 48 + 40 + len32("254:0 0") + 1), func(t *testing.T, o ctlOut) {
				if next := binary.LittleEndian.Uint32(o.b[312+20:]); next != 48 || string(o.b[312+48+40:312+48+40+7]) != "254:0 0" {
					t.Errorf("next %d, table % q", next, o.b[312:])
				}
			}}},
		{"deps", dmsim.DMTableDepsCmd, dmIoctl{name: "a"}, 0, nil, []check{size(312 + 16), func(t *testing.T, o ctlOut) {
			if o.u32(312) != 1 || dmsim.HugeDecodeDev(binary.LittleEndian.Uint64(o.b[320:])) != (dmsim.DevT{Major: 254}) {
				t.Errorf("deps % x", o.b[312:])
			}
		}}},
		{"list, too small", dmsim.DMListDevicesCmd, dmIoctl{size: 312 + 8}, 0, nil, []check{size(305), flags(dmsim.DMBufferFullFlag)}},
		{"list", dmsim.DMListDevicesCmd, dmIoctl{flags: dmsim.DMUUIDFlag}, 0, nil, []check{size(312 + 16 + 8), func(t *testing.T, o ctlOut) {
			if string(o.b[324:326]) != "a\x00" || o.u32(328) != 0 || o.u32(332) != 2 {
				t.Errorf("list % x", o.b[312:])
			}
		}}},
		{"stats list", dmsim.DMTargetMsgCmd, dmIoctl{name: "a", data: append(make([]byte, 8), "@stats_list\x00"...)}, 0, nil,
			[]check{size(313), flags(dmsim.DMActivePresentFlag | dmsim.DMDataOutFlag)}},
		{"message outside the buffer", dmsim.DMTargetMsgCmd, dmIoctl{name: "a", size: 316}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: Invalid target message parameters."}, nil},
		{"rename", dmsim.DMDevRenameCmd, dmIoctl{name: "a", data: []byte("b\x00")}, 0, nil,
			[]check{size(305), dev(dmsim.DevT{Major: 253}, "a"), flags(dmsim.DMActivePresentFlag | dmsim.DMUeventGeneratedFlag)}},
		{"geometry", dmsim.DMDevSetGeometryCmd, dmIoctl{name: "b", data: []byte("1 2 3 4\x00")}, 0, nil, []check{version, func(t *testing.T, o ctlOut) {
			if len(o.b) != 12 {
				t.Errorf("set_geometry copied %d bytes back", len(o.b))
			}
		}}},
		{"bad geometry", dmsim.DMDevSetGeometryCmd, dmIoctl{name: "b", data: []byte("1 2 3 4 \x00")}, linuxerr.EINVAL,
			[]string{"<3>device-mapper: ioctl: Unable to interpret geometry settings."}, nil},
		{"secure data", dmsim.DMDevStatusCmd, dmIoctl{name: "nosuch", size: 400, flags: dmsim.DMSecureDataFlag}, linuxerr.ENXIO, nil,
			[]check{func(t *testing.T, o ctlOut) {
				if len(o.b) != 400 || strings.Trim(string(o.b), "\x00") != "" {
					t.Errorf("secure buffer not wiped: %d bytes", len(o.b))
				}
			}}},
		{"target version", dmsim.DMGetTargetVersionCmd, dmIoctl{name: "zero"}, 0, nil, []check{size(312 + 16 + 5 + 7), func(t *testing.T, o ctlOut) {
			if string(o.b[328:332]) != "zero" {
				t.Errorf("target version % x", o.b[312:])
			}
		}}},
		{"remove", dmsim.DMDevRemoveCmd, dmIoctl{name: "b"}, 0, nil, []check{size(305), flags(dmsim.DMUeventGeneratedFlag), dev(dmsim.DevT{}, "b")}},
		{"remove all", dmsim.DMRemoveAllCmd, dmIoctl{}, 0, nil, []check{version, func(t *testing.T, o ctlOut) {
			if len(o.b) != 12 {
				t.Errorf("remove_all copied %d bytes back", len(o.b))
			}
		}}},
	}
	for _, tc := range tests {
		o, err := call(tc.nr, tc.in)
		if linuxerr.ToErrno(err) != tc.err {
			t.Fatalf("%s: err %v, want %v", tc.what, err, tc.err)
		}
		m.ExpectLog(tc.log...)
		for _, c := range tc.checks {
			c(t, o)
		}
		if t.Failed() {
			t.Fatalf("%s failed", tc.what)
		}
	}
}

// badNext points a spec's next back into itself.
func badNext(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[20:], 8)
	return b
}

func len32(s string) uint32 { return uint32(len(s)) }

// FuzzCtlIoctl feeds arbitrary buffers to every command: errors are
// errnos, never a panic, and nothing goes back past the caller's buffer.
func FuzzCtlIoctl(f *testing.F) {
	f.Add(byte(dmsim.DMTableLoadCmd), dmIoctl{name: "a", targets: 1, data: spec(0, 8, "zero", "", true)}.bytes())
	f.Add(byte(dmsim.DMListDevicesCmd), dmIoctl{size: 400}.bytes())
	f.Add(byte(dmsim.DMTargetMsgCmd), dmIoctl{name: "a", data: append(make([]byte, 8), "@stats_list\x00"...)}.bytes())
	f.Add(byte(dmsim.DMDevRenameCmd), dmIoctl{name: "a", size: 320, data: []byte("b\x00")}.bytes())
	m := Boot(f, 1<<20)
	m.MustCreate("a", Spec(0, 8, "linear", "/dev/vda 0"))
	f.Fuzz(func(t *testing.T, nr byte, b []byte) {
		if nr == dmsim.DMDevWaitCmd {
			nr = dmsim.DMDevStatusCmd // a wait would wait
		}
		out, err := m.K.CtlIoctl(context.Background(), ioc(int(nr%20)), b)
		if err != nil {
			if _, ok := err.(linuxerr.Errno); !ok {
				t.Fatalf("error %v (%T) is not an errno", err, err)
			}
		}
		if len(out) > max(len(b), 12) {
			t.Fatalf("%d bytes back from a %d-byte buffer", len(out), len(b))
		}
		m.Log()
	})
}
