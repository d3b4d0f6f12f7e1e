// Package jsonpos is a single-pass, pull-style JSON decoder that knows the
// line and column of every token it reads. Lockfile parsers use it to attach
// 1-based positions to entries without a second pass over the input (a
// 50,000-package package-lock.json is 24 MB; searching it once per package
// for line numbers is quadratic).
//
// The decoder reads the caller's byte slice in place. Keys and values come
// back as byte slices that alias the input (or a scratch buffer when they
// contain escapes), so reading costs no allocation; callers copy only what
// they keep, cheaply with an Arena. Values that are skipped are validated
// but never materialised.
//
// Input is validated strictly (RFC 8259 grammar, control characters in
// strings, escapes, number syntax, trailing data); only a UTF-8 byte order
// mark at the very start is tolerated and skipped. Invalid UTF-8 inside
// strings is passed through as is, and lone surrogate escapes become U+FFFD,
// as in encoding/json. Options relax the grammar for JSONC
// (// and /* */ comments, trailing commas). Nesting deeper than
// Options.MaxDepth is an error, so hostile input cannot exhaust the stack.
// No input makes the decoder panic; every failure is an *Error with a
// position.
package jsonpos

import (
	"fmt"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is zero.
const DefaultMaxDepth = 512

// Options tune the grammar the decoder accepts.
type Options struct {
	// MaxDepth limits how deeply objects and arrays may nest; 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// AllowComments accepts // line comments and /* block */ comments
	// wherever whitespace is allowed (JSONC, as in bun.lock or tsconfig).
	AllowComments bool
	// AllowTrailingCommas accepts a comma before a closing } or ].
	AllowTrailingCommas bool
}

// Kind is the type of a JSON value.
type Kind byte

// Kinds of JSON values. Invalid is returned with an error.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Object
	Array
)

var kindNames = [...]string{"invalid value", "null", "boolean", "number", "string", "object", "array"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Pos is a position in the input. Line and Column are 1-based; Column counts
// Unicode code points from the start of the line (bytes of invalid UTF-8
// count one each). Offset is the 0-based byte offset.
type Pos struct {
	Line, Column int
	Offset       int
}

// Error is a syntax or type error at a position.
type Error struct {
	Line, Column int
	Offset       int
	Msg          string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Decoder reads one JSON text. It is not safe for concurrent use; create one
// per input. Methods that consume a value (Object, Array, String, Bool,
// Number, Null, Skip) read exactly one value starting at the next
// non-whitespace byte.
type Decoder struct {
	src  []byte
	pos  int
	line int
	// lineStart is the byte offset where the current line begins.
	lineStart int
	depth     int
	maxDepth  int
	opts      Options

	// Column cache: colOff is an offset on the line starting at colLine
	// whose column is colRunes+1, so successive position queries on one
	// long line (minified JSON) cost linear time overall.
	colLine, colOff, colRunes int

	// Position of the key most recently read by Object.
	keyOff, keyLine, keyLineStart int

	buf []byte // scratch for decoding escaped strings
}

// NewDecoder returns a decoder over src. The decoder does not copy src:
// the caller must not modify it while decoding.
func NewDecoder(src []byte, opts Options) *Decoder {
	d := &Decoder{src: src, line: 1, opts: opts, maxDepth: opts.MaxDepth, colLine: -1}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	// A UTF-8 byte order mark is not JSON, but editors write it; accept it
	// at the very start as encoding/json's callers usually do by hand.
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		d.pos = 3
		d.lineStart = 3
	}
	return d
}

// Len returns the length of the input in bytes.
func (d *Decoder) Len() int { return len(d.src) }

// position computes the Pos of byte offset off on the line that starts at
// lineStart with number line.
func (d *Decoder) position(off, line, lineStart int) Pos {
	if off > len(d.src) {
		off = len(d.src)
	}
	start, runes := lineStart, 0
	if d.colLine == lineStart && d.colOff <= off {
		start, runes = d.colOff, d.colRunes
	}
	runes += utf8.RuneCount(d.src[start:off])
	d.colLine, d.colOff, d.colRunes = lineStart, off, runes
	return Pos{Line: line, Column: runes + 1, Offset: off}
}

// Pos returns the position of the next byte the decoder will read. Call Peek
// first to skip whitespace and get the position of the next value.
func (d *Decoder) Pos() Pos { return d.position(d.pos, d.line, d.lineStart) }

// KeyPos returns the position of the opening quote of the key most recently
// passed to an Object callback. It is valid inside that callback until a
// nested Object reads another key.
func (d *Decoder) KeyPos() Pos { return d.position(d.keyOff, d.keyLine, d.keyLineStart) }

// Errorf returns an *Error at p. Callers use it for type errors they detect
// themselves (for example "version must be a string").
func (d *Decoder) Errorf(p Pos, format string, args ...any) error {
	return &Error{Line: p.Line, Column: p.Column, Offset: p.Offset, Msg: fmt.Sprintf(format, args...)}
}

// errAt returns an *Error at byte offset off on the current line.
func (d *Decoder) errAt(off int, format string, args ...any) error {
	return d.Errorf(d.position(off, d.line, d.lineStart), format, args...)
}

// errHere describes the byte at the current offset (or the end of input) as
// unexpected, in a message that says what was expected.
func (d *Decoder) errHere(expected string) error {
	if d.pos >= len(d.src) {
		return d.errAt(d.pos, "unexpected end of input, expected %s", expected)
	}
	return d.errAt(d.pos, "unexpected %s, expected %s", describe(d.src[d.pos]), expected)
}

func describe(c byte) string {
	switch {
	case c == '"':
		return `'"'`
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("character %q", rune(c))
	default:
		return fmt.Sprintf("byte 0x%02x", c)
	}
}

// Peek skips whitespace (and comments when allowed) and returns the kind of
// the next value without consuming it.
func (d *Decoder) Peek() (Kind, error) {
	if err := d.skipSpace(); err != nil {
		return Invalid, err
	}
	if d.pos >= len(d.src) {
		return Invalid, d.errHere("a value")
	}
	k := kindOf[d.src[d.pos]]
	if k == Invalid {
		return Invalid, d.errHere("a value")
	}
	return k, nil
}

var kindOf = func() (t [256]Kind) {
	t['n'] = Null
	t['t'], t['f'] = Bool, Bool
	t['-'] = Number
	for c := '0'; c <= '9'; c++ {
		t[c] = Number
	}
	t['"'] = String
	t['{'] = Object
	t['['] = Array
	return t
}()

// expect checks that the next value has kind want.
func (d *Decoder) expect(want Kind) error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	if k != want {
		return d.errAt(d.pos, "expected %s, found %s", want, k)
	}
	return nil
}

