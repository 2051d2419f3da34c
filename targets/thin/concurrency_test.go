package thin

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
)

// TestConcurrentSharedIO: eight writers at once, each writing its own
// sector of every block of an origin and two snapshots of it (so every
// block is provisioned or has its sharing broken by racing writers). The
// bio prison must keep two writers from provisioning the same virtual block
// twice: every writer's sector must survive, with the origin's old data
// around it.
func TestConcurrentSharedIO(t *testing.T) {
	const (
		writers = 8
		blocks  = 96 // 0..47 written before the snapshots, 48..95 holes
		shared  = 48
	)
	h, pool, thin, _ := poolSetup(t, 512, 0, "", true)
	orig := func(b uint64) []byte { return bytes.Repeat([]byte{byte(b)}, 65536) }
	for b := uint64(0); b < shared; b++ {
		if err := h.write(thin, b*128, orig(b)); err != nil {
			t.Fatal(err)
		}
	}
	devs := []*dev{thin}
	for id := 1; id <= 2; id++ {
		thin.suspend()
		if err := h.message(pool, fmt.Sprintf("create_snap %d 0", id)); err != nil {
			t.Fatal(err)
		}
		if err := thin.resume(); err != nil {
			t.Fatal(err)
		}
		s, _, err := h.create(fmt.Sprintf("snap%d", id), 1<<21, thinType, fmt.Sprintf("/dev/mapper/pool %d", id))
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, s)
	}
	pattern := func(w, d int, b uint64) []byte {
		return bytes.Repeat([]byte{byte(0x80 + w*16 + d*4 + int(b%4))}, 512)
	}
	var waits []func() error
	for w := 0; w < writers; w++ {
		rng := rand.New(rand.NewSource(int64(w)))
		order := rng.Perm(blocks * len(devs))
		waits = append(waits, h.async(func() error {
			for _, i := range order {
				d, b := i%len(devs), uint64(i/len(devs))
				if err := h.write(devs[d], b*128+uint64(w)*16, pattern(w, d, b)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	for _, wait := range waits {
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}
	for d, dev := range devs {
		for b := uint64(0); b < blocks; b++ {
			got, err := h.read(dev, b*128, 65536)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, 65536)
			if b < shared {
				want = orig(b)
			}
			for w := 0; w < writers; w++ {
				copy(want[w*16*512:], pattern(w, d, b))
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("device %d block %d: wrong contents", d, b)
			}
		}
		if s := h.status(dev); s != "12288 12287" {
			t.Errorf("device %d status %q", d, s)
		}
	}
	// Every device now owns all its blocks; nothing leaked.
	if u := usedData(t, h, pool); u != "288/512" {
		t.Errorf("used %s, want 288/512", u)
	}
}
