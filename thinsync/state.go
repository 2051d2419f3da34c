package thinsync

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"

	"github.com/dmsim/dmsim/linuxerr"
)

// Receive state: two 4 KiB slots at offsets 0 and 4096 of a file or block
// device. Each slot: "THNSTATE", sequence u64, CRC-32C u32 of the text,
// text length u32, then key=value lines. The valid slot with the higher
// sequence wins; a write goes to the other slot and is synced, so a power
// cut during it leaves the previous state.
const (
	stateMagic = "THNSTATE"
	slotSize   = 4096
)

// State is one receive's persistent state.
type State struct {
	Seq  uint64
	KV   map[string]string
	slot int
}

func (s *State) get(k string) string { return s.KV[k] }

func (s *State) num(k string) uint64 {
	n, _ := strconv.ParseUint(s.KV[k], 10, 64)
	return n
}

// encode renders the slot; nil when its text does not fit.
func (s *State) encode() []byte {
	keys := make([]string, 0, len(s.KV))
	for k := range s.KV {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var text bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&text, "%s=%s\n", k, s.KV[k])
	}
	if text.Len() > slotSize-24 {
		return nil
	}
	b := alignedBuf(slotSize)
	copy(b, stateMagic)
	binary.LittleEndian.PutUint64(b[8:], s.Seq)
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(text.Bytes(), castagnoli))
	binary.LittleEndian.PutUint32(b[20:], uint32(text.Len()))
	copy(b[24:], text.Bytes())
	return b
}

func decodeSlot(b []byte) *State {
	if len(b) < 24 || string(b[:8]) != stateMagic {
		return nil
	}
	n := binary.LittleEndian.Uint32(b[20:])
	if int(n) > len(b)-24 {
		return nil
	}
	text := b[24 : 24+n]
	if crc32.Checksum(text, castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return nil
	}
	s := &State{Seq: binary.LittleEndian.Uint64(b[8:]), KV: map[string]string{}}
	for _, line := range strings.Split(string(text), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			s.KV[k] = v
		}
	}
	return s
}

// loadState reads the newest valid slot; nil when there is none.
func (t *tool) loadState(name string) (*State, error) {
	f, err := t.sys.Open(name, ORead)
	if err != nil {
		return nil, fail(ExitState, "state %s: %s", name, errText(err))
	}
	defer f.Close()
	b := make([]byte, 2*slotSize)
	n, _ := f.ReadAt(b, 0)
	var best *State
	for i := 0; i < 2; i++ {
		if n < (i+1)*slotSize {
			break
		}
		if s := decodeSlot(b[i*slotSize : (i+1)*slotSize]); s != nil && (best == nil || s.Seq > best.Seq) {
			s.slot = i
			best = s
		}
	}
	return best, nil
}

// loadStateIfAny is loadState for a state that may not exist yet.
func (t *tool) loadStateIfAny(name string) (*State, error) {
	if f, err := t.sys.Open(name, ORead); err != nil && linuxerr.ToErrno(err) == linuxerr.ENOENT {
		return nil, nil
	} else if err == nil {
		f.Close()
	}
	return t.loadState(name)
}

// saveState writes s into the slot after prev's and syncs it.
func (t *tool) saveState(name string, prev, s *State) error {
	s.Seq, s.slot = 1, 0
	if prev != nil {
		s.Seq, s.slot = prev.Seq+1, 1-prev.slot
	}
	b := s.encode()
	if b == nil {
		return fail(ExitState, "state %s: the state does not fit in a slot", name)
	}
	return t.writeSynced(name, b, int64(s.slot*slotSize))
}

// writeSynced writes b at off of a state file (created if need be) or
// device and syncs it.
func (t *tool) writeSynced(name string, b []byte, off int64) error {
	flag := ORdWr
	if !t.sys.IsDevice(name) {
		flag |= OCreate
	}
	f, err := t.sys.Open(name, flag)
	if err != nil {
		return fail(ExitState, "state %s: %s", name, errText(err))
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		return fail(ExitState, "state %s: %s", name, errText(err))
	}
	if err := f.Sync(); err != nil {
		return fail(ExitState, "state %s: %s", name, errText(err))
	}
	return nil
}

// ParseState returns the newest valid state in the first 8 KiB of a state
// file or device (nil when there is none), for tools and tests.
func ParseState(b []byte) map[string]string {
	var best *State
	for i := 0; i < 2 && len(b) >= (i+1)*slotSize; i++ {
		if s := decodeSlot(b[i*slotSize : (i+1)*slotSize]); s != nil && (best == nil || s.Seq > best.Seq) {
			best = s
		}
	}
	if best == nil {
		return nil
	}
	return best.KV
}
