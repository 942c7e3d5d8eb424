// Package jsonwalk finds fields in JSON bodies without decoding them: it
// walks object members and array elements and hands back subslices of the
// input. The provider packages use it to read the few fields they need from
// requests, responses and stream chunks without allocating.
//
// Keys are compared exactly, byte for byte after unescaping, as the
// providers' own servers compare them. (encoding/json matches struct fields
// case-insensitively, so {"model":"a","MODEL":"b"} would read as "b" while
// the provider serves "a": a gap a gateway that prices and limits models
// must not have.) Of duplicate keys the last one wins, as in encoding/json,
// Python and JavaScript.
//
// The walkers never panic and always make progress on any input; on input
// that is not JSON they stop early. Callers that must tell valid from
// invalid input check it with json.Valid first.
package jsonwalk

import "bytes"

// Member is one member of an object, as written in the input.
type Member struct {
	Key   []byte // the key with its quotes, escapes as written
	Value []byte // the value, without surrounding whitespace
}

// Is reports whether the member's key is name, after unescaping.
func (m Member) Is(name string) bool { return StringIs(m.Key, name) }

// StringIs reports whether v is the JSON string s, after unescaping,
// without allocating for strings of up to 64 bytes.
func StringIs(v []byte, s string) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	var scratch [64]byte
	d, ok := AppendString(scratch[:0], v)
	return ok && string(d) == s
}

// Name returns the member's key after unescaping, in scratch if the key has
// escapes. Switch on string(m.Name(buf)) to match keys without allocating.
func (m Member) Name(scratch []byte) []byte {
	k := m.Key
	if len(k) < 2 {
		return nil
	}
	if inner := k[1 : len(k)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	s, _ := AppendString(scratch[:0], k)
	return s
}

// Object iterates over the members of a JSON object.
type Object struct {
	b     []byte
	i     int // next position; -1 when done
	first bool
}

// Members returns an iterator over the members of the object v. If v is
// not an object the iterator is empty.
func Members(v []byte) Object {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '{' {
		return Object{i: -1}
	}
	return Object{b: v, i: i + 1, first: true}
}

// Next returns the next member, or false at the end of the object (or at
// the first byte that is not valid JSON).
func (o *Object) Next() (Member, bool) {
	if o.i < 0 {
		return Member{}, false
	}
	b := o.b
	i := skipSpace(b, o.i)
	if !o.first {
		if i >= len(b) || b[i] != ',' {
			o.i = -1
			return Member{}, false
		}
		i = skipSpace(b, i+1)
	}
	o.first = false
	if i >= len(b) || b[i] != '"' {
		o.i = -1
		return Member{}, false
	}
	keyEnd := stringEnd(b, i)
	if keyEnd < 0 {
		o.i = -1
		return Member{}, false
	}
	j := skipSpace(b, keyEnd)
	if j >= len(b) || b[j] != ':' {
		o.i = -1
		return Member{}, false
	}
	start := skipSpace(b, j+1)
	end := valueEnd(b, start)
	if end < 0 {
		o.i = -1
		return Member{}, false
	}
	o.i = end
	return Member{Key: b[i:keyEnd], Value: b[start:end]}, true
}

// Array iterates over the elements of a JSON array.
type Array struct {
	b     []byte
	i     int // next position; -1 when done
	first bool
}

// Elements returns an iterator over the elements of the array v. If v is
// not an array the iterator is empty.
func Elements(v []byte) Array {
	i := skipSpace(v, 0)
	if i >= len(v) || v[i] != '[' {
		return Array{i: -1}
	}
	return Array{b: v, i: i + 1, first: true}
}

// Next returns the next element, or false at the end of the array (or at
// the first byte that is not valid JSON).
func (a *Array) Next() ([]byte, bool) {
	if a.i < 0 {
		return nil, false
	}
	b := a.b
	i := skipSpace(b, a.i)
	if !a.first {
		if i >= len(b) || b[i] != ',' {
			a.i = -1
			return nil, false
		}
		i = skipSpace(b, i+1)
	}
	a.first = false
	if i >= len(b) || b[i] == ']' {
		a.i = -1
		return nil, false
	}
	end := valueEnd(b, i)
	if end < 0 {
		a.i = -1
		return nil, false
	}
	a.i = end
	return b[i:end], true
}

// Get returns the value of the last member of object v named key.
func Get(v []byte, key string) ([]byte, bool) {
	var found []byte
	ok := false
	it := Members(v)
	for m, more := it.Next(); more; m, more = it.Next() {
		if m.Is(key) {
			found, ok = m.Value, true
		}
	}
	return found, ok
}

// Len returns the number of elements of the array v, 0 if v is not an array.
func Len(v []byte) int {
	n := 0
	it := Elements(v)
	for _, more := it.Next(); more; _, more = it.Next() {
		n++
	}
	return n
}

// Trim returns v without surrounding JSON whitespace.
func Trim(v []byte) []byte {
	i := skipSpace(v, 0)
	j := len(v)
	for j > i && isSpace(v[j-1]) {
		j--
	}
	return v[i:j]
}

// IsNull reports whether v is the literal null (absent values are not).
func IsNull(v []byte) bool { return string(v) == "null" }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the offset just past the value starting at b[i], or -1
// if there is no complete value there.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		return containerEnd(b, i)
	case ',', ':', '}', ']':
		return -1
	}
	j := i
	for j < len(b) && !isDelimiter(b[j]) {
		j++
	}
	return j
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', ':', '}', ']', '{', '[', '"', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// stringEnd returns the offset just past the string whose opening quote
// is at b[i], or -1 if it does not end.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		q += j
		escapes := 0
		for k := q - 1; k > i && b[k] == '\\'; k-- {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// containerEnd returns the offset just past the object or array opening
// at b[i], or -1 if it does not end.
func containerEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			e := stringEnd(b, j)
			if e < 0 {
				return -1
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}
