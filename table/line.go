// Package table holds the device-mapper table and message grammar on both
// sides of the ioctl:
//
//   - dmsetup's side (libdm 1.02.185, dmsetup.c): one table line is
//     `<start> <length> <type> <params...>`, read with C's
//     sscanf("%llu %llu %s %n"), with comments after '#' dropped; a
//     --table argument is split into lines with libdm's quirk (see
//     ParseTableArg); params are marshalled with backslashes doubled.
//   - the kernel's side: dm_split_args (whitespace split with backslash
//     escapes) for target constructor arguments and target messages, and
//     the kernel's sscanf/kstrto* number parsing that constructors use.
package table

import (
	"fmt"
	"math"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Line is one table line as dmsetup hands it to the load ioctl.
type Line struct {
	Start, Length uint64
	Type          string
	// Params is the rest of the line after the type and the whitespace
	// that follows it, with any '#' comment cut off (not yet escaped for
	// the ioctl: see EscapeParams).
	Params string
}

// FormatError is dmsetup's "Invalid format on line %d of table %s."
// File is "" for a --table argument, "on stdin" for standard input, or the
// table file's name.
type FormatError struct {
	Line int
	File string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("Invalid format on line %d of table %s.", e.Line, e.File)
}

// TypeNameError is libdm's create_target() refusal of a type name of 16 or
// more bytes (DM_MAX_TYPE_NAME).
type TypeNameError struct{ Type string }

func (e *TypeNameError) Error() string {
	return fmt.Sprintf("Target type name %s is too long.", e.Type)
}

// MaxTypeName is DM_MAX_TYPE_NAME: a type name must be shorter.
const MaxTypeName = 16

// CheckTypeName applies libdm's create_target() length check.
func CheckTypeName(typ string) error {
	if len(typ) >= MaxTypeName {
		return &TypeNameError{Type: typ}
	}
	return nil
}

// cSpace is C isspace() in the "C" locale, as glibc's sscanf and dmsetup's
// trimming use it.
func cSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// The head of a table line, "%llu %llu %s %n", as a participle grammar.
// Whitespace is a token of its own (not elided) so that "%s" stops at it;
// a number is an optional sign and decimal digits, which is exactly what
// glibc's %llu consumes; any other run of non-space characters is a word.
// "%s" reads every token up to the next whitespace, numbers included.
var headLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Space", Pattern: `[ \t\n\v\f\r]+`},
	{Name: "Num", Pattern: `[+-]?[0-9]+`},
	{Name: "Word", Pattern: `[^ \t\n\v\f\r0-9+-]+|[+-]`},
})

type lineHead struct {
	Start  string         `parser:"Space? @Num"`
	Length string         `parser:"Space? @Num"`
	Type   string         `parser:"Space? @(Num | Word)+ Space?"`
	EndPos lexer.Position // %n
}

var headParser = participle.MustBuild[lineHead](
	participle.Lexer(headLexer),
	participle.UseLookahead(2),
)

// scanULLGlibc converts a token matched by Num as glibc's strtoull (which
// %llu uses) does: negative values wrap modulo 2^64, overflow saturates at
// ULLONG_MAX.
func scanULLGlibc(tok string) uint64 {
	neg := false
	switch tok[0] {
	case '-':
		neg = true
		tok = tok[1:]
	case '+':
		tok = tok[1:]
	}
	var v uint64
	for i := 0; i < len(tok); i++ {
		d := uint64(tok[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return math.MaxUint64
		}
		v = v*10 + d
	}
	if neg {
		return -v
	}
	return v
}

// ParseLine parses one table line as dmsetup's _parse_line() does. A blank
// line or a line whose first non-space character is '#' is skipped
// (skip=true). A line that does not start with two numbers and a word gives
// a *FormatError naming lineNo and file. Text from the first '#' after the
// type on is a comment. The line is cut at a NUL byte, as C would see it.
func ParseLine(buf, file string, lineNo int) (l Line, skip bool, err error) {
	if i := strings.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	end := len(buf)
	for end > 0 && cSpace(buf[end-1]) {
		end--
	}
	start := 0
	for start < end && cSpace(buf[start]) {
		start++
	}
	ptr := buf[start:end]
	if ptr == "" || ptr[0] == '#' {
		return Line{}, true, nil
	}
	h, perr := headParser.ParseString("", ptr, allowTrailing)
	if perr != nil {
		return Line{}, false, &FormatError{Line: lineNo, File: file}
	}
	params := ptr[h.EndPos.Offset:]
	if i := strings.IndexByte(params, '#'); i >= 0 {
		params = params[:i]
	}
	return Line{
		Start:  scanULLGlibc(h.Start),
		Length: scanULLGlibc(h.Length),
		Type:   h.Type,
		Params: params,
	}, false, nil
}

// ParseTableArg parses a `dmsetup create/load --table TEXT` argument as
// _parse_table_lines() does, including its quirk: it looks for the next
// newline from the start of the whole text each time, so it finds only the
// first one. Line 1 is the text up to the first newline and line 2 is all
// the rest, newlines and all (the kernel then splits those extra lines into
// more arguments of line 2's target; a comment on line 2 swallows every
// later line). Errors name the table as "" (an empty file name).
func ParseTableArg(text string) ([]Line, error) {
	var out []Line
	parts := []string{text}
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		parts = []string{text[:i], text[i+1:]}
	}
	for n, p := range parts {
		l, skip, err := ParseLine(p, "", n+1)
		if err != nil {
			return nil, err
		}
		if !skip {
			out = append(out, l)
		}
	}
	return out, nil
}

// ParseLines parses a table file or standard input as _parse_file() does:
// one line per newline (a last line without one still counts), numbered
// from 1. file is the name errors print: the file's name, or "on stdin".
func ParseLines(content, file string) ([]Line, error) {
	var out []Line
	n := 0
	for len(content) > 0 {
		line := content
		if i := strings.IndexByte(content, '\n'); i >= 0 {
			line, content = content[:i+1], content[i+1:]
		} else {
			content = ""
		}
		n++
		l, skip, err := ParseLine(line, file, n)
		if err != nil {
			return nil, err
		}
		if !skip {
			out = append(out, l)
		}
	}
	return out, nil
}

// EscapeParams marshals a parameter string into the load ioctl as libdm's
// _add_target() does: every backslash is doubled, so that the kernel's
// dm_split_args gives the user's backslashes back literally.
func EscapeParams(params string) string {
	return strings.ReplaceAll(params, `\`, `\\`)
}

// JoinMessage builds the message string `dmsetup message DEV SECTOR
// WORD...` sends: the words joined by single spaces.
func JoinMessage(words []string) string { return strings.Join(words, " ") }

var allowTrailing = participle.AllowTrailing(true)
