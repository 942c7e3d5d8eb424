package rollup

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
)

// DayCall is one Calls entry of a day: an attribution, session and system
// prompt with their hours joined (Days).
type DayCall struct {
	Attr, Session, FP int64
	V                 Calls
}

// DayExtra is one Extras entry of a day.
type DayExtra struct {
	Attr int64
	V    Extras
}

// Day is one day's insight entries.
type Day struct {
	Day    int64
	Calls  []DayCall
	Extras []DayExtra
}

// SortCalls orders a day's call entries by session, then attribution and
// fingerprint, unless they are in that order already: then the entries of
// one person's session are adjacent, and a reader merges them without a
// table per day.
func SortCalls(calls []DayCall) {
	byKey := func(a, b DayCall) int {
		switch {
		case a.Session != b.Session:
			return cmp.Compare(a.Session, b.Session)
		case a.Attr != b.Attr:
			return cmp.Compare(a.Attr, b.Attr)
		}
		return cmp.Compare(a.FP, b.FP)
	}
	if !slices.IsSortedFunc(calls, byKey) {
		slices.SortFunc(calls, byKey)
	}
}

// The packed-day format: a blob of call entries is a count followed by
// each entry's attribution, session, fingerprint and Calls values as
// varints, its call times in microseconds since the day's start; a blob
// of extras entries is a count followed by each entry's attribution and
// Extras values. Stores keep a day's entries packed in one or more blobs
// of each kind (SQLite: insight_days).

// EncodeCalls packs the call entries of a day.
func EncodeCalls(day int64, calls []DayCall) []byte {
	b := make([]byte, 0, 8+len(calls)*40)
	base := day * usPerDay
	b = binary.AppendUvarint(b, uint64(len(calls)))
	for _, c := range calls {
		b = binary.AppendVarint(b, c.Attr)
		b = binary.AppendVarint(b, c.Session)
		b = binary.AppendVarint(b, c.FP)
		for i, v := range c.V {
			if i == FirstUS || i == LastUS {
				v -= base
			}
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// EncodeExtras packs extras entries.
func EncodeExtras(extras []DayExtra) []byte {
	b := make([]byte, 0, 8+len(extras)*24)
	b = binary.AppendUvarint(b, uint64(len(extras)))
	for _, x := range extras {
		b = binary.AppendVarint(b, x.Attr)
		for _, v := range x.V {
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

// ErrBadDay is a packed blob that does not decode.
var ErrBadDay = errors.New("corrupt packed insight day")

// Varints reads varints from a blob; Err is set, and reads return zeros,
// once the blob ends or holds a bad varint.
type Varints struct {
	B   []byte
	Err bool
}

// Next reads one varint.
func (r *Varints) Next() int64 {
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.Err = true
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Fill reads len(dst) varints into dst: the entries of an org's month are
// millions of varints, read here in one loop rather than a call each.
func (r *Varints) Fill(dst []int64) {
	b := r.B
	for k := range dst {
		if len(b) > 0 && b[0] < 0x80 { // one byte: most values
			dst[k] = int64(b[0]>>1) ^ -int64(b[0]&1)
			b = b[1:]
			continue
		}
		u, n := binary.Uvarint(b)
		if n <= 0 {
			r.Err = true
			return
		}
		dst[k] = int64(u>>1) ^ -int64(u&1)
		b = b[n:]
	}
	r.B = b
}

// Count reads an entry count, which cannot exceed the bytes left.
func (r *Varints) Count() int {
	v, n := binary.Uvarint(r.B)
	if n <= 0 || v > uint64(len(r.B)) {
		r.Err = true
		return 0
	}
	r.B = r.B[n:]
	return int(v)
}

// DecodeCalls appends the entries of a blob written by EncodeCalls.
func DecodeCalls(day int64, b []byte, out []DayCall) ([]DayCall, error) {
	r := Varints{B: b}
	base := day * usPerDay
	n := r.Count()
	out = slices.Grow(out, n) // n is at most the blob's length
	for i := 0; i < n && !r.Err; i++ {
		out = out[:len(out)+1]
		c := &out[len(out)-1]
		var key [3]int64
		r.Fill(key[:])
		r.Fill(c.V[:])
		c.Attr, c.Session, c.FP = key[0], key[1], key[2]
		c.V[FirstUS] += base
		c.V[LastUS] += base
	}
	if r.Err || len(r.B) != 0 {
		return out, ErrBadDay
	}
	return out, nil
}

// DecodeExtras appends the entries of a blob written by EncodeExtras.
func DecodeExtras(b []byte, out []DayExtra) ([]DayExtra, error) {
	r := Varints{B: b}
	n := r.Count()
	for i := 0; i < n && !r.Err; i++ {
		var x DayExtra
		x.Attr = r.Next()
		for j := range x.V {
			x.V[j] = r.Next()
		}
		out = append(out, x)
	}
	if r.Err || len(r.B) != 0 {
		return out, ErrBadDay
	}
	return out, nil
}

// PackedSessionValues is the number of varints a packed session takes:
// attribution, session, then the Calls values sessions use.
const PackedSessionValues = 14

// PackSession appends a session's sums as PackedSessionValues varints:
// its attribution and session as differences from the previous session's,
// times from base, the last call's relative to the first, as is its input.
// A period's sessions are kept so in memory, about 40 bytes each.
func PackSession(b []byte, base, dAttr, dSession int64, v *Calls) []byte {
	for _, x := range [PackedSessionValues]int64{
		dAttr, dSession, v[Requests], v[Input], v[CacheRead], v[CacheWrite5m], v[CacheWrite1h], v[Output], v[Cost],
		v[FirstUS] - base, v[LastUS] - v[FirstUS], v[FirstInput], v[LastInput] - v[FirstInput], v[Growing],
	} {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// UnpackSession is the Calls of a session PackSession wrote (its smallest
// input and cache misses are not kept: sessions do not use them).
func UnpackSession(base int64, e *[PackedSessionValues]int64) Calls {
	var v Calls
	v[Requests], v[Input], v[CacheRead], v[CacheWrite5m], v[CacheWrite1h], v[Output], v[Cost] = e[2], e[3], e[4], e[5], e[6], e[7], e[8]
	v[FirstUS] = base + e[9]
	v[LastUS] = v[FirstUS] + e[10]
	v[FirstInput] = e[11]
	v[LastInput] = e[11] + e[12]
	v[Growing] = e[13]
	return v
}
