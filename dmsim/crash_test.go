package dmsim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	. "github.com/dmsim/dmsim/dmsim/dmsimtest"
)

// crashSectors is the size of the disks of the crash tests: images are
// written as one character per sector, '.' for zeros.
const crashSectors = 4

// render is an image as one character per sector: the sector's first byte,
// '.' for zero; '?' for a sector whose bytes are not all the same.
func render(img []byte) string {
	var sb strings.Builder
	for s := 0; s < crashSectors; s++ {
		sec := img[s*dmsim.SectorSize : (s+1)*dmsim.SectorSize]
		switch {
		case !bytes.Equal(sec, Pattern(sec[0], dmsim.SectorSize)):
			sb.WriteByte('?')
		case sec[0] == 0:
			sb.WriteByte('.')
		default:
			sb.WriteByte(sec[0])
		}
	}
	return sb.String()
}

// runSteps runs a bio sequence on /dev/vda: "W1:ab" writes 'a' to sector 1
// and 'b' to sector 2; "U1:ab" the same with REQ_FUA; "P1:ab" with
// REQ_PREFLUSH; "D0+2" discards sectors 0-1; "F" is an empty flush.
func runSteps(t *testing.T, m *Env, steps string) {
	t.Helper()
	vda := m.Bdev("/dev/vda")
	for _, st := range strings.Fields(steps) {
		var bio *dmsim.Bio
		switch st[0] {
		case 'F':
			bio = dmsim.NewBio(dmsim.OpFlush, vda, 0, nil, nil)
			bio.Flags = dmsim.ReqPreflush
		case 'D':
			s, n, _ := strings.Cut(st[1:], "+")
			sec, _ := strconv.Atoi(s)
			cnt, _ := strconv.Atoi(n)
			bio = dmsim.NewBio(dmsim.OpDiscard, vda, uint64(sec), nil, nil)
			bio.Sectors = uint64(cnt)
		case 'W', 'U', 'P':
			s, chars, _ := strings.Cut(st[1:], ":")
			sec, _ := strconv.Atoi(s)
			var data []byte
			for _, c := range []byte(chars) {
				data = append(data, Pattern(c, dmsim.SectorSize)...)
			}
			bio = dmsim.NewBio(dmsim.OpWrite, vda, uint64(sec), data, nil)
			bio.Flags = map[byte]dmsim.BioFlags{'U': dmsim.ReqFUA, 'P': dmsim.ReqPreflush}[st[0]]
		default:
			t.Fatalf("bad step %q", st)
		}
		if err := dmsim.SubmitWait(context.Background(), m.K.Clock, bio); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
}

// TestCrashStates: the exact set of durable images a crash may leave after
// small bio sequences, for each crash model; and the image a power cut
// (Halt) leaves on a disk with a volatile cache is one of them.
func TestCrashStates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		init      string // the image before the log starts ("" = zeros)
		steps     string
		mode      dmsim.CrashMode
		allPoints bool
		nativeFUA bool
		states    int      // states yielded
		want      []string // distinct images, sorted
	}{
		// The example: a flush makes a+b durable, c may be lost.
		{name: "issue example subset", steps: "W0:a W1:b F W2:c", mode: dmsim.CrashSubset,
			states: 2, want: []string{"ab..", "abc."}},
		{name: "issue example prefix", steps: "W0:a W1:b F W2:c", mode: dmsim.CrashPrefix,
			states: 2, want: []string{"ab..", "abc."}},
		{name: "subset of an epoch", steps: "W0:a W1:b W2:c", mode: dmsim.CrashSubset,
			states: 8, want: []string{"....", "..c.", ".b..", ".bc.", "a...", "a.c.", "ab..", "abc."}},
		{name: "prefix of an epoch", steps: "W0:a W1:b W2:c", mode: dmsim.CrashPrefix,
			states: 4, want: []string{"....", "a...", "ab..", "abc."}},
		// A later write to a sector always wins over an earlier one.
		{name: "overwrite", steps: "W0:a W0:b", mode: dmsim.CrashSubset,
			states: 4, want: []string{"....", "a...", "b..."}},
		{name: "ends with a flush", steps: "W0:a F", mode: dmsim.CrashSubset,
			states: 1, want: []string{"a..."}},
		{name: "empty flushes", steps: "F F W0:a", mode: dmsim.CrashSubset,
			states: 2, want: []string{"....", "a..."}},
		// virtio: FUA is a write and a post-flush, so it makes a durable too.
		{name: "FUA on virtio", steps: "W0:a U1:b W2:c", mode: dmsim.CrashSubset,
			states: 2, want: []string{"ab..", "abc."}},
		// Native FUA: b alone is durable; a and c may each be lost.
		{name: "native FUA", steps: "W0:a U1:b W2:c", mode: dmsim.CrashSubset, nativeFUA: true,
			states: 4, want: []string{".b..", ".bc.", "ab..", "abc."}},
		{name: "preflush write", steps: "W0:a P1:b", mode: dmsim.CrashSubset,
			states: 2, want: []string{"a...", "ab.."}},
		{name: "discard zeroes", steps: "W0:ab F D0+1", mode: dmsim.CrashSubset,
			states: 2, want: []string{".b..", "ab.."}},
		{name: "discard after a write in the epoch", steps: "W1:x D1+1", mode: dmsim.CrashSubset,
			init: "zzzz", states: 4, want: []string{"z.zz", "zxzz", "zzzz"}},
		// Torn: a 3-sector write keeps its first 1 or 2 sectors, or its last
		// 2 or 1, and never tears inside a sector.
		{name: "torn write", steps: "F W0:abc", mode: dmsim.CrashTorn,
			states: 6, want: []string{"....", "..c.", ".bc.", "a...", "ab..", "abc."}},
		{name: "torn after a write", steps: "W3:z W0:ab", mode: dmsim.CrashTorn,
			states: 5, want: []string{"....", "...z", ".b.z", "a..z", "ab.z"}},
		{name: "torn keeps the base", steps: "W1:ab", mode: dmsim.CrashTorn, init: "wxyz",
			states: 4, want: []string{"wabz", "wayz", "wxbz", "wxyz"}},
		// Every crash point: before each flush completes, then at the end.
		{name: "all points subset", steps: "W0:a W1:b F W2:c F W3:d", mode: dmsim.CrashSubset, allPoints: true,
			states: 6, want: []string{"....", ".b..", "a...", "ab..", "abc.", "abcd"}},
		{name: "all points prefix", steps: "W0:a W1:b F W2:c F W3:d", mode: dmsim.CrashPrefix, allPoints: true,
			states: 5, want: []string{"....", "a...", "ab..", "abc.", "abcd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.img")
			img := make([]byte, crashSectors*dmsim.SectorSize)
			for i, c := range []byte(tc.init) {
				if c != '.' {
					copy(img[i*dmsim.SectorSize:], Pattern(c, dmsim.SectorSize))
				}
			}
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{{Path: path, Size: int64(len(img)),
				VolatileCache: true, NativeFUA: tc.nativeFUA, BioLog: true}}})
			runSteps(t, m, tc.steps)
			disk := m.Disk("/dev/vda")
			n := 0
			var got []string
			for st := range disk.CrashStates(dmsim.CrashOptions{Mode: tc.mode, AllPoints: tc.allPoints}) {
				n++
				got = append(got, render(st.Image().Bytes()))
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tc.want) || n != tc.states {
				t.Errorf("%d states %q\nwant %d states %q\nlog %s", n, got, tc.states, tc.want, dmsim.FormatBioLog(disk.BioLog(), true))
			}
			// A power cut keeps none of the last epoch: one of the states.
			m.K.Halt()
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if r := render(after); !slices.Contains(tc.want, r) {
				t.Errorf("image after the power cut %q is not a crash state", r)
			}
			// The base stays the image before the log, though the file changed.
			var again []string
			for st := range disk.CrashStates(dmsim.CrashOptions{Mode: tc.mode, AllPoints: tc.allPoints}) {
				again = append(again, render(st.Image().Bytes()))
			}
			slices.Sort(again)
			if again = slices.Compact(again); !slices.Equal(again, got) {
				t.Errorf("after the power cut %q, before %q", again, got)
			}
		})
	}
}

