package otlp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// jsonReader reads OTLP/JSON straight into the generated OTLP messages
// (jsondecode.go), several times faster than protojson and accepting and
// refusing exactly what protojson.UnmarshalOptions{DiscardUnknown: true}
// does: its grammar (numbers as it delimits them, strings as valid UTF-8
// with JSON's escapes), integers as numbers or strings ("1e3" and "1.0"
// included), floats also as "NaN" and "±Infinity", bytes as standard or
// URL base64 with or without padding, enums as numbers or names (unknown
// names ignored), fields by JSON or proto name, null as unset, a field
// twice or two members of a oneof as errors, and its recursion limit.
// Parts of its number handling are ported from protobuf's internal/json.
type jsonReader struct {
	data    []byte
	pos     int
	depth   int    // messages that may still be entered: protojson's recursion limit
	scratch []byte // the unescaped text of the last string read that had escapes

	// Attributes are most of a payload: they are allocated in slabs.
	kvSlab  []commonpb.KeyValue
	anySlab []commonpb.AnyValue
	strSlab []commonpb.AnyValue_StringValue
	// Their keys and many values repeat: short strings are shared.
	strs [256]string
}

// intern returns b as a string, the same string as an earlier equal b
// when it is still in the cache (direct-mapped by an FNV-1a hash).
func (r *jsonReader) intern(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return string(b)
	}
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &r.strs[h%uint32(len(r.strs))]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

// alloc returns a new zero T from the slab, which it refills with a
// larger one when full. A slab lives as long as any message in it: the
// decoded request (the receiver keeps no message past it).
func alloc[T any](slab *[]T) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, min(2*cap(*slab)+16, 1024))
	}
	*slab = (*slab)[:len(*slab)+1]
	return &(*slab)[len(*slab)-1]
}

// jsonError is a decoding failure at a position of the input.
type jsonError struct {
	line, col int
	msg       string
}

func (e *jsonError) Error() string { return fmt.Sprintf("(line %d:%d): %s", e.line, e.col, e.msg) }

var errJSONDepth = errors.New("exceeded max recursion depth")

// errorAt describes a failure at byte offset pos.
func (r *jsonReader) errorAt(pos int, format string, args ...any) error {
	pos = min(pos, len(r.data))
	before := r.data[:pos]
	line := bytes.Count(before, []byte("\n")) + 1
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return &jsonError{line: line, col: utf8.RuneCount(before) + 1, msg: fmt.Sprintf(format, args...)}
}

// unexpected describes whatever is at the current position, where
// something else was expected.
func (r *jsonReader) unexpected() error {
	if r.pos >= len(r.data) {
		return r.errorAt(r.pos, "unexpected end of input")
	}
	end := r.pos + 1
	for isNotDelim(r.data[r.pos]) && end < len(r.data) && end-r.pos < 32 && isNotDelim(r.data[end]) {
		end++
	}
	return r.errorAt(r.pos, "unexpected %q", r.data[r.pos:end])
}

// invalid reports a value of the wrong kind or out of range for field.
func (r *jsonReader) invalid(start int, what string) error {
	end := min(r.pos, start+40)
	if end <= start {
		end = min(len(r.data), start+1)
	}
	return r.errorAt(start, "invalid %s value %s", what, r.data[start:end])
}

// peek skips whitespace and returns the next byte (0 at the end).
func (r *jsonReader) peek() byte {
	for r.pos < len(r.data) {
		switch c := r.data[r.pos]; c {
		case ' ', '\n', '\r', '\t':
			r.pos++
		default:
			return c
		}
	}
	return 0
}

// end checks that only whitespace follows.
func (r *jsonReader) end() error {
	r.peek()
	if r.pos != len(r.data) {
		return r.unexpected()
	}
	return nil
}

// isNotDelim tells the bytes that may not directly follow a number or a
// literal (protojson reads 1x or truex as one invalid token).
func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// literal consumes s (true, false or null) if it comes next, whole.
func (r *jsonReader) literal(s string) bool {
	rest := r.data[r.pos:]
	if len(rest) < len(s) || string(rest[:len(s)]) != s || len(rest) > len(s) && isNotDelim(rest[len(s)]) {
		return false
	}
	r.pos += len(s)
	return true
}

// null consumes a null value if one comes next.
func (r *jsonReader) null() bool { return r.peek() == 'n' && r.literal("null") }

