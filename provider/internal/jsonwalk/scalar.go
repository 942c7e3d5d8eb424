package jsonwalk

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendString appends the decoded contents of the JSON string v (with its
// quotes) to dst, decoding escapes and replacing invalid UTF-8 with U+FFFD
// exactly as encoding/json does. It reports false if v is not a string.
func AppendString(dst, v []byte) ([]byte, bool) {
	c := Chunks(v)
	for b, ok := c.Next(); ok; b, ok = c.Next() {
		dst = append(dst, b...)
	}
	return dst, c.Valid()
}

// StringChunks yields the decoded contents of a JSON string piece by
// piece, so a caller can hash or copy a long string without a buffer.
type StringChunks struct {
	s     []byte // what is left to decode
	valid bool
	tmp   [utf8.UTFMax]byte
}

// Chunks returns the decoded pieces of the JSON string v (with its quotes).
// If v is not a string there are none and Valid reports false.
func Chunks(v []byte) StringChunks {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return StringChunks{}
	}
	return StringChunks{s: v[1 : len(v)-1], valid: true}
}

// Valid reports whether the string decoded without error so far.
func (c *StringChunks) Valid() bool { return c.valid }

// Next returns the next decoded piece; the piece is valid until the next
// call. It returns false at the end or at an invalid escape.
func (c *StringChunks) Next() ([]byte, bool) {
	s := c.s
	if len(s) == 0 {
		return nil, false
	}
	if s[0] != '\\' {
		run := s
		if i := bytes.IndexByte(s, '\\'); i >= 0 {
			run = s[:i]
		}
		if !utf8.Valid(run) {
			n := 0
			for n < len(run) {
				r, size := utf8.DecodeRune(run[n:])
				if r == utf8.RuneError && size == 1 {
					break
				}
				n += size
			}
			if n == 0 { // an invalid byte: U+FFFD, as encoding/json decodes it
				c.s = s[1:]
				return utf8.AppendRune(c.tmp[:0], utf8.RuneError), true
			}
			run = run[:n]
		}
		c.s = s[len(run):]
		return run, true
	}
	if len(s) < 2 {
		return c.fail()
	}
	r, n := rune(0), 2 // the rune and the length of its escape
	switch s[1] {
	case '"', '\\', '/':
		c.s = s[2:]
		return s[1:2], true
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		var ok bool
		if r, ok = hex4(s[2:]); !ok {
			return c.fail()
		}
		n = 6
		if utf16.IsSurrogate(r) {
			// A valid pair takes the next escape too; anything else is
			// U+FFFD, as encoding/json decodes it.
			pair := utf8.RuneError
			if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if r2, ok := hex4(s[8:]); ok {
					pair = utf16.DecodeRune(r, r2)
				}
			}
			if pair != utf8.RuneError {
				n = 12
			}
			r = pair
		}
	default:
		return c.fail()
	}
	c.s = s[n:]
	return utf8.AppendRune(c.tmp[:0], r), true
}

func (c *StringChunks) fail() ([]byte, bool) {
	c.s, c.valid = nil, false
	return nil, false
}

// hex4 decodes four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// String returns the decoded JSON string v; ok is false if v is not a string.
func String(v []byte) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), true
		}
	}
	var scratch [128]byte
	b, ok := AppendString(scratch[:0], v)
	if !ok {
		return "", false
	}
	return string(b), true
}

// Int returns the JSON number v as an int64. A number written with a
// fraction or exponent is accepted if its value is a whole number in range
// (1e3, 100.0). ok is false for anything else.
func Int(v []byte) (n int64, ok bool) {
	if len(v) == 0 {
		return 0, false
	}
	i := 0
	if v[0] == '-' {
		i = 1
	}
	plain := i < len(v) && (v[i] != '0' || len(v) == i+1)
	for _, c := range v[i:] {
		if c < '0' || c > '9' {
			plain = false
			break
		}
	}
	if plain {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	if !isNumber(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// isNumber reports whether v is a number in JSON's grammar.
func isNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && '1' <= v[i] && v[i] <= '9':
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if i >= len(v) || v[i] < '0' || v[i] > '9' {
			return false
		}
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			i++
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if i >= len(v) || v[i] < '0' || v[i] > '9' {
			return false
		}
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			i++
		}
	}
	return i == len(v)
}

// Bool returns the JSON literal true or false; ok is false for anything else.
func Bool(v []byte) (value, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
