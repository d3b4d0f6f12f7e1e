package jsonpos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// toAny decodes the whole input into the shapes encoding/json produces with
// UseNumber, so the two decoders can be compared.
func toAny(d *Decoder) (any, error) {
	v, err := value(d)
	if err != nil {
		return nil, err
	}
	return v, d.End()
}

func value(d *Decoder) (any, error) {
	k, err := d.Peek()
	if err != nil {
		return nil, err
	}
	switch k {
	case Object:
		m := map[string]any{}
		err := d.Object(func(key []byte) error {
			name := string(key)
			v, err := value(d)
			m[name] = v
			return err
		})
		return m, err
	case Array:
		a := []any{}
		err := d.Array(func(int) error {
			v, err := value(d)
			a = append(a, v)
			return err
		})
		return a, err
	case String:
		return d.String()
	case Number:
		n, err := d.Number()
		return json.Number(n), err
	case Bool:
		return d.Bool()
	default:
		return nil, d.Null()
	}
}

func stdDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-1.5e+10`, `1E-2`, `true`, `false`, `null`,
		` { "a" : [ 1 , { "b" : null } , "x" ] , "c" : {} } `,
		`"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00"`,
		`"lone \ud800 and \udc00 and \ud800\u0041"`,
		"\"caf\u00e9 \u2603\"",
		`{"a":1,"a":2}`,
		"[\n1,\r\n2\t]",
	} {
		t.Run(in, func(t *testing.T) {
			want, err := stdDecode([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := toAny(NewDecoder([]byte(in), Options{}))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("value mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, in string
		opts     Options
		want     Error
	}{
		{"empty", "", Options{}, Error{1, 1, 0, "unexpected end of input, expected a value"}},
		{"only_space", " \n  ", Options{}, Error{2, 3, 4, "unexpected end of input, expected a value"}},
		{"bad_start", "\n\n   x", Options{}, Error{3, 4, 5, "unexpected character 'x', expected a value"}},
		{"unterminated_string", "[\n  \"abc", Options{}, Error{2, 3, 4, "unterminated string"}},
		{"unterminated_escaped", "[\"a\\nb", Options{}, Error{1, 2, 1, "unterminated string"}},
		{"newline_in_string", "{\"a\":\"x\ny\"}", Options{}, Error{1, 8, 7, "invalid control character byte 0x0a in string"}},
		{"bad_escape", `["\q"]`, Options{}, Error{1, 3, 2, "invalid escape character 'q' in string"}},
		{"short_unicode", `["\u12"]`, Options{}, Error{1, 3, 2, `invalid \u escape`}},
		{"missing_colon", `{"a" 1}`, Options{}, Error{1, 6, 5, "unexpected character '1', expected ':' after object key"}},
		{"missing_comma", `[1 2]`, Options{}, Error{1, 4, 3, "unexpected character '2', expected ',' or ']' after array element"}},
		{"trailing_comma_array", `[1,]`, Options{}, Error{1, 4, 3, "unexpected character ']', expected a value"}},
		{"trailing_comma_object", `{"a":1,}`, Options{}, Error{1, 8, 7, "unexpected character '}', expected a string key"}},
		{"unquoted_key", `{a:1}`, Options{}, Error{1, 2, 1, "unexpected character 'a', expected a string key"}},
		{"leading_zero", `[01]`, Options{}, Error{1, 3, 2, "unexpected character '1', expected ',' or ']' after array element"}},
		{"minus_alone", `[-]`, Options{}, Error{1, 3, 2, "invalid number: expected a digit"}},
		{"dot_no_digit", `[1.]`, Options{}, Error{1, 4, 3, "invalid number: expected a digit after '.'"}},
		{"exp_no_digit", `[1e+]`, Options{}, Error{1, 5, 4, "invalid number: expected a digit in exponent"}},
		{"bad_literal", `[tru]`, Options{}, Error{1, 5, 4, "invalid literal: unexpected character ']'"}},
		{"truncated_literal", `[nul`, Options{}, Error{1, 5, 4, "unexpected end of input in literal null"}},
		{"two_values", `{} {}`, Options{}, Error{1, 4, 3, "unexpected character '{' after top-level value"}},
		{"comment_not_allowed", "[1] // x", Options{}, Error{1, 5, 4, "unexpected character '/' after top-level value"}},
		{"nan", `[NaN]`, Options{}, Error{1, 2, 1, "unexpected character 'N', expected a value"}},
		{"depth", strings.Repeat("[", 4) + "1" + strings.Repeat("]", 4), Options{MaxDepth: 3}, Error{1, 4, 3, "nesting deeper than 3 levels"}},
		{"unterminated_block_comment", "[1 /* x\n\n", Options{AllowComments: true}, Error{1, 4, 3, "unterminated block comment"}},
		{"lone_slash", "[1 / 2]", Options{AllowComments: true}, Error{1, 4, 3, "unexpected character '/', expected a comment"}},
		{"column_after_multibyte", "[\"é€😀\" x]", Options{}, Error{1, 8, 13, "unexpected character 'x', expected ',' or ']' after array element"}},
		{"invalid_utf8_counts_one", "[\"\xff\" x]", Options{}, Error{1, 6, 5, "unexpected character 'x', expected ',' or ']' after array element"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := toAny(NewDecoder([]byte(tt.in), tt.opts))
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONC(t *testing.T) {
	in := "// header\n{\n  /* block\n     comment */ \"a\": [1, 2,], // trailing\n  \"b\": {\"c\": true,},\n}\n"
	got, err := toAny(NewDecoder([]byte(in), Options{AllowComments: true, AllowTrailingCommas: true}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{json.Number("1"), json.Number("2")}, "b": map[string]any{"c": true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("value mismatch (-want +got):\n%s", diff)
	}
	if _, err := toAny(NewDecoder([]byte(`[1,,]`), Options{AllowTrailingCommas: true})); err == nil {
		t.Error("two commas accepted")
	}
}

func TestKeyPos(t *testing.T) {
	in := "{\"a\": 1,\n  \"b\": {\n\t\"c\": 2},\r\n \"é\": {}, \"\\u0064\": 3}"
	d := NewDecoder([]byte(in), Options{})
	var got []string
	var visit func() error
	visit = func() error {
		return d.Object(func(key []byte) error {
			p := d.KeyPos()
			got = append(got, fmt.Sprintf("%s@%d:%d", key, p.Line, p.Column))
			if k, _ := d.Peek(); k == Object {
				return visit()
			}
			return nil
		})
	}
	if err := visit(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a@1:2", "b@2:3", "c@3:2", "é@4:2", "d@4:11"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key positions (-want +got):\n%s", diff)
	}
}

// TestMinifiedColumns reads many keys on one long line; the column
// cache must make positions exact without rescanning from the line start.
func TestMinifiedColumns(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"é":0`)
	}
	b.WriteString("}")
	d := NewDecoder([]byte(b.String()), Options{})
	i := 0
	err := d.Object(func([]byte) error {
		if p := d.KeyPos(); p.Line != 1 || p.Column != 2+6*i {
			t.Fatalf("key %d at %d:%d, want 1:%d", i, p.Line, p.Column, 2+6*i)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTypeErrors(t *testing.T) {
	d := NewDecoder([]byte(` [1]`), Options{})
	_, err := d.String()
	var e *Error
	if !errors.As(err, &e) || e.Msg != "expected string, found array" || e.Column != 2 {
		t.Errorf("String on array = %v", err)
	}
}

func TestArena(t *testing.T) {
	var a Arena
	src := []byte("hello")
	s := a.String(src)
	src[0] = 'j'
	if s != "hello" {
		t.Errorf("arena string aliases its input: %q", s)
	}
	big := bytes.Repeat([]byte("x"), arenaBlock)
	var all []string
	for i := 0; i < 100; i++ {
		all = append(all, a.String([]byte(strings.Repeat(string(rune('a'+i%26)), 1000))))
	}
	if got := a.String(big); len(got) != len(big) {
		t.Errorf("big string has length %d", len(got))
	}
	for i, s := range all {
		if s != strings.Repeat(string(rune('a'+i%26)), 1000) {
			t.Fatalf("string %d changed", i)
		}
	}
	if a.String(nil) != "" {
		t.Error("empty input")
	}
}

// skipAll validates the input with Skip alone (the callback-free path).
func skipAll(data []byte, opts Options) error {
	d := NewDecoder(data, opts)
	if err := d.Skip(); err != nil {
		return err
	}
	return d.End()
}

// FuzzDecode compares the decoder with encoding/json: both accept the same
// inputs (within the depth limit), and decode valid UTF-8 to the same value.
// Skip must accept and reject exactly as full decoding does, with the same
// error, with and without the JSONC options.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"a":[1,-2.5e3,"\u00e9\ud83d\ude00",true,false,null,{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{{}, {AllowComments: true, AllowTrailingCommas: true}} {
			_, full := toAny(NewDecoder(data, opts))
			skip := skipAll(data, opts)
			if fmt.Sprint(full) != fmt.Sprint(skip) {
				t.Fatalf("options %+v: decode error %v, skip error %v for %q", opts, full, skip, data)
			}
		}
		got, err := toAny(NewDecoder(data, Options{}))
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v is %T, not *Error", err, err)
		}
		if e != nil && strings.HasPrefix(e.Msg, "nesting deeper") {
			return
		}
		stripped := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if valid := json.Valid(stripped); valid != (err == nil) {
			t.Fatalf("json.Valid = %v but decode error = %v for %q", valid, err, data)
		}
		if err == nil && utf8.Valid(stripped) {
			want, err := stdDecode(stripped)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("value mismatch for %q (-want +got):\n%s", data, diff)
			}
		}
	})
}

// TestIndentation covers the eight-spaces-at-a-time path after newlines.
func TestIndentation(t *testing.T) {
	for _, indent := range []int{0, 1, 7, 8, 9, 16, 17, 25} {
		in := "{\n" + strings.Repeat(" ", indent) + "\"k\": 1,\n" + strings.Repeat(" ", indent) + "\t \"j\":\n" + strings.Repeat(" ", indent) + "2}"
		d := NewDecoder([]byte(in), Options{})
		var got []Pos
		err := d.Object(func([]byte) error {
			got = append(got, d.KeyPos())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []Pos{{Line: 2, Column: indent + 1, Offset: 2 + indent}, {Line: 3, Column: indent + 3, Offset: 2 + indent + 8 + indent + 2}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("indent %d: positions (-want +got):\n%s", indent, diff)
		}
	}
}