// enter opens a message's object, within the recursion limit.
func (r *jsonReader) enter() error {
	r.depth--
	if r.depth < 0 {
		return errJSONDepth
	}
	if r.peek() != '{' {
		return r.unexpected()
	}
	r.pos++
	return nil
}

// field reads the next field name of an object and the colon after it,
// i being the number of fields read before; ok is false, the closing
// brace consumed, when the object has no more.
func (r *jsonReader) field(i int) (name []byte, ok bool, err error) {
	c := r.peek()
	if c == '}' {
		r.pos++
		return nil, false, nil
	}
	if i > 0 {
		if c != ',' {
			return nil, false, r.unexpected()
		}
		r.pos++
		c = r.peek()
	}
	if c != '"' {
		return nil, false, r.unexpected()
	}
	if name, err = r.stringBytes(); err != nil {
		return nil, false, err
	}
	if r.peek() != ':' {
		return nil, false, r.errorAt(r.pos, `missing ":" after field name %q`, name)
	}
	r.pos++
	return name, true, nil
}

// list reads an array, calling elem to read each element.
func (r *jsonReader) list(elem func() error) error {
	if r.peek() != '[' {
		return r.unexpected()
	}
	r.pos++
	for i := 0; ; i++ {
		c := r.peek()
		if c == ']' {
			r.pos++
			return nil
		}
		if i > 0 {
			if c != ',' {
				return r.unexpected()
			}
			r.pos++
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// unknown skips the value of a field the message does not have. A name in
// brackets is an extension's; protojson refuses one it knows (none extends
// OTLP's messages) and skips the others.
func (r *jsonReader) unknown(name []byte) error {
	if len(name) >= 2 && name[0] == '[' && name[len(name)-1] == ']' {
		xt, err := protoregistry.GlobalTypes.FindExtensionByName(protoreflect.FullName(name[1 : len(name)-1]))
		if err != nil && err != protoregistry.NotFound {
			return r.errorAt(r.pos, "unable to resolve %s: %v", name, err)
		}
		if xt != nil {
			return r.errorAt(r.pos, "OTLP messages cannot be extended by %s", name)
		}
	}
	return r.skip(0)
}

// skip reads and discards a value, open being the arrays and objects of
// skipped values around it; they may nest as deep as messages still may.
func (r *jsonReader) skip(open int) error {
	switch c := r.peek(); c {
	case '{', '[':
		open++
		if open > r.depth {
			return errJSONDepth
		}
		if c == '[' {
			return r.list(func() error { return r.skip(open) })
		}
		r.pos++
		for i := 0; ; i++ {
			_, ok, err := r.field(i)
			if err != nil || !ok {
				return err
			}
			if err := r.skip(open); err != nil {
				return err
			}
		}
	case '"':
		_, err := r.stringBytes()
		return err
	case 't':
		if r.literal("true") {
			return nil
		}
	case 'f':
		if r.literal("false") {
			return nil
		}
	case 'n':
		if r.literal("null") {
			return nil
		}
	default:
		if _, ok := r.number(); ok {
			return nil
		}
	}
	return r.unexpected()
}

// stringBytes reads the string at the current position (a '"'). The
// result aliases the input, or r.scratch when the string has escapes: it
// is valid until the next string is read.
func (r *jsonReader) stringBytes() ([]byte, error) {
	d := r.data
	start := r.pos + 1
	for i := start; i < len(d); {
		switch c := d[i]; {
		case c == '"':
			r.pos = i + 1
			return d[start:i], nil
		case c == '\\':
			return r.escapedString(start, i)
		case c < ' ':
			return nil, r.errorAt(i, "invalid character %q in string", c)
		case c >= utf8.RuneSelf:
			rn, n := utf8.DecodeRune(d[i:])
			if rn == utf8.RuneError && n == 1 {
				return nil, r.errorAt(i, "invalid UTF-8 in string")
			}
			i += n
		default:
			i++
		}
	}
	return nil, r.errorAt(len(d), "unexpected end of input in string")
}

// escapedString continues stringBytes from the first backslash, at i.
func (r *jsonReader) escapedString(start, i int) ([]byte, error) {
	d := r.data
	out := append(r.scratch[:0], d[start:i]...)
	for i < len(d) {
		switch c := d[i]; {
		case c == '"':
			r.pos, r.scratch = i+1, out
			return out, nil
		case c == '\\':
			if len(d)-i < 2 {
				return nil, r.errorAt(len(d), "unexpected end of input in string")
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if len(d)-i < 6 {
					return nil, r.errorAt(len(d), "unexpected end of input in string")
				}
				v, ok := hex4(d[i+2 : i+6])
				if !ok {
					return nil, r.errorAt(i, "invalid escape code %q in string", d[i:i+6])
				}
				i += 6
				rn := rune(v)
				if utf16.IsSurrogate(rn) {
					if len(d)-i < 6 {
						return nil, r.errorAt(len(d), "unexpected end of input in string")
					}
					v2, ok := hex4(d[i+2 : i+6])
					rn = utf16.DecodeRune(rn, rune(v2))
					if d[i] != '\\' || d[i+1] != 'u' || rn == unicode.ReplacementChar || !ok {
						return nil, r.errorAt(i, "invalid escape code %q in string", d[i:i+6])
					}
					i += 6
				}
				out = utf8.AppendRune(out, rn)
				continue
			default:
				return nil, r.errorAt(i, "invalid escape code %q in string", d[i:i+2])
			}
			i += 2
		case c < ' ':
			return nil, r.errorAt(i, "invalid character %q in string", c)
		case c >= utf8.RuneSelf:
			rn, n := utf8.DecodeRune(d[i:])
			if rn == utf8.RuneError && n == 1 {
				return nil, r.errorAt(i, "invalid UTF-8 in string")
			}
			out = append(out, d[i:i+n]...)
			i += n
		default:
			out = append(out, c)
			i++
		}
	}
	return nil, r.errorAt(len(d), "unexpected end of input in string")
}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (uint16, bool) {
	var v uint16
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// number reads a number token, as protojson delimits it.
func (r *jsonReader) number() ([]byte, bool) {
	n, ok := numberLen(r.data[r.pos:])
	if !ok {
		return nil, false
	}
	r.pos += n
	return r.data[r.pos-n : r.pos], true
}

// numberLen is the length of the JSON number at the start of s, ported
// from protobuf's internal/encoding/json parseNumber with its quirks (it
// takes "1e" before a delimiter as a number).
func numberLen(s []byte) (int, bool) {
	in := s
	n := 0
	if len(s) == 0 {
		return 0, false
	}
	if s[0] == '-' {
		s, n = s[1:], n+1
		if len(s) == 0 {
			return 0, false
		}
	}
	switch {
	case s[0] == '0':
		s, n = s[1:], n+1
	case '1' <= s[0] && s[0] <= '9':
		s, n = s[1:], n+1
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	default:
		return 0, false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s, n = s[2:], n+2
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s, n = s[1:], n+1
		if s[0] == '+' || s[0] == '-' {
			s, n = s[1:], n+1
			if len(s) == 0 {
				return 0, false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s, n = s[1:], n+1
		}
	}
	if n < len(in) && isNotDelim(in[n]) {
		return 0, false
	}
	return n, true
}

// numeric reads a number or a string holding exactly one, as protojson
// reads integers and floats; quoted is set for a string.
func (r *jsonReader) numeric() (raw []byte, quoted, ok bool, err error) {
	switch c := r.peek(); {
	case c == '"':
		s, err := r.stringBytes()
		if err != nil {
			return nil, true, false, err
		}
		n, ok := numberLen(s)
		return s, true, ok && n == len(s), nil
	case c == '-' || '0' <= c && c <= '9':
		raw, ok := r.number()
		if !ok {
			return nil, false, false, r.unexpected()
		}
		return raw, false, true, nil
	}
	return nil, false, false, nil
}

// integer reads an integer field of bits bits, signed or not.
func (r *jsonReader) integer(bits int, signed bool, what string) (uint64, error) {
	start := r.peekPos()
	raw, _, ok, err := r.numeric()
	if err != nil {
		return 0, err
	}
	if ok {
		if v, ok := intOf(raw, bits, signed); ok {
			return v, nil
		}
	}
	return 0, r.invalid(start, what)
}

func (r *jsonReader) peekPos() int {
	r.peek()
	return r.pos
}

// intOf converts a number token to an integer of bits bits as protojson
// does: the token must denote a whole number (1.0, 1e3 and 0.5e1 do).
// A signed result is returned as its two's complement.
func intOf(raw []byte, bits int, signed bool) (uint64, bool) {
	if len(raw) <= 19 && raw[0] != '0' && raw[0] != '-' {
		// Plain digits, the usual case: no exponent, fraction or sign,
		// and fewer than 20 of them, so no overflow.
		var v uint64
		plain := true
		for _, c := range raw {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if plain {
			limit := uint64(1)<<bits - 1
			if signed {
				limit >>= 1
			}
			return v, v <= limit
		}
	}
	s, ok := intString(raw)
	if !ok {
		return 0, false
	}
	if signed {
		n, err := strconv.ParseInt(s, 10, bits)
		return uint64(n), err == nil
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

// intString writes a number token as a plain integer, ported from
// protobuf's internal/encoding/json parseNumberParts and
// normalizeToIntString; ok is false when it is not a whole number or its
// exponent is out of range.
func intString(raw []byte) (string, bool) {
	s := raw
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	var intp, frac, exp []byte
	if s[0] == '0' {
		s = s[1:]
	} else {
		n := 1
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		intp, s = s[:n], s[n:]
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		n := 2
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			n++
		}
		frac, s = s[1:n], s[n:]
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		exp = s[1:]
	}
	frac = bytes.TrimRight(frac, "0")
	if len(intp) == 0 && len(frac) == 0 {
		return "0", true
	}
	e := 0
	if len(exp) > 0 {
		i, err := strconv.ParseInt(string(exp), 10, 32)
		if err != nil {
			return "", false
		}
		e = int(i)
	}
	var num []byte
	if e >= 0 {
		if len(frac) > e || len(intp)+e > 20 {
			return "", false
		}
		num = append(append(make([]byte, 0, len(intp)+e), intp...), frac...)
		for range e - len(frac) {
			num = append(num, '0')
		}
	} else {
		if len(frac) > 0 {
			return "", false
		}
		index := len(intp) + e
		if index < 0 {
			return "", false
		}
		for _, c := range intp[index:] {
			if c != '0' {
				return "", false
			}
		}
		num = intp[:index]
	}
	if neg {
		return "-" + string(num), true
	}
	return string(num), true
}

// float reads a double field: a number, a string holding one, or "NaN",
// "Infinity" or "-Infinity".
func (r *jsonReader) float(what string) (float64, error) {
	start := r.peekPos()
	raw, quoted, ok, err := r.numeric()
	if err != nil {
		return 0, err
	}
	if quoted {
		switch string(raw) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	if ok {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, nil
		}
	}
	return 0, r.invalid(start, what)
}

// boolean reads a bool field: true or false only.
func (r *jsonReader) boolean(what string) (bool, error) {
	start := r.peekPos()
	switch r.peek() {
	case 't':
		if r.literal("true") {
			return true, nil
		}
	case 'f':
		if r.literal("false") {
			return false, nil
		}
	}
	return false, r.invalid(start, what)
}

// text reads a string field.
func (r *jsonReader) text(what string) (string, error) {
	if r.peek() != '"' {
		return "", r.invalid(r.pos, what)
	}
	s, err := r.stringBytes()
	return r.intern(s), err
}

// bytesValue reads a bytes field: standard or URL base64, padded or not,
// as protojson decodes it.
func (r *jsonReader) bytesValue(what string) ([]byte, error) {
	start := r.peekPos()
	if r.peek() != '"' {
		return nil, r.invalid(start, what)
	}
	s, err := r.stringBytes()
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding
	if bytes.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(b, s)
	if err != nil {
		return nil, r.invalid(start, what)
	}
	return b[:n], nil
}

// enum reads an enum field: its number, or its name in names; an unknown
// name leaves it unset, as protojson's DiscardUnknown does.
func (r *jsonReader) enum(names map[string]int32, what string) (int32, error) {
	start := r.peekPos()
	switch c := r.peek(); {
	case c == '"':
		s, err := r.stringBytes()
		if err != nil {
			return 0, err
		}
		return names[string(s)], nil
	case c == '-' || '0' <= c && c <= '9':
		if raw, ok := r.number(); ok {
			if v, ok := intOf(raw, 32, true); ok {
				return int32(v), nil
			}
		}
	}
	return 0, r.invalid(start, what)
}

// depthLimit is protojson's default recursion limit.
const depthLimit = protowire.DefaultRecursionLimit
