package ingest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/allot-dev/allot"
)

// ParseReportedUSD reads a dollar amount as tools report it: a decimal
// string that may carry more than nine decimals or an exponent
// ("0.0123456789012", "1.5e-05"), rounded half up to a nano-dollar. The
// digits are handled as text, never through a float, so "0.1" is exactly
// 100000000 nano-dollars. Negative, non-finite or absurd amounts (over a
// billion dollars) are errors.
func ParseReportedUSD(s string) (allot.Money, error) {
	s = strings.TrimSpace(s)
	orig := s
	if s == "" {
		return 0, fmt.Errorf("parse usd %q: empty", orig)
	}
	if s[0] == '+' {
		s = s[1:]
	}
	if strings.HasPrefix(s, "-") {
		if strings.Trim(s[1:], "0.") == "" && strings.ContainsAny(s[1:], "0") {
			return 0, nil // "-0", "-0.000"
		}
		return 0, fmt.Errorf("parse usd %q: negative", orig)
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 30 || e < -30 {
			return 0, fmt.Errorf("parse usd %q: bad exponent", orig)
		}
		mant, exp = s[:i], e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("parse usd %q: no digits", orig)
	}
	digits := whole + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("parse usd %q: not a decimal number", orig)
		}
	}
	// The value is digits × 10^(exp - len(frac)); we want nano-dollars,
	// i.e. digits × 10^(exp - len(frac) + 9), rounded half up.
	shift := exp - len(frac) + allot.MoneyDecimals
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	var roundUp bool
	if shift < 0 {
		cut := len(digits) + shift // digits kept
		if cut < 0 {
			return 0, nil
		}
		if cut < len(digits) {
			roundUp = digits[cut] >= '5'
		}
		digits = digits[:cut]
		shift = 0
	}
	if len(digits)+shift > 18 { // over 10^18 nano = 1e9 USD
		return 0, fmt.Errorf("parse usd %q: out of range", orig)
	}
	var v int64
	for _, c := range digits {
		v = v*10 + int64(c-'0')
	}
	for range shift {
		v *= 10
	}
	if roundUp {
		v++
	}
	return allot.Money(v), nil
}

// ReportedUSDFromFloat converts a dollar amount a tool sent as a floating
// point number, through its shortest decimal form, so 0.1 is 0.1.
func ReportedUSDFromFloat(f float64) (allot.Money, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("usd amount %v is not a number", f)
	}
	return ParseReportedUSD(strconv.FormatFloat(f, 'g', -1, 64))
}