// TestBioLog: the log keeps every bio the disk executed, in order, with
// FUA and PREFLUSH as submitted and a hash of the data; Disk.Flush is an
// empty flush bio like any other.
func TestBioLog(t *testing.T) {
	m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{{Size: 1 << 20, BioLog: true}, {Size: 1 << 20}}})
	runSteps(t, m, "W0:ab U2:c P3:d D1+2 F")
	m.Read("/dev/vda", 0, 512)
	if err := m.Disk("/dev/vda").Flush(); err != nil {
		t.Fatal(err)
	}
	m.Write("/dev/vdb", 0, Pattern('q', 512))
	log := m.Disk("/dev/vda").BioLog()
	if got, want := dmsim.FormatBioLog(log, true), "W0+2 W2+1 FUA W3+1 PREFLUSH D1+2 F R0+1 F"; got != want {
		t.Errorf("log %q, want %q", got, want)
	}
	for i, r := range log {
		if r.Seq != uint64(i+1) {
			t.Errorf("record %d: seq %d", i, r.Seq)
		}
	}
	if log[0].Hash == 0 || log[0].Hash == log[1].Hash || !bytes.Equal(log[1].Data(), Pattern('c', 512)) {
		t.Errorf("hashes %x %x", log[0].Hash, log[1].Hash)
	}
	if m.Disk("/dev/vdb").BioLog() != nil {
		t.Error("a disk without BioLog keeps a log")
	}
}

