package allot

import (
	"strconv"
	"strings"
)

// Dollars formats m for people: dollars to the cent, rounded half away
// from zero, with thousands separators, e.g. "$1,097.39" or "-$0.50".
// Tables and sentences use it; JSON and CSV keep the exact nine places
// (Money.String), so no reader of a file loses a nano-dollar.
func (m Money) Dollars() string {
	u := uint64(m)
	neg := m < 0
	if neg {
		u = uint64(-m) // -MinInt64 wraps to itself, whose uint64 is 2^63: right
	}
	cents := u / 10_000_000
	if u%10_000_000 >= 5_000_000 {
		cents++
	}
	s := "$" + GroupDigits(cents/100) + "." + strconv.FormatUint(cents%100/10, 10) + strconv.FormatUint(cents%10, 10)
	if neg && cents > 0 {
		return "-" + s
	}
	return s
}

// GroupDigits writes n with a comma between each group of three digits,
// e.g. 4,651,087: one unit per column in tables, no "6363.7k" beside
// "59.59M", and every digit readable.
func GroupDigits[T ~int64 | ~uint64 | ~int](n T) string {
	var s string
	neg := n < 0
	if neg {
		s = strconv.FormatUint(uint64(-int64(n)), 10)
	} else {
		s = strconv.FormatUint(uint64(n), 10)
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	first := len(s) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(s[:first])
	for i := first; i < len(s); i += 3 {
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
