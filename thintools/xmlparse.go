package thintools

import (
	"fmt"
	"io"
	"strings"
)

// xmlEvent is one start or end tag. Its attrs are valid until the next
// event is read.
type xmlEvent struct {
	start bool
	name  string
	attrs xmlAttrs
	line  int
	// fast marks a <single_mapping/> or <range_mapping/> read on the
	// scanner's fast path (fastMapping): no attrs, its numbers in nums
	// (origin, data, length (1 for a single mapping), time), and no end
	// event follows it.
	fast bool
	nums [4]uint64
}

// xmlAttrs is a tag's attributes in document order (a tag has a handful:
// a list beats a map).
type xmlAttrs []xmlAttr

type xmlAttr struct{ name, value string }

func (a xmlAttrs) get(name string) (string, bool) {
	for _, at := range a {
		if at.name == name {
			return at.value, true
		}
	}
	return "", false
}

// interned are the names of the thin_dump format: reading one allocates
// nothing.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"superblock", "device", "single_mapping", "range_mapping",
		"uuid", "time", "transaction", "flags", "version", "data_block_size", "nr_data_blocks", "metadata_snap",
		"dev_id", "mapped_blocks", "creation_time", "snap_time",
		"origin_block", "data_block", "origin_begin", "data_begin", "length"} {
		m[n] = n
	}
	return m
}()

func intern(b []byte) string {
	if s, ok := interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return string(b)
}

// xmlError is an expat-style parse error.
type xmlError struct {
	line int
	msg  string
}

func (e *xmlError) Error() string { return fmt.Sprintf("Parse error at line %d:\n%s\n", e.line, e.msg) }

// xmlScanner is a small streaming XML reader for the thin_dump format,
// reporting malformed input in expat's words (thin_restore 0.9.0 uses
// expat). It knows elements, attributes, comments, processing instructions
// and character data; it does not expand entities other than the five
// predefined ones.
type xmlScanner struct {
	src   io.Reader
	rb    []byte // read buffer: rb[ri:rn] not yet read
	ri    int
	rn    int
	eof   bool
	line  int
	stack []string
	root  bool // the document element has been closed
	seen  bool // a document element has been seen
	pend  []xmlEvent
	attrs xmlAttrs // reused by every start tag
	buf   []byte   // scratch for names and values
	// slow turns the fast path for mappings off (tests compare the two).
	slow bool
}

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{src: r, rb: make([]byte, 64<<10), line: 1}
}

func (s *xmlScanner) errf(msg string) error { return &xmlError{s.line, msg} }

func (s *xmlScanner) read() (byte, bool) {
	if s.ri == s.rn && !s.fill() {
		return 0, false
	}
	c := s.rb[s.ri]
	s.ri++
	if c == '\n' {
		s.line++
	}
	return c, true
}

// unread steps back over the byte read last.
func (s *xmlScanner) unread() { s.ri-- }

