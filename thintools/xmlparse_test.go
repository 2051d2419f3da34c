package thintools

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// chunkReader hands out its data a few bytes at a time, so that tags
// straddle the scanner's refills.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.Intn(r.max))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// scanAll reads every event of in, one line per event (a fast mapping as
// the start and end events the general scanner reads for it, its numbers
// as attributes), ending with the error.
func scanAll(in io.Reader, slow bool) string {
	s := newXMLScanner(in)
	s.slow = slow
	var b strings.Builder
	for {
		ev, err := s.next()
		if err != nil {
			fmt.Fprintf(&b, "error %v\n", err)
			return b.String()
		}
		if !ev.start {
			fmt.Fprintf(&b, "end %s line %d\n", ev.name, ev.line)
			continue
		}
		fmt.Fprintf(&b, "start %s line %d", ev.name, ev.line)
		if ev.fast {
			names := []string{"origin_block", "data_block", "", "time"}
			if ev.name == "range_mapping" {
				names = []string{"origin_begin", "data_begin", "length", "time"}
			}
			for i, n := range names {
				if n != "" {
					fmt.Fprintf(&b, " %s=%d", n, ev.nums[i])
				}
			}
			fmt.Fprintf(&b, "\nend %s line %d\n", ev.name, ev.line)
			continue
		}
		for _, a := range ev.attrs {
			v := a.value
			if n, err := strconv.ParseUint(v, 10, 64); err == nil && (ev.name == "single_mapping" || ev.name == "range_mapping") {
				v = strconv.FormatUint(n, 10) // as restoreXML reads it
			}
			fmt.Fprintf(&b, " %s=%s", a.name, v)
		}
		b.WriteString("\n")
	}
}

// mappingLine is a mapping tag in thin_dump's form, or (1 in 3) a
// variation of it the fast path must leave to the general scanner.
func mappingLine(rng *rand.Rand) string {
	num := func() string {
		switch rng.Intn(8) {
		case 0:
			return strings.Repeat("9", 19+rng.Intn(3)) // 19 digits fit, 20 may overflow
		case 1:
			return "0" + strconv.Itoa(rng.Intn(100)) // a leading zero
		case 2:
			return strconv.FormatUint(rng.Uint64(), 10)
		}
		return strconv.Itoa(rng.Intn(1 << 20))
	}
	tm := strconv.Itoa(rng.Intn(10))
	if rng.Intn(10) == 0 {
		tm = strconv.FormatUint(1<<32+uint64(rng.Intn(3))-1, 10)
	}
	var l string
	if rng.Intn(2) == 0 {
		l = `<single_mapping origin_block="` + num() + `" data_block="` + num() + `" time="` + tm + `"/>`
	} else {
		l = `<range_mapping origin_begin="` + num() + `" data_begin="` + num() + `" length="` + num() + `" time="` + tm + `"/>`
	}
	if rng.Intn(3) == 0 {
		variants := []func(string) string{
			func(s string) string { return strings.Replace(s, `" `, "\"\n  ", 1) },
			func(s string) string { return strings.Replace(s, `"/>`, `"></single_mapping>`, 1) },
			func(s string) string { return strings.Replace(s, `"/>`, `" />`, 1) },
			func(s string) string { return strings.Replace(s, `="`, `='`, 1) },
			func(s string) string { return strings.Replace(s, `time="`, `time=" `, 1) },
			func(s string) string { return strings.Replace(s, `_block="`, `_block="&#49;`, 1) },
			func(s string) string { return strings.Replace(s, ` time="`, ` time="1" time="`, 1) },
			func(s string) string { return strings.Replace(s, `"`, ``, 1) },
			func(s string) string { return s[:rng.Intn(len(s))] },
			func(s string) string { return strings.Replace(s, `/>`, `/`, 1) },
		}
		l = variants[rng.Intn(len(variants))](l)
	}
	return l
}

// TestXMLFastPath: the scanner reads the same events and errors, at the
// same lines, with its fast path for mappings as without, on thin_dump's
// form and variations of it, through reads of every size.
func TestXMLFastPath(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var b bytes.Buffer
		b.WriteString("<superblock uuid=\"\" time=\"1\">\n <device dev_id=\"1\">\n")
		for i := 0; i < 50+rng.Intn(200); i++ {
			b.WriteString(strings.Repeat(" ", rng.Intn(5)) + mappingLine(rng) + "\n")
			if rng.Intn(40) == 0 {
				b.WriteString(" text <!-- c --> ")
			}
		}
		if rng.Intn(4) > 0 {
			b.WriteString(" </device>\n</superblock>\n")
		}
		data := b.Bytes()
		fast := scanAll(&chunkReader{data, rand.New(rand.NewSource(seed)), 1 + rng.Intn(300)}, false)
		slow := scanAll(bytes.NewReader(data), true)
		if fast != slow {
			t.Fatalf("seed %d: the fast path reads\n%s\nthe general scanner\n%s\ninput\n%s", seed, fast, slow, data)
		}
	}
}

// FuzzXMLFastPath: on any input, the scanner's fast path reads what the
// general scanner reads.
func FuzzXMLFastPath(f *testing.F) {
	f.Add([]byte(`<d><single_mapping origin_block="1" data_block="2" time="3"/><range_mapping origin_begin="1" data_begin="2" length="3" time="4"/></d>`))
	f.Add([]byte(`<d><single_mapping origin_block="99999999999999999999" data_block="2" time="4294967296"/></d>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast := scanAll(&chunkReader{data, rand.New(rand.NewSource(int64(len(data)))), 7}, false)
		if slow := scanAll(bytes.NewReader(data), true); fast != slow {
			t.Fatalf("the fast path reads\n%s\nthe general scanner\n%s", fast, slow)
		}
	})
}
