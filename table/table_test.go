package table

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// refScanHead is a direct, character-level model of glibc's
// sscanf(p, "%llu %llu %s %n", ...) used to cross-check the participle
// grammar. ok is false when fewer than 3 conversions succeed.
func refScanHead(p string) (start, length uint64, typ string, n int, ok bool) {
	i := 0
	num := func() (uint64, bool) {
		for i < len(p) && cSpace(p[i]) {
			i++
		}
		j := i
		if j < len(p) && (p[j] == '+' || p[j] == '-') {
			j++
		}
		k := j
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		if k == j {
			return 0, false
		}
		v := scanULLGlibc(p[i:k])
		i = k
		return v, true
	}
	var ok1 bool
	if start, ok1 = num(); !ok1 {
		return
	}
	if length, ok1 = num(); !ok1 {
		return
	}
	for i < len(p) && cSpace(p[i]) {
		i++
	}
	j := i
	for j < len(p) && !cSpace(p[j]) {
		j++
	}
	if j == i {
		return
	}
	typ = p[i:j]
	i = j
	for i < len(p) && cSpace(p[i]) {
		i++
	}
	return start, length, typ, i, true
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in     string
		want   Line
		skip   bool
		errStr string
	}{
		{in: "0 2048 linear /dev/vda 0", want: Line{0, 2048, "linear", "/dev/vda 0"}},
		{in: "  0 2048 linear /dev/vda 0  \n", want: Line{0, 2048, "linear", "/dev/vda 0"}},
		{in: "0 2048 linear", want: Line{0, 2048, "linear", ""}},
		{in: "0 2048 error   ", want: Line{0, 2048, "error", ""}},
		{in: "", skip: true},
		{in: "   \t\n", skip: true},
		{in: "# a comment", skip: true},
		{in: "   # indented comment", skip: true},
		{in: "0 10 linear /dev/vda 0 # trailing", want: Line{0, 10, "linear", "/dev/vda 0 "}},
		{in: "0 10 lin#ear x", want: Line{0, 10, "lin#ear", "x"}},
		{in: "0 10 linear #x", want: Line{0, 10, "linear", ""}},
		// %llu stops at the first non-digit; %s then reads the rest of the word.
		{in: "0 10linear x 0", want: Line{0, 10, "linear", "x 0"}},
		{in: "0 1-2 linear", want: Line{0, 1, "-2", "linear"}},
		{in: "+5 -1 t", want: Line{5, math.MaxUint64, "t", ""}},
		{in: "0 99999999999999999999999 t", want: Line{0, math.MaxUint64, "t", ""}},
		{in: "0 18446744073709551615 t", want: Line{0, math.MaxUint64, "t", ""}},
		{in: "0 18446744073709551616 t", want: Line{0, math.MaxUint64, "t", ""}},
		{in: "0 -18446744073709551615 t", want: Line{0, 1, "t", ""}},
		{in: "0\t\v2048\flinear\r/dev/x", want: Line{0, 2048, "linear", "/dev/x"}},
		{in: "0 2048 42 x", want: Line{0, 2048, "42", "x"}},
		{in: "0 2048 a+5 x", want: Line{0, 2048, "a+5", "x"}},
		{in: "0 2048 linear /dev/vda\x00 0", want: Line{0, 2048, "linear", "/dev/vda"}},
		{in: "0 2048", errStr: "Invalid format on line 7 of table f."},
		{in: "0x10 20 linear", errStr: "Invalid format on line 7 of table f."},
		{in: "a 20 linear", errStr: "Invalid format on line 7 of table f."},
		{in: "0 + linear", errStr: "Invalid format on line 7 of table f."},
		{in: "- 5 linear", errStr: "Invalid format on line 7 of table f."},
		{in: "0 +-5 linear", errStr: "Invalid format on line 7 of table f."},
	}
	for _, tc := range tests {
		got, skip, err := ParseLine(tc.in, "f", 7)
		if tc.errStr != "" {
			if err == nil || err.Error() != tc.errStr {
				t.Errorf("ParseLine(%q) err = %v, want %q", tc.in, err, tc.errStr)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("ParseLine(%q) error is not a FormatError", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLine(%q) unexpected error %v", tc.in, err)
			continue
		}
		if skip != tc.skip {
			t.Errorf("ParseLine(%q) skip = %v, want %v", tc.in, skip, tc.skip)
			continue
		}
		if !skip && got != tc.want {
			t.Errorf("ParseLine(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseTableArg(t *testing.T) {
	tests := []struct {
		in   string
		want []Line
		err  string
	}{
		{in: "0 2048 linear /dev/vda 0", want: []Line{{0, 2048, "linear", "/dev/vda 0"}}},
		{in: "0 1024 linear a 0\n1024 1024 linear b 2048",
			want: []Line{{0, 1024, "linear", "a 0"}, {1024, 1024, "linear", "b 2048"}}},
		// libdm's quirk: the third line becomes part of the second line's params.
		{in: "0 1 linear a 0\n1 1 linear b 0\n2 1 linear c 0",
			want: []Line{{0, 1, "linear", "a 0"}, {1, 1, "linear", "b 0\n2 1 linear c 0"}}},
		// A comment on line 2 swallows every later line.
		{in: "0 1 linear a 0\n# c\n1 1 linear b 0", want: []Line{{0, 1, "linear", "a 0"}}},
		{in: "0 1 linear a 0\n\n", want: []Line{{0, 1, "linear", "a 0"}}},
		{in: "", want: nil},
		{in: "0 1 linear a 0\nbad", err: "Invalid format on line 2 of table ."},
		{in: "bad\n0 1 linear a 0", err: "Invalid format on line 1 of table ."},
	}
	for _, tc := range tests {
		got, err := ParseTableArg(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseTableArg(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTableArg(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseLines(t *testing.T) {
	got, err := ParseLines("# header\n0 1024 linear /dev/vda 0\n\n1024 1024 linear /dev/vdb 2048", "on stdin")
	want := []Line{{0, 1024, "linear", "/dev/vda 0"}, {1024, 1024, "linear", "/dev/vdb 2048"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseLines = %+v, %v", got, err)
	}
	_, err = ParseLines("0 1 linear a 0\n\n\nfoo\n", "on stdin")
	if err == nil || err.Error() != "Invalid format on line 4 of table on stdin." {
		t.Fatalf("ParseLines error = %v", err)
	}
	got, err = ParseLines("", "on stdin")
	if err != nil || got != nil {
		t.Fatalf("empty input = %v, %v", got, err)
	}
}

func TestCheckTypeName(t *testing.T) {
	if err := CheckTypeName("fifteen-chars-x"); err != nil {
		t.Errorf("15 chars rejected: %v", err)
	}
	err := CheckTypeName("sixteen-chars-xx")
	if err == nil || err.Error() != "Target type name sixteen-chars-xx is too long." {
		t.Errorf("16 chars: %v", err)
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"a", []string{"a"}},
		{"/dev/vda 0", []string{"/dev/vda", "0"}},
		{"  a \t b\n\nc  ", []string{"a", "b", "c"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`a\\b`, []string{`a\b`}},
		{`a\`, []string{`a\`}},
		{`\x\y`, []string{"xy"}},
		{"a\xa0b", []string{"a", "b"}},
		{"create_thin 0", []string{"create_thin", "0"}},
		{`\ `, []string{" "}},
	}
	for _, tc := range tests {
		if got := SplitArgs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, p := range []string{`a\b c`, `\\`, `x\ y`, "plain words"} {
		got := SplitArgs(EscapeParams(p))
		want := strings.Fields(p)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SplitArgs(EscapeParams(%q)) = %q, want %q", p, got, want)
		}
	}
	if JoinMessage([]string{"create_thin", "0"}) != "create_thin 0" {
		t.Error("JoinMessage")
	}
}

func TestScanULL(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"40960", 40960, true},
		{" 12", 12, true},
		{"12 ", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1x", 0, false},
		{"0x10", 0, false},
		{"18446744073709551616", 0, true}, // wraps
		{"18446744073709551617", 1, true},
	}
	for _, tc := range tests {
		got, ok := ScanULL(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ScanULL(%q) = %d,%v want %d,%v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if v, ok := ScanUint("4294967297"); !ok || v != 1 {
		t.Errorf("ScanUint truncation: %d %v", v, ok)
	}
}

func TestScanDevT(t *testing.T) {
	tests := []struct {
		in        string
		maj, min  uint32
		ok        bool
		offOK     bool
		offMaj    uint32
		offMinVal uint32
	}{
		{in: "254:0", maj: 254, min: 0, ok: true},
		{in: "253:16", maj: 253, min: 16, ok: true},
		{in: " 7: 3", maj: 7, min: 3, ok: true},
		{in: "7:3x", ok: false},
		{in: "7:", ok: false},
		{in: "/dev/vda", ok: false},
		{in: "4294967297:0", maj: 1, min: 0, ok: true},
		{in: "8:0:5:", ok: false, offOK: true, offMaj: 8, offMinVal: 0},
		{in: "8:0:5:x", ok: false},
		{in: "1:2:3", ok: false, offOK: true, offMaj: 1, offMinVal: 2},
		{in: "1:2:3abc", ok: false, offOK: true, offMaj: 1, offMinVal: 2},
		{in: "1:2:", ok: false},
	}
	for _, tc := range tests {
		maj, min, ok := ScanDevT(tc.in)
		if ok != tc.ok || (ok && (maj != tc.maj || min != tc.min)) {
			t.Errorf("ScanDevT(%q) = %d,%d,%v", tc.in, maj, min, ok)
		}
		maj, min, ok = ScanDevTOffset(tc.in)
		if ok != tc.offOK || (ok && (maj != tc.offMaj || min != tc.offMinVal)) {
			t.Errorf("ScanDevTOffset(%q) = %d,%d,%v", tc.in, maj, min, ok)
		}
	}
}

func TestKstrto(t *testing.T) {
	tests := []struct {
		in   string
		base int
		want uint64
		err  error
	}{
		{"5", 10, 5, nil},
		{"+5", 10, 5, nil},
		{"5\n", 10, 5, nil},
		{"5\n\n", 10, 0, linuxerr.EINVAL},
		{"", 10, 0, linuxerr.EINVAL},
		{"-5", 10, 0, linuxerr.EINVAL},
		{" 5", 10, 0, linuxerr.EINVAL},
		{"0x10", 10, 0, linuxerr.EINVAL},
		{"0x10", 16, 16, nil},
		{"0x10", 0, 16, nil},
		{"010", 0, 8, nil},
		{"18446744073709551615", 10, math.MaxUint64, nil},
		{"18446744073709551616", 10, 0, linuxerr.ERANGE},
	}
	for _, tc := range tests {
		got, err := Kstrtoull(tc.in, tc.base)
		if err != tc.err || got != tc.want {
			t.Errorf("Kstrtoull(%q,%d) = %d,%v want %d,%v", tc.in, tc.base, got, err, tc.want, tc.err)
		}
	}
	if _, err := Kstrtouint("4294967296", 10); err != linuxerr.ERANGE {
		t.Errorf("Kstrtouint overflow: %v", err)
	}
	if v, err := Kstrtoint("-2147483648", 10); err != nil || v != math.MinInt32 {
		t.Errorf("Kstrtoint min: %d %v", v, err)
	}
	if _, err := Kstrtoint("2147483648", 10); err != linuxerr.ERANGE {
		t.Errorf("Kstrtoint overflow: %v", err)
	}
	if v, rest := SimpleStrtoul("fe00", 16); v != 0xfe00 || rest != "" {
		t.Errorf("SimpleStrtoul: %x %q", v, rest)
	}
	if v, rest := SimpleStrtoul("12zz", 16); v != 0x12 || rest != "zz" {
		t.Errorf("SimpleStrtoul rest: %x %q", v, rest)
	}
}

// The grammar and the character-level model agree on every input.
func checkHeadAgainstReference(t *testing.T, s string) {
	start, length, typ, n, ok := refScanHead(s)
	h, err := headParser.ParseString("", s, allowTrailing)
	if ok != (err == nil) {
		t.Fatalf("%q: reference ok=%v, grammar err=%v", s, ok, err)
	}
	if !ok {
		return
	}
	if scanULLGlibc(h.Start) != start || scanULLGlibc(h.Length) != length || h.Type != typ || h.EndPos.Offset != n {
		t.Fatalf("%q: grammar (%s %s %q %d) != reference (%d %d %q %d)", s,
			h.Start, h.Length, h.Type, h.EndPos.Offset, start, length, typ, n)
	}
}

func TestHeadGrammarMatchesReference(t *testing.T) {
	for _, s := range []string{
		"0 1 a", "0 1 a ", "0 1 a b", " 0 1 a", "0  \t 1\na\nb", "0 1", "0", "",
		"01 02 03 04", "-0 +0 -", "0 0 +", "0 0 ++", "5x", "5 6x", "5 6 x7 8",
		"0 1 \xff\xfe rest", "0 1 é p",
	} {
		checkHeadAgainstReference(t, s)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"0 2048 linear /dev/vda 0", "# c", "0 10linear", "0 -1 t#x", "+1 2 3 4", "\x00", "0 1 a\n2 3 b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, skip, err := ParseLine(s, "f", 1)
		c := s
		if i := strings.IndexByte(c, 0); i >= 0 {
			c = c[:i]
		}
		trimmed := strings.TrimFunc(c, func(r rune) bool { return r < 0x80 && cSpace(byte(r)) })
		if skip {
			if err != nil || !(trimmed == "" || trimmed[0] == '#') {
				t.Fatalf("%q skipped wrongly", s)
			}
			return
		}
		checkHeadAgainstReference(t, trimmed)
		if err != nil {
			return
		}
		if strings.Contains(l.Params, "#") || l.Type == "" || strings.ContainsAny(l.Type, " \t\n\v\f\r") {
			t.Fatalf("%q: bad line %+v", s, l)
		}
		if !strings.Contains(c, l.Type) || !strings.Contains(c, l.Params) {
			t.Fatalf("%q: parts not from input: %+v", s, l)
		}
	})
}

func FuzzParseTableArg(f *testing.F) {
	f.Add("0 1 linear a 0\n1 1 linear b 0\n2 1 linear c 0")
	f.Add("# x\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := ParseTableArg(s)
		if err == nil && len(lines) > 2 {
			t.Fatalf("%q: more than two lines", s)
		}
		var fe *FormatError
		if err != nil && (!errors.As(err, &fe) || fe.File != "" || fe.Line < 1 || fe.Line > 2) {
			t.Fatalf("%q: bad error %v", s, err)
		}
	})
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"", "a b", `a\ b`, `\`, "a\xa0b", `\\\ `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := SplitArgs(s)
		for _, a := range args {
			if a == "" {
				t.Fatalf("%q: empty argument in %q", s, args)
			}
		}
		// Without backslashes, splitting is splitting on kernel whitespace.
		if !strings.Contains(s, `\`) {
			var want []string
			cur := []byte{}
			for i := 0; i < len(s); i++ {
				if KSpace(s[i]) {
					if len(cur) > 0 {
						want = append(want, string(cur))
						cur = cur[:0]
					}
					continue
				}
				cur = append(cur, s[i])
			}
			if len(cur) > 0 {
				want = append(want, string(cur))
			}
			if !reflect.DeepEqual(args, want) {
				t.Fatalf("%q: %q != %q", s, args, want)
			}
		}
		// Escaping every argument and joining gives the same arguments back.
		var parts []string
		for _, a := range args {
			var b strings.Builder
			for i := 0; i < len(a); i++ {
				if a[i] == '\\' || KSpace(a[i]) {
					b.WriteByte('\\')
				}
				b.WriteByte(a[i])
			}
			parts = append(parts, b.String())
		}
		if again := SplitArgs(strings.Join(parts, " ")); !reflect.DeepEqual(again, args) {
			t.Fatalf("%q: re-split %q != %q", s, again, args)
		}
	})
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{"0", "254:0", " 1", "1:2:3:", "0x1f", "+5\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := ScanULL(s); ok {
			tr := trimLeftKSpace(s)
			if tr == "" || strings.Trim(tr, "0123456789") != "" {
				t.Fatalf("ScanULL(%q) accepted %d", s, v)
			}
		}
		if maj, min, ok := ScanDevT(s); ok && !strings.Contains(s, ":") {
			t.Fatalf("ScanDevT(%q) = %d:%d", s, maj, min)
		}
		if maj, min, ok := ScanDevTOffset(s); ok && strings.Count(s, ":") < 2 {
			t.Fatalf("ScanDevTOffset(%q) = %d:%d", s, maj, min)
		}
		v10, err10 := Kstrtoull(s, 10)
		if err10 == nil {
			tr := strings.TrimSuffix(strings.TrimPrefix(s, "+"), "\n")
			if tr == "" || strings.Trim(tr, "0123456789") != "" {
				t.Fatalf("Kstrtoull(%q) accepted %d", s, v10)
			}
			// Base 0 reads a decimal without a leading 0 as base 10 does.
			if tr[0] != '0' {
				if v0, err0 := Kstrtoull(s, 0); err0 != nil || v0 != v10 {
					t.Fatalf("Kstrtoull(%q, 0) = %d %v, base 10 gives %d", s, v0, err0, v10)
				}
			}
		}
		if v, err := Kstrtoint(s, 10); err == nil && !strings.HasPrefix(s, "-") {
			if err10 != nil || uint64(v) != v10 {
				t.Fatalf("Kstrtoint(%q) = %d, Kstrtoull gives %d %v", s, v, v10, err10)
			}
		}
		if _, rest := SimpleStrtoul(s, 16); !strings.HasSuffix(s, rest) {
			t.Fatalf("SimpleStrtoul(%q) left %q, not a suffix", s, rest)
		}
	})
}

// trimLeftKSpace drops the leading bytes the kernel's isspace() takes.
func trimLeftKSpace(s string) string {
	for s != "" && KSpace(s[0]) {
		s = s[1:]
	}
	return s
}
