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
