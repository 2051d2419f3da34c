package thinsync_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all"
	_ "github.com/dmsim/dmsim/thinsync/simcmd"
	_ "github.com/dmsim/dmsim/thintools"
)

// machine boots a dmsim machine with two pools (64 KiB blocks).
func machine(t testing.TB, extra ...script.Disk) *script.Machine {
	t.Helper()
	disks := append([]script.Disk{{Name: "meta", Size: 4 << 20}, {Name: "data", Size: 64 << 20},
		{Name: "meta2", Size: 4 << 20}, {Name: "data2", Size: 64 << 20}}, extra...)
	m, err := script.NewMachine(script.Config{Disks: disks, CommandTime: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	run(t, m, `dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"`,
		`dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
		`dmsetup message pool 0 "create_thin 0"`)
	return m
}

func run(t testing.TB, m *script.Machine, lines ...string) string {
	t.Helper()
	var out strings.Builder
	for _, l := range lines {
		r, err := m.Run(l)
		if err != nil {
			t.Fatalf("%v\nstderr: %s", err, r.Stderr)
		}
		out.Write(r.Stdout)
	}
	return out.String()
}

func md5of(t testing.TB, m *script.Machine, dev string) string {
	t.Helper()
	f := strings.Fields(run(t, m, "md5sum "+dev))
	return f[0]
}

// TestPropertyChains: random workloads (writes of random sizes and
// offsets, overwrites, discards, shrinks and grows) on a thin, snapshotted
// after each round; each snapshot is sent incrementally from the previous
// one and received as a snapshot of the previous received thin. Every
// received thin reads the md5 of its source snapshot.
func TestPropertyChains(t *testing.T) {
	if testing.Short() {
		t.Skip("boots machines")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			m := machine(t)
			r := rand.New(rand.NewPCG(seed, 99))
			size := 8192 // sectors
			run(t, m, fmt.Sprintf(`dmsetup create thin --table "0 %d thin /dev/mapper/pool 0"`, size))
			prevSize := 0
			for round := 1; round <= 4; round++ {
				for op := 0; op < 6; op++ {
					switch k := r.IntN(10); {
					case k < 6: // a write, any alignment of sectors
						n := 1 + r.IntN(300)
						off := r.IntN(size - n)
						run(t, m, fmt.Sprintf("yes %d%d | head -c %d | dd of=/dev/mapper/thin bs=512 seek=%d oflag=direct status=none",
							round, op, n*512, off))
					case k < 8: // a discard (whole blocks unmap, parts do nothing)
						n := 1 + r.IntN(400)
						off := r.IntN(size - n)
						run(t, m, fmt.Sprintf("blkdiscard -o %d -l %d /dev/mapper/thin", off*512, n*512))
					default: // resize
						size = 2048 * (1 + r.IntN(6))
						run(t, m, fmt.Sprintf(`dmsetup load thin --table "0 %d thin /dev/mapper/pool 0"`, size),
							"dmsetup resume thin")
					}
				}
				run(t, m, "dmsetup suspend thin", fmt.Sprintf(`dmsetup message pool 0 "create_snap %d 0"`, round), "dmsetup resume thin")
				send := fmt.Sprintf("thinsync send --pool pool --id %d --size %d", round, size)
				recv := fmt.Sprintf("thinsync recv --pool pool2 --id %d", round)
				if seed > 1 { // the manifests spare reading unchanged granules
					send += " --manifests /tmp"
					recv += " --manifests /tmp"
				}
				if round > 1 {
					send += fmt.Sprintf(" --base %d --base-size %d", round-1, prevSize)
					recv += fmt.Sprintf(" --base %d", round-1)
				}
				run(t, m, send+" | "+recv)
				want := md5of(t, m, "/dev/mapper/thin")
				run(t, m, fmt.Sprintf(`dmsetup create r --readonly --table "0 %d thin /dev/mapper/pool2 %d"`, size, round))
				if got := md5of(t, m, "/dev/mapper/r"); got != want {
					t.Fatalf("round %d: received md5 %s, source %s", round, got, want)
				}
				run(t, m, "dmsetup remove r")
				prevSize = size
			}
			st := run(t, m, "dmsetup status pool")
			if f := strings.Fields(st); len(f) < 7 || f[6] != "-" {
				t.Errorf("held root left: %s", st)
			}
		})
	}
}

// stderrOf runs a line and returns its standard error.
func stderrOf(t testing.TB, m *script.Machine, line string) string {
	t.Helper()
	r, err := m.Run(line)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(r.Stderr)
}

func mappedBlocks(t testing.TB, m *script.Machine, pool string) int {
	t.Helper()
	f := strings.Fields(run(t, m, "dmsetup status "+pool))
	var used int
	fmt.Sscanf(f[5], "%d/", &used)
	return used
}

// TestEfficiency: an incremental with the base's manifest reads exactly the
// changed blocks; received thins stay sparse; a `yes` volume's stream is
// under 1 % of the changed bytes; incompressible data costs under 0.1 %.
func TestEfficiency(t *testing.T) {
	m := machine(t)
	run(t, m, `dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"`,
		"yes | head -c 8388608 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin")
	full := stderrOf(t, m, "thinsync send --pool pool --id 1 --size 32768 --manifests /tmp -o /tmp/s1")
	size := strings.Fields(run(t, m, "wc -c /tmp/s1"))[0]
	var n int
	fmt.Sscan(size, &n)
	if n*100 >= 8388608 {
		t.Errorf("yes stream of %d bytes for 8 MiB (%s)", n, full)
	}
	run(t, m, "thinsync recv --pool pool2 --id 1 --manifests /tmp -i /tmp/s1")
	// 5 blocks overwritten (the last one twice), 2 discarded, 1 new beyond the data.
	run(t, m, "head -c 327680 /dev/urandom | dd of=/dev/mapper/thin bs=64K seek=3 oflag=direct status=none",
		"yes x | head -c 512 | dd of=/dev/mapper/thin bs=512 seek=1000 oflag=direct status=none",
		"blkdiscard -o 2097152 -l 131072 /dev/mapper/thin",
		"yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=200 oflag=direct status=none",
		"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 2 0"`, "dmsetup resume thin")
	inc := stderrOf(t, m, "thinsync send --pool pool --id 2 --base 1 --size 32768 --manifests /tmp --compress zstd -o /tmp/s2")
	// different: 3..7 (sector 1000 is in block 7), right_only: 200.
	if want := fmt.Sprintf("read %d changed bytes + 0 for roots", 6*65536); !strings.Contains(inc, want) {
		t.Errorf("incremental: %q does not say %q", inc, want)
	}
	// 5 random blocks: stored raw, 32 bytes of header each, plus BEGIN/END.
	var data, stored int
	fmt.Sscanf(inc[strings.Index(inc, "DATA records (")+len("DATA records ("):], "%d bytes, %d stored", &data, &stored)
	if stored > data || data != 6*65536 {
		t.Errorf("incremental %q", inc)
	}
	sz := strings.Fields(run(t, m, "wc -c /tmp/s2"))[0]
	fmt.Sscan(sz, &n)
	if float64(n-stored) > 0.001*5*65536+1024 { // headers and the small records
		t.Errorf("stream of %d bytes for %d stored", n, stored)
	}
	before := mappedBlocks(t, m, "pool2")
	run(t, m, "thinsync recv --pool pool2 --id 2 --base 1 --manifests /tmp -i /tmp/s2")
	// Sharing kept: only the changed blocks are new (6 written, the discarded ones unmapped in 2 only).
	if got := mappedBlocks(t, m, "pool2") - before; got != 6 {
		t.Errorf("receive mapped %d new blocks, want 6", got)
	}
	run(t, m, `dmsetup create r --readonly --table "0 32768 thin /dev/mapper/pool2 2"`)
	if a, b := md5of(t, m, "/dev/mapper/r"), md5of(t, m, "/dev/mapper/thin"); a != b {
		t.Errorf("md5 %s, source %s", a, b)
	}
}

// TestRecvFlush: a receive followed by a power cut loses nothing; one
// without its final fsync (the test hook --no-flush, as thin-send-recv's
// receiver) loses the provisioning the pool had not committed yet.
func TestRecvFlush(t *testing.T) {
	for _, tc := range []struct {
		flag string
		lost bool
	}{{"", false}, {" --no-flush --verify none", true}} {
		t.Run(fmt.Sprint(tc.lost), func(t *testing.T) {
			m := machine(t)
			run(t, m, `dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"`,
				"seq 1 200000 | head -c 1048576 | dd of=/dev/mapper/thin bs=64K oflag=direct status=none",
				"dmsetup suspend thin", `dmsetup message pool 0 "create_snap 1 0"`, "dmsetup resume thin",
				"thinsync send --pool pool --id 1 --size 8192 -o /tmp/s",
				"thinsync recv --pool pool2 --id 1 -i /tmp/s"+tc.flag)
			want := md5of(t, m, "/dev/mapper/thin")
			if err := m.Reboot(); err != nil {
				t.Fatal(err)
			}
			run(t, m, `dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"`,
				`dmsetup create r --readonly --table "0 8192 thin /dev/mapper/pool2 1"`)
			if got := md5of(t, m, "/dev/mapper/r"); (got != want) != tc.lost {
				t.Errorf("after the power cut: md5 %s, source %s; want lost=%v", got, want, tc.lost)
			}
		})
	}
}