// TestDiskFUAEmulated: on a virtio disk (no native FUA) a FUA write makes
// every earlier completed write durable, as blk-flush's post-flush does.
func TestDiskFUAEmulated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.img")
	m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{{Path: path, Size: 1 << 20, VolatileCache: true}}})
	runSteps(t, m, "W0:a U1:b W2:c")
	img, _ := os.ReadFile(path)
	if r := render(img); r != "ab.." {
		t.Errorf("image %q, want ab..", r)
	}
	if d := m.Disk("/dev/vda").DirtySectors(); d != 1 {
		t.Errorf("dirty %d, want 1", d)
	}
	if got := render(m.Read("/dev/vda", 0, crashSectors*512)); got != "abc." {
		t.Errorf("reads %q", got)
	}
}

// TestDurableImages: the durable image a crash at each instant leaves when
// it drops every write no flush covered, per instant of the log (the
// records with Seq below it completed), and its fingerprint is the
// content's.
func TestDurableImages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps string
		want  []string // the image at each instant: before record 1, 2, ..., after the last
	}{
		{name: "flush", steps: "W0:a W1:b F W2:c", want: []string{"....", "....", "....", "ab..", "ab.."}},
		{name: "FUA is a write and a flush", steps: "W0:a U1:b W2:c", want: []string{"....", "....", "ab..", "ab.."}},
		{name: "PREFLUSH covers the epoch before", steps: "W0:a P1:b F", want: []string{"....", "....", "a...", "ab.."}},
		{name: "discard", steps: "W0:ab F D0+1 F", want: []string{"....", "....", "ab..", "ab..", ".b.."}},
		{name: "no flush", steps: "W0:a W1:b", want: []string{"....", "....", "...."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.img")
			if err := os.WriteFile(path, make([]byte, crashSectors*dmsim.SectorSize), 0o644); err != nil {
				t.Fatal(err)
			}
			m := BootConfig(t, dmsim.Config{Disks: []dmsim.DiskSpec{{Path: path, Size: crashSectors * dmsim.SectorSize,
				VolatileCache: true, BioLog: true}}})
			runSteps(t, m, tc.steps)
			disk := m.Disk("/dev/vda")
			var log []dmsim.BioRecord
			for _, r := range disk.BioLog() {
				if r.Op != dmsim.OpRead {
					log = append(log, r)
				}
			}
			at := dmsim.DurableImages(nil, crashSectors, log)
			fps := map[string]uint64{}
			for i, want := range tc.want {
				inst := ^uint64(0) // after the last record
				if i < len(log) {
					inst = log[i].Seq
				}
				img := at(inst)
				if got := render(img.Bytes()); got != want {
					t.Errorf("before record %d (%s): %q, want %q\nlog %s", i, tc.steps, got, want, dmsim.FormatBioLog(log, true))
				}
				if fp, ok := fps[want]; ok && fp != img.Fingerprint() {
					t.Errorf("image %q: two fingerprints", want)
				}
				fps[want] = img.Fingerprint()
			}
		})
	}
}