// Object reads an object, calling fn once per member in input order with
// the member's decoded key. fn may consume the member's value with any
// decoding method; if it returns nil without consuming it, the value is
// skipped (and validated). key aliases the input or a scratch buffer: it is
// valid until fn makes its next decoding call, so copy it (string(key) or
// an Arena) to keep it. Errors from fn are returned unchanged.
func (d *Decoder) Object(fn func(key []byte) error) error {
	if err := d.expect(Object); err != nil {
		return err
	}
	if empty, err := d.open('}'); empty || err != nil {
		return err
	}
	for {
		if err := d.skipSpace(); err != nil {
			return err
		}
		if d.pos >= len(d.src) || d.src[d.pos] != '"' {
			return d.errHere("a string key")
		}
		keyOff, keyLine, keyLineStart := d.pos, d.line, d.lineStart
		key, err := d.readString()
		if err != nil {
			return err
		}
		if err := d.skipSpace(); err != nil {
			return err
		}
		if d.pos >= len(d.src) || d.src[d.pos] != ':' {
			return d.errHere("':' after object key")
		}
		d.pos++
		if err := d.skipSpace(); err != nil {
			return err
		}
		start := d.pos
		d.keyOff, d.keyLine, d.keyLineStart = keyOff, keyLine, keyLineStart
		if err := fn(key); err != nil {
			return err
		}
		if d.pos == start {
			if err := d.Skip(); err != nil {
				return err
			}
		}
		if done, err := d.next('}', "',' or '}' after object member"); done || err != nil {
			return err
		}
	}
}

// Array reads an array, calling fn once per element with its 0-based
// index. Like Object, an element fn does not consume is skipped.
func (d *Decoder) Array(fn func(i int) error) error {
	if err := d.expect(Array); err != nil {
		return err
	}
	if empty, err := d.open(']'); empty || err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, err := d.Peek(); err != nil {
			return err
		}
		start := d.pos
		if err := fn(i); err != nil {
			return err
		}
		if d.pos == start {
			if err := d.Skip(); err != nil {
				return err
			}
		}
		if done, err := d.next(']', "',' or ']' after array element"); done || err != nil {
			return err
		}
	}
}

// Bytes reads a string value and returns it decoded. The result aliases the
// input or a scratch buffer and is valid until the next decoding call.
func (d *Decoder) Bytes() ([]byte, error) {
	if err := d.expect(String); err != nil {
		return nil, err
	}
	return d.readString()
}

// String reads a string value into a new string.
func (d *Decoder) String() (string, error) {
	b, err := d.Bytes()
	return string(b), err
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	if err := d.expect(Bool); err != nil {
		return false, err
	}
	if d.src[d.pos] == 't' {
		return true, d.literal("true")
	}
	return false, d.literal("false")
}

// Null reads null.
func (d *Decoder) Null() error {
	if err := d.expect(Null); err != nil {
		return err
	}
	return d.literal("null")
}

// Number reads a number and returns its literal text, as written.
func (d *Decoder) Number() (string, error) {
	if err := d.expect(Number); err != nil {
		return "", err
	}
	start := d.pos
	if err := d.scanNumber(); err != nil {
		return "", err
	}
	return string(d.src[start:d.pos]), nil
}

// Skip reads and validates one value of any kind, keeping nothing.
func (d *Decoder) Skip() error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	switch k {
	case Object:
		return d.skipObject()
	case Array:
		return d.skipArray()
	case String:
		return d.skipString()
	case Number:
		return d.scanNumber()
	case Bool:
		if d.src[d.pos] == 't' {
			return d.literal("true")
		}
		return d.literal("false")
	default:
		return d.literal("null")
	}
}

// End checks that only whitespace (and comments when allowed) follows the
// value read so far.
func (d *Decoder) End() error {
	if err := d.skipSpace(); err != nil {
		return err
	}
	if d.pos < len(d.src) {
		return d.errAt(d.pos, "unexpected %s after top-level value", describe(d.src[d.pos]))
	}
	return nil
}
