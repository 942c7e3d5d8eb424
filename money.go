package allot

import (
	"fmt"
	"strconv"
	"strings"
)

// Money is an exact amount of US dollars in nano-dollars (1e-9 USD). All
// arithmetic on money is integer arithmetic; floats never touch it. int64
// nano-dollars holds up to about 9.2 billion USD, far above any ledger total.
type Money int64

// Nano-dollar multiples, for readable constants.
const (
	NanoUSD  Money = 1
	MicroUSD Money = 1_000
	USD      Money = 1_000_000_000
)

// MoneyDecimals is the number of decimal places Money carries.
const MoneyDecimals = 9

// String formats m as a decimal with nine places, e.g. "0.002500000".
func (m Money) String() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m)
	}
	whole, frac := u/1_000_000_000, u%1_000_000_000
	s := strconv.FormatUint(whole, 10) + "." + fmt.Sprintf("%09d", frac)
	if neg {
		return "-" + s
	}
	return s
}

// MarshalJSON writes m as a JSON number carrying the exact decimal.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number or string decimal without going through float.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseUSD(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseUSD parses a decimal dollar amount ("500", "0.25", "-1.5", "1e-3" is
// refused) into Money exactly; more than nine decimals is an error rather
// than a silent rounding.
func ParseUSD(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("parse usd %q: empty", s)
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("parse usd %q: no digits", s)
	}
	if len(frac) > MoneyDecimals {
		trimmed := strings.TrimRight(frac[MoneyDecimals:], "0")
		if trimmed != "" {
			return 0, fmt.Errorf("parse usd %q: more than %d decimal places", s, MoneyDecimals)
		}
		frac = frac[:MoneyDecimals]
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("parse usd %q: not a decimal number", s)
			}
		}
	}
	var w uint64
	if whole != "" {
		var err error
		w, err = strconv.ParseUint(whole, 10, 64)
		if err != nil || w > 9_000_000_000 {
			return 0, fmt.Errorf("parse usd %q: out of range", s)
		}
	}
	frac += strings.Repeat("0", MoneyDecimals-len(frac))
	f, _ := strconv.ParseUint(frac, 10, 64)
	v := Money(w*1_000_000_000 + f)
	if neg {
		v = -v
	}
	return v, nil
}

// MustUSD is ParseUSD for constants in code and tests; it panics on a bad literal.
func MustUSD(s string) Money {
	m, err := ParseUSD(s)
	if err != nil {
		panic(err)
	}
	return m
}