// fill refills the read buffer, keeping its last byte for unread; false at
// the end of the input (or a read error, which expat reports alike).
func (s *xmlScanner) fill() bool {
	for !s.eof {
		keep := 0
		if s.rn > 0 {
			s.rb[0] = s.rb[s.rn-1]
			keep = 1
		}
		n, err := s.src.Read(s.rb[keep:])
		if err != nil {
			s.eof = true
		}
		if n > 0 {
			s.ri, s.rn = keep, keep+n
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || c == '-' || c == '.' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// next returns the next tag event, io.EOF at a well-formed end.
func (s *xmlScanner) next() (xmlEvent, error) {
	if len(s.pend) > 0 {
		ev := s.pend[0]
		s.pend = s.pend[1:]
		return ev, nil
	}
	for {
		if s.ri == s.rn && !s.fill() {
			if len(s.stack) > 0 {
				return xmlEvent{}, s.errf("no element found")
			}
			if !s.seen {
				return xmlEvent{}, s.errf("no element found")
			}
			return xmlEvent{}, io.EOF
		}
		c := s.rb[s.ri]
		if c != '<' {
			s.ri++
			if c == '\n' {
				s.line++
				continue
			}
			if isSpace(c) {
				continue
			}
			if len(s.stack) == 0 {
				if s.root {
					return xmlEvent{}, s.errf("junk after document element")
				}
				return xmlEvent{}, s.errf("syntax error")
			}
			continue // character data inside an element is ignored
		}
		if len(s.stack) > 0 && !s.slow {
			if ev, ok := s.fastMapping(); ok {
				return ev, nil
			}
		}
		s.ri++
		return s.tag()
	}
}

// fastMapMax is the longest mapping tag fastMapping takes: a
// <range_mapping/> with 19-digit numbers.
const fastMapMax = 160

// The mapping tags as thin_dump writes them, up to their first number.
const (
	singlePrefix = `<single_mapping origin_block="`
	rangePrefix  = `<range_mapping origin_begin="`
)

// fastMapping reads a mapping tag at the read position (a '<' inside an
// element) when it is exactly in thin_dump's form: its attributes in
// thin_dump's order, one space apart, decimal numbers of at most 19
// digits (a time of at most 32 bits), self-closed. It parses the numbers
// in place; anything else (false) is left to the general scanner, which
// reads the same tag into the same values.
func (s *xmlScanner) fastMapping() (xmlEvent, bool) {
	if s.rn-s.ri < fastMapMax {
		s.ensure(fastMapMax)
	}
	b := s.rb[s.ri:s.rn]
	ev := xmlEvent{start: true, line: s.line, fast: true}
	var seps []string
	var p int
	switch {
	case hasPrefix(b, singlePrefix):
		ev.name, seps, p = "single_mapping", singleSeps, len(singlePrefix)
		ev.nums[2] = 1
	case hasPrefix(b, rangePrefix):
		ev.name, seps, p = "range_mapping", rangeSeps, len(rangePrefix)
	default:
		return xmlEvent{}, false
	}
	for i, sep := range seps {
		v, n := parseDigits(b[p:])
		if n == 0 || !hasPrefix(b[p+n:], sep) {
			return xmlEvent{}, false
		}
		p += n + len(sep)
		switch {
		case i == len(seps)-1:
			if v > 0xffffffff {
				return xmlEvent{}, false
			}
			ev.nums[3] = v
		case i == 2:
			ev.nums[2] = v // range_mapping's length
		default:
			ev.nums[i] = v
		}
	}
	s.ri += p
	return ev, true
}

// The text after each number of a mapping tag in thin_dump's form.
var (
	singleSeps = []string{`" data_block="`, `" time="`, `"/>`}
	rangeSeps  = []string{`" data_begin="`, `" length="`, `" time="`, `"/>`}
)

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// parseDigits reads up to 19 decimal digits (no overflow) at the start of
// b: their value and how many; 0 digits when there are none or more.
func parseDigits(b []byte) (uint64, int) {
	var v uint64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		if n == 19 {
			return 0, 0
		}
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n
}

// ensure reads until n bytes are buffered after the read position, or the
// input ends. The byte before the read position stays (for unread).
func (s *xmlScanner) ensure(n int) {
	if s.eof {
		return
	}
	if keep := max(s.ri-1, 0); keep > 0 {
		copy(s.rb, s.rb[keep:s.rn])
		s.ri -= keep
		s.rn -= keep
	}
	for s.rn-s.ri < n && !s.eof {
		m, err := s.src.Read(s.rb[s.rn:])
		if err != nil {
			s.eof = true
		}
		s.rn += m
	}
}

func (s *xmlScanner) tag() (xmlEvent, error) {
	c, ok := s.read()
	if !ok {
		return xmlEvent{}, s.errf("unclosed token")
	}
	switch {
	case c == '?':
		return s.skipUntil("?>")
	case c == '!':
		return s.skipUntil(">")
	case c == '/':
		name, c, err := s.name()
		if err != nil {
			return xmlEvent{}, err
		}
		for isSpace(c) {
			if c, ok = s.read(); !ok {
				return xmlEvent{}, s.errf("unclosed token")
			}
		}
		if c != '>' || name == "" {
			return xmlEvent{}, s.errf("not well-formed (invalid token)")
		}
		if len(s.stack) == 0 || s.stack[len(s.stack)-1] != name {
			return xmlEvent{}, s.errf("mismatched tag")
		}
		s.stack = s.stack[:len(s.stack)-1]
		if len(s.stack) == 0 {
			s.root = true
		}
		return xmlEvent{name: name, line: s.line}, nil
	}
	if s.root {
		return xmlEvent{}, s.errf("junk after document element")
	}
	if !isNameByte(c) {
		return xmlEvent{}, s.errf("not well-formed (invalid token)")
	}
	s.unread()
	if c == '\n' {
		s.line--
	}
	name, c, err := s.name()
	if err != nil {
		return xmlEvent{}, err
	}
	ev := xmlEvent{start: true, name: name, attrs: s.attrs[:0], line: s.line}
	defer func() { s.attrs = ev.attrs[:0] }()
	for {
		for isSpace(c) {
			if c, ok = s.read(); !ok {
				return xmlEvent{}, s.errf("unclosed token")
			}
		}
		switch {
		case c == '>':
			s.stack = append(s.stack, name)
			s.seen = true
			return ev, nil
		case c == '/':
			if c, ok = s.read(); !ok {
				return xmlEvent{}, s.errf("unclosed token")
			}
			if c != '>' {
				return xmlEvent{}, s.errf("not well-formed (invalid token)")
			}
			s.seen = true
			if len(s.stack) == 0 {
				s.root = true
			}
			s.pend = append(s.pend, xmlEvent{name: name, line: s.line})
			return ev, nil
		case isNameByte(c):
			s.unread()
			attr, c2, err := s.name()
			if err != nil {
				return xmlEvent{}, err
			}
			c = c2
			for isSpace(c) {
				if c, ok = s.read(); !ok {
					return xmlEvent{}, s.errf("unclosed token")
				}
			}
			if c != '=' {
				return xmlEvent{}, s.errf("not well-formed (invalid token)")
			}
			if c, ok = s.read(); !ok {
				return xmlEvent{}, s.errf("unclosed token")
			}
			for isSpace(c) {
				if c, ok = s.read(); !ok {
					return xmlEvent{}, s.errf("unclosed token")
				}
			}
			if c != '"' && c != '\'' {
				return xmlEvent{}, s.errf("not well-formed (invalid token)")
			}
			q := c
			b := s.buf[:0]
			for {
				if c, ok = s.read(); !ok {
					return xmlEvent{}, s.errf("unclosed token")
				}
				if c == q {
					break
				}
				if c == '<' {
					return xmlEvent{}, s.errf("not well-formed (invalid token)")
				}
				b = append(b, c)
			}
			s.buf = b
			if _, dup := ev.attrs.get(attr); dup {
				return xmlEvent{}, s.errf("duplicate attribute")
			}
			ev.attrs = append(ev.attrs, xmlAttr{attr, unescapeXML(string(b))})
			if c, ok = s.read(); !ok {
				return xmlEvent{}, s.errf("unclosed token")
			}
			if !isSpace(c) && c != '>' && c != '/' {
				return xmlEvent{}, s.errf("not well-formed (invalid token)")
			}
		default:
			return xmlEvent{}, s.errf("not well-formed (invalid token)")
		}
	}
}

func (s *xmlScanner) name() (string, byte, error) {
	b := s.buf[:0]
	defer func() { s.buf = b }()
	for {
		c, ok := s.read()
		if !ok {
			return "", 0, s.errf("unclosed token")
		}
		if !isNameByte(c) {
			return intern(b), c, nil
		}
		b = append(b, c)
	}
}

func (s *xmlScanner) skipUntil(end string) (xmlEvent, error) {
	var tail []byte
	for {
		c, ok := s.read()
		if !ok {
			return xmlEvent{}, s.errf("unclosed token")
		}
		tail = append(tail, c)
		if len(tail) > len(end) {
			tail = tail[1:]
		}
		if string(tail) == end {
			return s.next()
		}
	}
}

func unescapeXML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", "\"", "&apos;", "'").Replace(s)
}

// xmlBatch is a run of events read ahead, with their attributes.
type xmlBatch struct {
	evs   []xmlEvent
	attrs []xmlAttr // the events' attrs are slices of it
	err   error     // after evs: the scanner's error (or io.EOF)
}

const xmlBatchEvents = 4096

// xmlReadAhead scans on a goroutine of its own while its reader consumes
// the events: thin_restore parses and inserts on two cores. Events come
// out in order, the scanner's error (io.EOF at the end) after the last.
type xmlReadAhead struct {
	full, free chan *xmlBatch
	stop       chan struct{}
	done       chan struct{}
	cur        *xmlBatch
	i          int
}

func newXMLReadAhead(s *xmlScanner) *xmlReadAhead {
	ra := &xmlReadAhead{full: make(chan *xmlBatch, 4), free: make(chan *xmlBatch, 4),
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := 0; i < 4; i++ {
		ra.free <- &xmlBatch{}
	}
	go ra.scan(s)
	return ra
}

func (ra *xmlReadAhead) scan(s *xmlScanner) {
	defer close(ra.done)
	for {
		var b *xmlBatch
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		b.evs, b.attrs = b.evs[:0], b.attrs[:0]
		for len(b.evs) < xmlBatchEvents && b.err == nil {
			ev, err := s.next()
			if err != nil {
				b.err = err
				break
			}
			// copy the attrs out of the scanner's reused list (an
			// earlier event's slice may keep an older backing array of
			// b.attrs: nothing writes to that until the batch is reused)
			n := len(b.attrs)
			b.attrs = append(b.attrs, ev.attrs...)
			ev.attrs = b.attrs[n:len(b.attrs):len(b.attrs)]
			b.evs = append(b.evs, ev)
		}
		err := b.err
		select {
		case ra.full <- b:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// next is xmlScanner.next, read ahead.
func (ra *xmlReadAhead) next() (xmlEvent, error) {
	for ra.cur == nil || ra.i == len(ra.cur.evs) {
		if ra.cur != nil {
			if ra.cur.err != nil {
				return xmlEvent{}, ra.cur.err
			}
			b := ra.cur
			b.err = nil
			ra.cur = nil
			ra.free <- b
		}
		ra.cur, ra.i = <-ra.full, 0
	}
	ev := ra.cur.evs[ra.i]
	ra.i++
	return ev, nil
}

// close stops the scanner goroutine and waits for it.
func (ra *xmlReadAhead) close() {
	close(ra.stop)
	<-ra.done
}
