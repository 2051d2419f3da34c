package thinsync

import (
	"fmt"
	"testing"
)

// FuzzParseManifest: any bytes are refused with an error or give a
// manifest that renders back to a file that parses to the same manifest.
func FuzzParseManifest(f *testing.F) {
	m := NewManifest(5*65536+512, 65536)
	m.Set(1, []byte("one"))
	m.Set(5, []byte("last"))
	good, _ := m.MarshalBinary()
	f.Add(good)
	f.Add(good[:len(good)-1])
	empty, _ := NewManifest(0, 512).MarshalBinary()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		again, _ := m.MarshalBinary()
		m2, err := ParseManifest(again)
		if err != nil || m2.Root() != m.Root() || m2.Size != m.Size || m2.Granule != m.Granule {
			t.Fatalf("accepted a manifest that does not round-trip: %v", err)
		}
	})
}

// FuzzDecodeSlot: any slot decodes to nothing or to a state whose text
// encodes back to the same keys.
func FuzzDecodeSlot(f *testing.F) {
	s := &State{Seq: 7, KV: map[string]string{"phase": "tracking", "pool": "pool", "map_off": "8192"}}
	f.Add(s.encode())
	f.Add(s.encode()[:30])
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := decodeSlot(b)
		if s == nil {
			return
		}
		enc := s.encode()
		if enc == nil {
			return // a text longer than a writer makes: refused by saveState
		}
		s2 := decodeSlot(enc)
		if s2 == nil || s2.Seq != s.Seq || fmt.Sprint(s2.KV) != fmt.Sprint(s.KV) {
			t.Fatalf("slot %q does not round-trip", b)
		}
	})
}

// FuzzParseChain: any chain file is refused or gives consecutive entries,
// a full one first and only first.
func FuzzParseChain(f *testing.F) {
	f.Add([]byte("1 full 101 4194304 ab cd\n2 incremental 102 4194304 ef 01\n"))
	f.Add([]byte("2 incremental 102 4194304 ef 01\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseChain(b)
		if err != nil {
			return
		}
		for i, e := range es {
			if (i == 0) != (e.Kind == "full") || i > 0 && e.Seq != es[i-1].Seq+1 {
				t.Fatalf("accepted %v", es)
			}
		}
	})
}
